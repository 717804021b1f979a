package staging

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/otaflash/otaflash/pkg/release"
	"github.com/otaflash/otaflash/pkg/repl"
)

// maxCommand is the largest command staging sends, in bytes of source. An
// ESP8266 has about 30 KB of free heap, and the raw REPL holds and compiles a
// whole command at once on v1.13.
const maxCommand = 1000

// Progress describes how far staging is.
type Progress struct {
	// File is the path being sent, relative to the app folder.
	File string
	// Index counts files from 1; Files is how many the release has.
	Index, Files int
	// Done and Total count file bytes: sent or found already on the board.
	Done, Total int64
	// FileDone is set once File is verified on the board, and Kept when
	// it was there already and nothing was sent.
	FileDone, Kept bool
}

// StageReport is the account of a staging: what it sent and what it found in place.
type StageReport struct {
	// Resumed reports whether an earlier partial staging of the same
	// version was continued.
	Resumed bool
	// Sent counts files sent over the line, Copied files copied on the
	// board from the installed version because their SHA-256 matched, and
	// Kept files already verified in /next by an earlier run.
	Sent, Copied, Kept int
	// BytesSent counts file bytes written.
	BytesSent int64
	// Removed lists paths in /next that the release does not have.
	Removed []string
}

// boardEntry is a file or folder listed by the on-board _ls helper.
type boardEntry struct {
	dir    bool
	sha256 string
}

// stage writes tree into /next as version and verifies each file. A partial
// /next of the same version is resumed: files whose SHA-256 already matches
// are kept. Anything else in /next is removed first.
func (b *Board) stage(ctx context.Context, st State, tree *release.Tree, version string) (StageReport, error) {
	var rep StageReport
	existing := map[string]boardEntry{}
	if st.NextPresent && st.Staging == version {
		listed, err := b.list(ctx, nextDir)
		if err != nil {
			return rep, err
		}
		existing = listed
		rep.Resumed = true
		b.logf("stage: resuming version %s in /next (%d entries there)", version, len(existing))
	} else {
		b.logf("stage: new /next for version %s", version)
		code := fmt.Sprintf("_rm('/next')\nos.mkdir('/next')\nf=open('/next/.version_on_reboot','w')\ntry:f.write(%s)\nfinally:f.close()", pyStr(version))
		// Run again after a lost response, this removes and writes /next anew.
		if _, err := b.exec(ctx, code); err != nil {
			return rep, fmt.Errorf("creating /next: %w", err)
		}
	}

	removed, err := b.removeExtra(ctx, tree, existing)
	if err != nil {
		return rep, err
	}
	rep.Removed = removed
	if err := b.makeDirs(ctx, tree, existing); err != nil {
		return rep, err
	}

	var pending []int
	for i, f := range tree.Files {
		if e, ok := existing[f.Path]; ok && !e.dir && e.sha256 == shortDigest(f) {
			rep.Kept++
			continue
		}
		pending = append(pending, i)
	}
	sends := pending
	if st.AppPresent {
		copied, rest, err := b.keepInstalled(ctx, tree, pending)
		if err != nil {
			return rep, err
		}
		rep.Copied = copied
		sends = rest
	}
	if err := b.chooseTransfer(ctx); err != nil {
		return rep, err
	}

	total := tree.TotalSize()
	done := total
	for _, i := range sends {
		done -= tree.Files[i].Size
	}
	b.report(Progress{Files: len(tree.Files), Done: done, Total: total})
	batchProgress := Progress{Files: len(tree.Files), Done: done, Total: total}
	rest, err := b.sendBatch(ctx, tree, sends, &batchProgress)
	if err != nil {
		return rep, err
	}
	left := map[int]bool{}
	for _, i := range rest {
		left[i] = true
	}
	for _, i := range sends {
		if left[i] {
			continue
		}
		rep.Sent++
		rep.BytesSent += tree.Files[i].Size
		done += tree.Files[i].Size
	}
	for _, i := range rest {
		f := tree.Files[i]
		progress := Progress{File: f.Path, Index: i + 1, Files: len(tree.Files), Done: done, Total: total}
		if err := b.putFile(ctx, f, progress); err != nil {
			return rep, err
		}
		rep.Sent++
		rep.BytesSent += f.Size
		done += f.Size
		b.report(Progress{File: f.Path, Index: i + 1, Files: len(tree.Files), Done: done, Total: total, FileDone: true})
	}
	return rep, nil
}

// shortDigest is the prefix of a file's SHA-256 that the on-board listing
// prints: 64 bits tell an unchanged file from a changed one, and every file
// written is still verified by its whole digest.
func shortDigest(f release.File) string {
	return hex.EncodeToString(f.SHA256[:8])
}

