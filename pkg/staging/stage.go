package staging

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"

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
		code := fmt.Sprintf("_rm('/next')\nos.mkdir('/next')\nf=open('/next/.version_on_reboot','w')\nf.write(%s)\nf.close()", pyStr(version))
		// Run again after a lost response, this removes and writes /next anew.
		if _, err := b.exec(ctx, code); err != nil {
			return rep, fmt.Errorf("creating /next: %w", err)
		}
	}

	// Installed files by SHA-256, so that unchanged and renamed files are
	// copied on the board instead of sent.
	installed := map[string]string{} // short digest to path
	if st.AppPresent {
		listed, err := b.list(ctx, b.appDir())
		if err != nil {
			return rep, err
		}
		for p, e := range listed {
			if !e.dir {
				installed[e.sha256] = p
			}
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

	var copies []copyItem
	var sends []int
	for i, f := range tree.Files {
		digest := shortDigest(f)
		if e, ok := existing[f.Path]; ok && !e.dir && e.sha256 == digest {
			rep.Kept++
			continue
		}
		if src, ok := installed[digest]; ok {
			copies = append(copies, copyItem{index: i, src: src})
			continue
		}
		sends = append(sends, i)
	}

	failed, err := b.copyFiles(ctx, tree, copies)
	if err != nil {
		return rep, err
	}
	rep.Copied = len(copies) - len(failed)
	sends = append(sends, failed...)
	sort.Ints(sends)

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
	for _, i := range sends[:len(sends)-len(rest)] {
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

// copyItem is a release file (by index) that the installed version has at src.
type copyItem struct {
	index int
	src   string
}

// copyFiles copies unchanged files from the installed version into /next on
// the board, several per command, and returns the indexes of the files whose
// copy failed its check, to be sent instead.
func (b *Board) copyFiles(ctx context.Context, tree *release.Tree, items []copyItem) ([]int, error) {
	var failed []int
	for len(items) > 0 {
		prefix := fmt.Sprintf("_cpl(%s,'/next',[", pyStr(b.appDir()))
		var list strings.Builder
		n := 0
		for n < len(items) {
			entry := copyEntry(tree.Files[items[n].index].Path, items[n].src)
			if n > 0 && len(prefix)+list.Len()+len(entry)+3 > maxDefinition {
				break
			}
			list.WriteString(entry)
			list.WriteByte(',')
			n++
		}
		out, err := b.exec(ctx, prefix+list.String()+"])")
		if err != nil {
			return nil, fmt.Errorf("copying unchanged files from %s to /next: %w", b.appDir(), err)
		}
		for _, field := range strings.Fields(out) {
			k, err := strconv.Atoi(field)
			if err != nil || k < 0 || k >= n {
				return nil, fmt.Errorf("copying unchanged files: unexpected output %q", out)
			}
			b.logf("stage: the copy of %s failed its check; sending it", tree.Files[items[k].index].Path)
			failed = append(failed, items[k].index)
		}
		items = items[n:]
	}
	return failed, nil
}

// copyEntry is one element of _cpl's list: the name, or a (source, target)
// pair for a file that moved.
func copyEntry(target, src string) string {
	if target == src {
		return pyStr(target)
	}
	return "(" + pyStr(src) + "," + pyStr(target) + ")"
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
