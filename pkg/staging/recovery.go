package staging

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
)

// Boot-time recovery: a module on the flash and a guarded block in boot.py
// that runs it, so that a board which lost power during a swap finishes or
// rolls it back before main.py starts, with no host attached.
const (
	recoveryModule = "/otaflash_recover.py"
	bootFile       = "/boot.py"
	bootBegin      = "# otaflash recovery: begin (managed by otaflash install-recovery)"
	bootEnd        = "# otaflash recovery: end"
)

// bootBlock is the guarded block that boot.py gets. It keeps going when the
// module is missing or fails, so a broken recovery never stops the board
// from booting.
func bootBlock(appDir string) string {
	return bootBegin + "\n" +
		"try:\n" +
		"    import otaflash_recover\n" +
		"    otaflash_recover.run(" + pyStr(appDir) + ")\n" +
		"    del otaflash_recover\n" +
		"except Exception as e:\n" +
		"    print('otaflash recovery failed:', e)\n" +
		bootEnd + "\n"
}

// withoutBootBlock returns boot.py's text with the guarded block removed and
// every other line kept as it was.
func withoutBootBlock(text string) string {
	var kept []string
	inside := false
	for _, line := range strings.SplitAfter(text, "\n") {
		trimmed := strings.TrimRight(line, "\r\n")
		switch {
		case trimmed == bootBegin:
			inside = true
		case inside && trimmed == bootEnd:
			inside = false
		case !inside:
			kept = append(kept, line)
		}
	}
	return strings.Join(kept, "")
}

// RecoveryInstalled reports whether boot.py runs the recovery module.
func (b *Board) RecoveryInstalled(ctx context.Context) (bool, error) {
	text, err := b.readText(ctx, bootFile)
	if err != nil {
		return false, err
	}
	present, err := b.exec(ctx, fmt.Sprintf("print(_st(%s)!=0)", pyStr(recoveryModule)))
	if err != nil {
		return false, err
	}
	return strings.Contains(text, bootBegin) && strings.TrimSpace(present) == "True", nil
}

// InstallRecovery writes the recovery module and adds the guarded block to
// boot.py, keeping the user's own lines. Running it again changes nothing.
func (b *Board) InstallRecovery(ctx context.Context) error {
	if err := b.writeText(ctx, recoveryModule, recoverSource); err != nil {
		return err
	}
	text, err := b.readText(ctx, bootFile)
	if err != nil {
		return err
	}
	rest := withoutBootBlock(text)
	if rest != "" && !strings.HasSuffix(rest, "\n") {
		rest += "\n"
	}
	// The block goes first so that it runs before the user's own boot code,
	// which may import the app.
	updated := bootBlock(b.appDir()) + rest
	if updated == text {
		return nil
	}
	return b.writeText(ctx, bootFile, updated)
}

// UninstallRecovery removes the guarded block from boot.py and the module.
func (b *Board) UninstallRecovery(ctx context.Context) error {
	text, err := b.readText(ctx, bootFile)
	if err != nil {
		return err
	}
	if rest := withoutBootBlock(text); rest != text {
		if err := b.writeText(ctx, bootFile, rest); err != nil {
			return err
		}
	}
	if _, err := b.exec(ctx, fmt.Sprintf("_rm(%s)", pyStr(recoveryModule))); err != nil {
		return fmt.Errorf("removing %s: %w", recoveryModule, err)
	}
	return nil
}

// readText returns a small text file's content, or "" when it does not exist.
func (b *Board) readText(ctx context.Context, path string) (string, error) {
	code := fmt.Sprintf("p=%s\nif _st(p):\n f=open(p,'rb')\n while 1:\n  d=f.read(192)\n  if not d:break\n  print(_b.b2a_base64(d).decode().strip())\n f.close()", pyStr(path))
	out, err := b.exec(ctx, code)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	var sb strings.Builder
	for _, line := range strings.Fields(out) {
		data, err := base64.StdEncoding.DecodeString(line)
		if err != nil {
			return "", fmt.Errorf("reading %s: invalid base64 line %q: %w", path, line, err)
		}
		sb.Write(data)
	}
	return sb.String(), nil
}

// writeText replaces a small file: it writes path+".new", then renames it
// over path. littlefs renames over an existing file in one step; FAT
// refuses, and then the old file is removed first, which leaves a moment in
// which path is missing.
func (b *Board) writeText(ctx context.Context, path, text string) error {
	tmp := path + ".new"
	var err error
	for attempt := 1; attempt <= fileAttempts; attempt++ {
		if err = b.writeTemp(ctx, tmp, text); err == nil || fatal(err) {
			break
		}
	}
	if err != nil {
		return err
	}
	// Guarded by the temporary file's presence, so that running it again
	// after a lost response does not remove the file it just replaced.
	code := fmt.Sprintf("t=%s\np=%s\nif _st(t):\n try:\n  os.rename(t,p)\n except OSError:\n  _rm(p)\n  os.rename(t,p)", pyStr(tmp), pyStr(path))
	if _, err := b.exec(ctx, code); err != nil {
		return fmt.Errorf("replacing %s: %w", path, err)
	}
	return nil
}

// writeTemp writes text to tmp and checks its SHA-256 on the board.
func (b *Board) writeTemp(ctx context.Context, tmp, text string) error {
	if err := b.need(ctx, groupBase64); err != nil {
		return err
	}
	if _, err := b.execOnce(ctx, fmt.Sprintf("_op(%s)", pyStr(tmp)), b.conn.Timeout()); err != nil {
		return fmt.Errorf("writing %s: %w", tmp, err)
	}
	for data := []byte(text); len(data) > 0; {
		n := min(len(data), 720)
		if _, err := b.execData(ctx, "_wr('"+base64.StdEncoding.EncodeToString(data[:n])+"')"); err != nil {
			return fmt.Errorf("writing %s: %w", tmp, err)
		}
		data = data[n:]
	}
	out, err := b.execOnce(ctx, fmt.Sprintf("_cl(%s)", pyStr(tmp)), b.conn.Timeout())
	if err != nil {
		return fmt.Errorf("writing %s: %w", tmp, err)
	}
	sum := sha256.Sum256([]byte(text))
	if got := strings.TrimSpace(out); got != hex.EncodeToString(sum[:]) {
		return &VerifyError{Path: tmp, Want: hex.EncodeToString(sum[:]), Got: got}
	}
	return nil
}