// keepInstalled copies into /next, on the board, the files of pending that
// the installed version contains at the same path or another one. It
// returns the number copied and the indexes of the files still to send.
// The board finds the files by SHA-256 with _kp (board/keep.py), and the
// host checks the copies with the digest that _kp prints.
func (b *Board) keepInstalled(ctx context.Context, tree *release.Tree, pending []int) (int, []int, error) {
	var rest []int
	var lines []int // indexes of the files offered to the board
	for _, i := range pending {
		if strings.Contains(tree.Files[i].Path, "\n") || len(keepLine(tree, i))+len(keepPrefix(b.appDir()))+8 > maxDefinition {
			rest = append(rest, i) // no _kp command can hold it
			continue
		}
		lines = append(lines, i)
	}
	copied := 0
	for len(lines) > 0 {
		n, cmd, size := keepCommand(tree, lines, b.appDir())
		missing, err := b.keepBatch(ctx, tree, lines[:n], cmd, size)
		if err != nil {
			return copied, nil, err
		}
		copied += n - len(missing)
		rest = append(rest, missing...)
		lines = lines[n:]
	}
	sort.Ints(rest)
	return copied, rest, nil
}

// maxKeepBytes bounds the file bytes that one _kp command may copy, so that
// it ends within a few seconds on a board and its timeout stays near the
// session's.
const maxKeepBytes = 128 << 10

// keepRate is the rate, in bytes per second, at which the host expects _kp
// to copy. Each kept byte is read twice and written once.
// NOTE: an estimate, about a third of the simulated board's modelled flash
// write rate of 60,000 B/s; real ESP8266 figures are to be measured.
const keepRate = 20_000

// keepPrefix is the start of every _kp command: the source and target folders.
func keepPrefix(appDir string) string {
	return fmt.Sprintf("_kp(%s,'%s',", pyStr(appDir), nextDir)
}

// keepLine is file i's line for _kp: 8 hex digits of its SHA-256 and its path.
func keepLine(tree *release.Tree, i int) string {
	f := tree.Files[i]
	return hex.EncodeToString(f.SHA256[:4]) + f.Path
}

// keepCommand returns the length of the longest run at the start of lines
// that fits one _kp command, the command and the run's file bytes. The run
// fits when the command is at most maxDefinition bytes and its files add up
// to maxKeepBytes at most, though a larger file goes alone. Paths that pyStr
// leaves plain go as lines of one triple-quoted string. A run that starts
// with another path goes as a list of escaped strings.
func keepCommand(tree *release.Tree, lines []int, appDir string) (int, string, int64) {
	prefix := keepPrefix(appDir)
	plain := func(i int) bool { return pyStr(keepLine(tree, i)) == "'"+keepLine(tree, i)+"'" }
	var arg strings.Builder
	var size int64
	n := 0
	fits := func(extra int) bool {
		return n == 0 || (len(prefix)+arg.Len()+extra <= maxDefinition && size+tree.Files[lines[n]].Size <= maxKeepBytes)
	}
	if plain(lines[0]) {
		for n < len(lines) && plain(lines[n]) && fits(1+len(keepLine(tree, lines[n]))+len("")) {
			if n > 0 {
				arg.WriteByte('\n')
			}
			arg.WriteString(keepLine(tree, lines[n]))
			size += tree.Files[lines[n]].Size
			n++
		}
		return n, prefix + "'''" + arg.String() + "''')", size
	}
	for n < len(lines) && !plain(lines[n]) && fits(len(pyStr(keepLine(tree, lines[n])))+3) {
		arg.WriteString(pyStr(keepLine(tree, lines[n])))
		arg.WriteByte(',')
		size += tree.Files[lines[n]].Size
		n++
	}
	return n, prefix + "[" + arg.String() + "])", size
}

// keepBatch runs one _kp command for batch, whose files add up to size
// bytes, and returns the files the board did not copy. A reply that does
// not parse was spoiled on the way back, so the command runs again, because
// copying twice leaves the same files. When the digest over the copies
// differs from the release's, it returns the whole batch, which is then sent
// and overwrites the copies.
func (b *Board) keepBatch(ctx context.Context, tree *release.Tree, batch []int, cmd string, size int64) ([]int, error) {
	timeout := b.conn.Timeout() + time.Duration(size)*time.Second/keepRate
	var err error
	for attempt := 1; attempt <= commandAttempts; attempt++ {
		var out string
		if out, err = b.execWithin(ctx, cmd, timeout); err != nil {
			return nil, fmt.Errorf("copying unchanged files from %s to /next: %w", b.appDir(), err)
		}
		var missing []int
		if missing, err = b.keepReply(tree, batch, out); err == nil {
			return missing, nil
		}
		if noisy := b.spoiledOnce(err); noisy != nil {
			return nil, noisy
		}
	}
	return nil, fmt.Errorf("copying unchanged files: %w", err)
}

// keepReply parses _kp's reply for batch and returns the files not copied.
func (b *Board) keepReply(tree *release.Tree, batch []int, out string) ([]int, error) {
	fields := strings.Fields(out)
	if len(fields) == 0 || !strings.HasPrefix(fields[len(fields)-1], "=") {
		return nil, &repl.ProtocolError{Step: "from the on-board copy", Got: []byte(out)}
	}
	unfilled := map[int]bool{}
	for _, field := range fields[:len(fields)-1] {
		k, err := strconv.Atoi(field)
		if err != nil || k < 0 || k >= len(batch) {
			return nil, &repl.ProtocolError{Step: "from the on-board copy", Got: []byte(out)}
		}
		unfilled[k] = true
	}
	sum := sha256.New()
	var missing []int
	for k, i := range batch {
		if unfilled[k] {
			sum.Write(make([]byte, sha256.Size))
			missing = append(missing, i)
			continue
		}
		sum.Write(tree.Files[i].SHA256[:])
	}
	if got, want := strings.TrimPrefix(fields[len(fields)-1], "="), hex.EncodeToString(sum.Sum(nil)[:8]); got != want {
		b.logf("stage: the copies on the board do not match the release (digest %s, expected %s); sending those %d files", got, want, len(batch))
		return batch, nil
	}
	for _, i := range missing {
		b.logf("stage: %s is not on the board; sending it", tree.Files[i].Path)
	}
	return missing, nil
}

func (b *Board) report(p Progress) {
	if b.opts.Progress != nil {
		b.opts.Progress(p)
	}
}

// list returns the files and folders under dir with their SHA-256 digests,
// as paths relative to dir.
func (b *Board) list(ctx context.Context, dir string) (map[string]boardEntry, error) {
	var entries map[string]boardEntry
	var err error
	for attempt := 1; attempt <= commandAttempts; attempt++ {
		if entries, err = b.listOnce(ctx, dir); err == nil || !transient(err) {
			break
		}
	}
	return entries, err
}

func (b *Board) listOnce(ctx context.Context, dir string) (map[string]boardEntry, error) {
	if err := b.need(ctx, groupListing); err != nil {
		return nil, err
	}
	out, err := b.exec(ctx, fmt.Sprintf("_ls(%s)", pyStr(dir)))
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", dir, err)
	}
	entries := map[string]boardEntry{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		fields := strings.Split(sc.Text(), "\t")
		switch {
		case len(fields) == 2 && fields[0] == "d":
			entries[fields[1]] = boardEntry{dir: true}
		case len(fields) == 3 && fields[0] == "f":
			entries[fields[1]] = boardEntry{sha256: fields[2]}
		case sc.Text() == "":
		default:
			return nil, fmt.Errorf("listing %s: %w", dir, &repl.ProtocolError{Step: "in a listing", Got: sc.Bytes()})
		}
	}
	return entries, nil
}

// removeExtra removes what /next holds that the release does not: leftovers
// of another attempt, or a file where the release has a folder and back.
func (b *Board) removeExtra(ctx context.Context, tree *release.Tree, existing map[string]boardEntry) ([]string, error) {
	files := map[string]bool{".version_on_reboot": true}
	for _, f := range tree.Files {
		files[f.Path] = true
	}
	dirs := releaseDirs(tree)
	var extra []string
	for p, e := range existing {
		keep := (e.dir && dirs[p]) || (!e.dir && files[p])
		if !keep {
			extra = append(extra, p)
		}
	}
	sort.Strings(extra)
	var removed []string
	for _, p := range extra {
		if len(removed) > 0 && strings.HasPrefix(p, removed[len(removed)-1]+"/") {
			delete(existing, p)
			continue // inside a folder already removed
		}
		if _, err := b.exec(ctx, fmt.Sprintf("_rm(%s)", pyStr(boardPath(nextDir, p)))); err != nil {
			return removed, fmt.Errorf("removing /next/%s: %w", p, err)
		}
		removed = append(removed, p)
		delete(existing, p)
	}
	return removed, nil
}

// releaseDirs returns every folder that the release's file paths pass through.
func releaseDirs(tree *release.Tree) map[string]bool {
	dirs := map[string]bool{}
	for _, f := range tree.Files {
		for d := path.Dir(f.Path); d != "."; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	return dirs
}

// makeDirs creates the release's folders in /next, parents first, several
// per command.
func (b *Board) makeDirs(ctx context.Context, tree *release.Tree, existing map[string]boardEntry) error {
	var dirs []string
	for d := range releaseDirs(tree) {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs) // a parent sorts before its children
	var batch strings.Builder
	flush := func() error {
		if batch.Len() == 0 {
			return nil
		}
		_, err := b.exec(ctx, batch.String())
		batch.Reset()
		if err != nil {
			return fmt.Errorf("creating folders in /next: %w", err)
		}
		return nil
	}
	for _, d := range dirs {
		if e, ok := existing[d]; ok && e.dir {
			continue
		}
		line := fmt.Sprintf("_mk(%s)\n", pyStr(boardPath(nextDir, d)))
		if batch.Len()+len(line) > maxCommand {
			if err := flush(); err != nil {
				return err
			}
		}
		batch.WriteString(line)
	}
	return flush()
}

// VerifyError is a file whose SHA-256 on the board differs from the release's.
type VerifyError struct {
	Path, Want, Got string
}

func (e *VerifyError) Error() string {
	return fmt.Sprintf("verifying /next/%s: board has sha256 %s, release has %s", e.Path, e.Got, e.Want)
}
