package staging_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/otaflash/otaflash/pkg/release"
	"github.com/otaflash/otaflash/pkg/repl"
	"github.com/otaflash/otaflash/pkg/simboard"
	"github.com/otaflash/otaflash/pkg/simboard/simtest"
	"github.com/otaflash/otaflash/pkg/staging"
)

var firmwares = []string{"1.27", "1.13"}

// rig is a simulated board with a staging session on it.
type rig struct {
	t     *testing.T
	board *simboard.Board
	flash string
	conn  *repl.Conn
	stg   *staging.Board
}

func newRig(t *testing.T, firmware string, opts ...func(*simboard.Options)) *rig {
	t.Helper()
	flash := t.TempDir()
	all := append([]func(*simboard.Options){func(o *simboard.Options) {
		o.FlashDir = flash
		o.Firmware = firmware
	}}, opts...)
	r := &rig{t: t, flash: flash, board: simtest.Start(t, all...)}
	r.connect()
	return r
}

// connect opens a new session, as a new otaflash run does.
func (r *rig) connect() {
	r.t.Helper()
	if r.conn != nil {
		r.conn.Close()
	}
	port, err := repl.OpenSerial(r.board.Port(), 115200)
	if err != nil {
		r.t.Fatalf("OpenSerial: %v", err)
	}
	r.conn = repl.New(port, repl.Options{Timeout: 5 * time.Second})
	r.stg = staging.New(r.conn, staging.Options{})
	r.t.Cleanup(func() { r.conn.Close() })
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// writeTree writes files into a new folder and reads it as a release.
func writeTree(t *testing.T, files map[string][]byte) *release.Tree {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tree, err := release.FromDir(dir)
	if err != nil {
		t.Fatalf("FromDir: %v", err)
	}
	return tree
}

// readFlash returns the files under dir on the board's flash, read on the host.
func readFlash(t *testing.T, flash, dir string) map[string][]byte {
	t.Helper()
	root := filepath.Join(flash, dir)
	files := map[string][]byte{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		body, err := os.ReadFile(p)
		files[filepath.ToSlash(rel)] = body
		return err
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return files
}

func caseFile(t *testing.T, name string) []byte {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("..", "..", "testdata", "cases", name))
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// hardFiles is a release with the inputs that broke other tools: control
// bytes, every byte value, a 40 KB file, quotes, backslashes, spaces and
// non-ASCII letters in names, and sub-folders.
func hardFiles(t *testing.T) map[string][]byte {
	return map[string][]byte{
		"main.py":             []byte("print('app')\r\ns = '\\r\\n'\n"),
		"control_bytes.bin":   caseFile(t, "control_bytes.bin"),
		"every_byte.bin":      caseFile(t, "every_byte.bin"),
		"big_40k.py":          caseFile(t, "big_40k.py"),
		"O'zbek.txt":          caseFile(t, "O'zbek.txt"),
		`a"b.py`:              []byte("x = 1\n"),
		`back\slash.txt`:      []byte("\\\n"),
		"with space.py":       []byte("y = 2\n"),
		"ünïcødé/ñame.py":     []byte("z = 3\n"),
		"lib/deep/er/util.py": []byte("def f():\n    return 4\n"),
		"lib/empty.py":        {},
	}
}

func checkInstalled(t *testing.T, flash string, want map[string][]byte, version string) {
	t.Helper()
	got := readFlash(t, flash, "project")
	if v := string(got[".version"]); v != version {
		t.Errorf("/project/.version = %q, want %q", v, version)
	}
	delete(got, ".version")
	var names []string
	for name := range want {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if body, ok := got[name]; !ok {
			t.Errorf("/project/%s missing", name)
		} else if !bytes.Equal(body, want[name]) {
			t.Errorf("/project/%s differs: %d bytes, want %d", name, len(body), len(want[name]))
		}
		delete(got, name)
	}
	for name := range got {
		t.Errorf("/project/%s present but not in the release", name)
	}
}

func TestUpdateFreshBoard(t *testing.T) {
	t.Parallel()
	for _, fw := range firmwares {
		t.Run("firmware "+fw, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, fw)
			files := hardFiles(t)
			rep, err := r.stg.Update(testContext(t), staging.UpdateRequest{Tree: writeTree(t, files), Version: "1.0.0"})
			if err != nil {
				t.Fatalf("Update: %v", err)
			}
			if rep.Stage.Sent != len(files) {
				t.Errorf("Sent = %d, want %d", rep.Stage.Sent, len(files))
			}
			checkInstalled(t, r.flash, files, "1.0.0")
			if _, err := os.Stat(filepath.Join(r.flash, "next")); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("/next left behind after the swap: %v", err)
			}
			st := r.board.Stats()
			if st.LargestCommand > 1024 {
				t.Errorf("largest command = %d bytes, want at most 1024", st.LargestCommand)
			}
			if st.MemoryErrors != 0 {
				t.Errorf("%d commands ran out of memory", st.MemoryErrors)
			}
			minFree := math.MaxInt
			for _, c := range st.RecentCommands {
				minFree = min(minFree, c.MemFree)
			}
			t.Logf("largest command %d bytes, max gc.mem_alloc %d bytes, least modelled free heap in the last %d commands %d bytes",
				st.LargestCommand, st.MaxMemAlloc, len(st.RecentCommands), minFree)
			if minFree < 10*1024 {
				t.Errorf("modelled free heap fell to %d bytes, want at least 10 KB of the ESP8266's 30 KB left", minFree)
			}
			// Ctrl-C still works after the transfer of control bytes.
			if err := r.conn.EnterRaw(testContext(t)); err != nil {
				t.Errorf("EnterRaw after the update: %v", err)
			}
		})
	}
}

func TestUpdateBase64Transfer(t *testing.T) {
	t.Parallel()
	for _, fw := range firmwares {
		t.Run("firmware "+fw, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, fw)
			r.stg = staging.New(r.conn, staging.Options{Transfer: staging.TransferBase64})
			files := hardFiles(t)
			rep, err := r.stg.Update(testContext(t), staging.UpdateRequest{Tree: writeTree(t, files), Version: "1.0.0"})
			if err != nil {
				t.Fatalf("Update: %v", err)
			}
			if rep.Stage.Sent != len(files) {
				t.Errorf("Sent = %d, want %d", rep.Stage.Sent, len(files))
			}
			checkInstalled(t, r.flash, files, "1.0.0")
			if st := r.board.Stats(); st.LargestCommand > 1024 {
				t.Errorf("largest command = %d bytes, want at most 1024", st.LargestCommand)
			}
		})
	}
}

func TestUpdateFromOlderVersion(t *testing.T) {
	t.Parallel()
	r := newRig(t, "1.27")
	ctx := testContext(t)
	v1 := map[string][]byte{"main.py": []byte("v = 1\n"), "lib/a.py": []byte("a\n"), "gone.py": []byte("old\n")}
	v2 := map[string][]byte{"main.py": []byte("v = 2\n"), "lib/a.py": []byte("a\n"), "lib/new.py": []byte("n\n")}
	if _, err := r.stg.Update(ctx, staging.UpdateRequest{Tree: writeTree(t, v1), Version: "1.0.0"}); err != nil {
		t.Fatalf("Update to 1.0.0: %v", err)
	}
	rep, err := r.stg.Update(ctx, staging.UpdateRequest{Tree: writeTree(t, v2), Version: "1.1.0"})
	if err != nil {
		t.Fatalf("Update to 1.1.0: %v", err)
	}
	if rep.Before.Installed != "1.0.0" {
		t.Errorf("Before.Installed = %q, want 1.0.0", rep.Before.Installed)
	}
	checkInstalled(t, r.flash, v2, "1.1.0")
	if rep.After.Previous != "1.0.0" {
		t.Errorf("After.Previous = %q, want 1.0.0", rep.After.Previous)
	}
	prev := readFlash(t, r.flash, "prev")
	if string(prev["gone.py"]) != "old\n" {
		t.Errorf("/prev should keep version 1.0.0 whole, has %v", prev)
	}
}

func TestUpdateAlreadyUpToDate(t *testing.T) {
	t.Parallel()
	r := newRig(t, "1.27")
	ctx := testContext(t)
	tree := writeTree(t, map[string][]byte{"main.py": []byte("v = 1\n")})
	if _, err := r.stg.Update(ctx, staging.UpdateRequest{Tree: tree, Version: "1.0.0"}); err != nil {
		t.Fatalf("Update: %v", err)
	}
	rep, err := r.stg.Update(ctx, staging.UpdateRequest{Tree: tree, Version: "1.0.0"})
	if err != nil {
		t.Fatalf("second Update: %v", err)
	}
	if !rep.UpToDate {
		t.Errorf("UpToDate = false, want true")
	}
	if rep.Stage.Sent != 0 {
		t.Errorf("Sent = %d, want 0", rep.Stage.Sent)
	}
	rep, err = r.stg.Update(ctx, staging.UpdateRequest{Tree: tree, Version: "1.0.0", Force: true})
	if err != nil {
		t.Fatalf("forced Update: %v", err)
	}
	if rep.UpToDate || rep.Stage.Sent+rep.Stage.Copied != 1 {
		t.Errorf("forced Update: UpToDate = %v, Sent = %d, Copied = %d; want a reinstall", rep.UpToDate, rep.Stage.Sent, rep.Stage.Copied)
	}
}

func TestUpdateRejectsWhenFlashFull(t *testing.T) {
	t.Parallel()
	r := newRig(t, "1.27", func(o *simboard.Options) { o.FlashSize = 64 * 1024 })
	tree := writeTree(t, map[string][]byte{"big.bin": bytes.Repeat([]byte{7}, 100*1024)})
	_, err := r.stg.Update(testContext(t), staging.UpdateRequest{Tree: tree, Version: "1.0.0"})
	if !errors.Is(err, staging.ErrNoSpace) {
		t.Fatalf("Update error = %v, want ErrNoSpace", err)
	}
	if !strings.Contains(err.Error(), "needs") || !strings.Contains(err.Error(), "free") {
		t.Errorf("error %q should give the needed and free sizes", err)
	}
	if _, err := os.Stat(filepath.Join(r.flash, "next")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("/next was created before the space check: %v", err)
	}
}

func TestRevertSwapsBackAndForth(t *testing.T) {
	t.Parallel()
	r := newRig(t, "1.27")
	ctx := testContext(t)
	v1 := map[string][]byte{"main.py": []byte("v = 1\n")}
	v2 := map[string][]byte{"main.py": []byte("v = 2\n"), "extra.py": []byte("e\n")}
	if _, err := r.stg.Revert(ctx); !errors.Is(err, staging.ErrNoPrevious) {
		t.Errorf("Revert on a fresh board = %v, want ErrNoPrevious", err)
	}
	for _, step := range []struct {
		files   map[string][]byte
		version string
	}{{v1, "1.0.0"}, {v2, "2.0.0"}} {
		if _, err := r.stg.Update(ctx, staging.UpdateRequest{Tree: writeTree(t, step.files), Version: step.version}); err != nil {
			t.Fatalf("Update to %s: %v", step.version, err)
		}
	}
	// An app that made its folder the working directory must not stop the swap.
	if _, err := r.conn.Exec(ctx, "import os\nos.chdir('/project')"); err != nil {
		t.Fatal(err)
	}
	st, err := r.stg.Revert(ctx)
	if err != nil {
		t.Fatalf("Revert: %v", err)
	}
	if st.Installed != "1.0.0" || st.Previous != "2.0.0" {
		t.Errorf("after Revert: installed %q, previous %q; want 1.0.0 and 2.0.0", st.Installed, st.Previous)
	}
	checkInstalled(t, r.flash, v1, "1.0.0")
	if _, err := r.stg.Revert(ctx); err != nil {
		t.Fatalf("second Revert: %v", err)
	}
	checkInstalled(t, r.flash, v2, "2.0.0")
}

func TestRevertDebugRestagesVersion(t *testing.T) {
	t.Parallel()
	r := newRig(t, "1.27")
	ctx := testContext(t)
	old := map[string][]byte{"main.py": []byte("v = 0\n")}
	if _, err := r.stg.Update(ctx, staging.UpdateRequest{Tree: writeTree(t, old), Version: "0.9.0"}); err != nil {
		t.Fatalf("Update to 0.9.0: %v", err)
	}
	files := map[string][]byte{"main.py": []byte("v = 1\n")}
	if _, err := r.stg.Update(ctx, staging.UpdateRequest{Tree: writeTree(t, files), Version: "1.0.0"}); err != nil {
		t.Fatalf("Update: %v", err)
	}
	moved, err := r.stg.RevertDebug(ctx)
	if err != nil {
		t.Fatalf("RevertDebug: %v", err)
	}
	if moved != "1.0.0" {
		t.Errorf("RevertDebug moved %q, want 1.0.0", moved)
	}
	body, err := os.ReadFile(filepath.Join(r.flash, "next", ".version_on_reboot"))
	if err != nil || string(body) != "1.0.0" {
		t.Errorf("/next/.version_on_reboot = %q, %v; want 1.0.0", body, err)
	}
	if _, err := os.Stat(filepath.Join(r.flash, "project", ".version")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("/project/.version still present: %v", err)
	}
	// The next update of the same version stages it again.
	rep, err := r.stg.Update(ctx, staging.UpdateRequest{Tree: writeTree(t, files), Version: "1.0.0"})
	if err != nil {
		t.Fatalf("Update after RevertDebug: %v", err)
	}
	if rep.UpToDate {
		t.Errorf("Update after RevertDebug reported up to date")
	}
	checkInstalled(t, r.flash, files, "1.0.0")
	// The version to revert to is still the one before.
	if rep.After.Previous != "0.9.0" {
		t.Errorf("After.Previous = %q, want 0.9.0 kept in /prev", rep.After.Previous)
	}
	if prev := readFlash(t, r.flash, "prev"); string(prev["main.py"]) != "v = 0\n" {
		t.Errorf("/prev/main.py = %q, want version 0.9.0's", prev["main.py"])
	}
}

func TestUpdateResumesAfterPowerCut(t *testing.T) {
	t.Parallel()
	for _, fw := range firmwares {
		t.Run("firmware "+fw, func(t *testing.T) {
			t.Parallel()
			// The board stays off after the cut until the test powers it on,
			// so the first run ends with the update half staged.
			r := newRig(t, fw, func(o *simboard.Options) { o.CutDowntime = -1 })
			ctx := testContext(t)
			files := map[string][]byte{}
			for _, name := range []string{"a.bin", "b.bin", "c.bin", "d.bin", "e.bin", "f.bin"} {
				files[name] = bytes.Repeat([]byte(name[:1]), 3000)
			}
			tree := writeTree(t, files)
			// The first session writes the helper cache; with it in place,
			// the files closed on the board are the release's.
			if _, err := r.stg.Inspect(ctx); err != nil {
				t.Fatal(err)
			}
			// Cut the power once three files have been closed on the board.
			if err := r.board.CutAt("close", 4); err != nil {
				t.Fatal(err)
			}
			_, err := r.stg.Update(ctx, staging.UpdateRequest{Tree: tree, Version: "1.0.0"})
			if err == nil {
				t.Fatalf("Update succeeded on a board without power")
			}
			if got := readFlash(t, r.flash, "project"); len(got) != 0 {
				t.Errorf("/project written before the swap: %d files", len(got))
			}
			if err := r.board.PowerOn(); err != nil {
				t.Fatal(err)
			}
			if err := r.board.WaitBoot(ctx, 2); err != nil {
				t.Fatal(err)
			}
			r.connect()
			rep, err := r.stg.Update(ctx, staging.UpdateRequest{Tree: tree, Version: "1.0.0"})
			if err != nil {
				t.Fatalf("Update after the cut: %v", err)
			}
			if !rep.Stage.Resumed {
				t.Errorf("Stage.Resumed = false, want the staging of 1.0.0 resumed")
			}
			if rep.Stage.Kept < 3 || rep.Stage.Sent > 3 {
				t.Errorf("Stage kept %d and sent %d files; want the 3 verified files kept", rep.Stage.Kept, rep.Stage.Sent)
			}
			checkInstalled(t, r.flash, files, "1.0.0")
		})
	}
}

func TestUpdateRetriesThroughPowerCut(t *testing.T) {
	t.Parallel()
	// The board boots again 100 ms after the cut, while the update runs.
	r := newRig(t, "1.27")
	ctx := testContext(t)
	files := map[string][]byte{"a.bin": bytes.Repeat([]byte("a"), 3000), "b.bin": bytes.Repeat([]byte("b"), 3000)}
	if err := r.board.CutAt("close", 2); err != nil {
		t.Fatal(err)
	}
	if _, err := r.stg.Update(ctx, staging.UpdateRequest{Tree: writeTree(t, files), Version: "1.0.0"}); err != nil {
		t.Fatalf("Update: %v", err)
	}
	if boots := r.board.Stats().Boots; boots < 2 {
		t.Errorf("board booted %d times, want the cut to have happened", boots)
	}
	checkInstalled(t, r.flash, files, "1.0.0")
}

func TestUpdateSendsOnlyChangedFiles(t *testing.T) {
	t.Parallel()
	r := newRig(t, "1.27")
	ctx := testContext(t)
	// 60 files take two _kp commands of under 1 KB.
	v1 := map[string][]byte{}
	for i := 0; i < 60; i++ {
		v1[fmt.Sprintf("lib/mod%02d.py", i)] = bytes.Repeat([]byte(fmt.Sprintf("x%02d = %d\n", i, i)), 300)
	}
	v2 := map[string][]byte{}
	for name, body := range v1 {
		v2[name] = body
	}
	v2["lib/mod00.py"] = []byte("changed = True\n") // changed
	v2["lib/added.py"] = []byte("added = True\n")   // added
	delete(v2, "lib/mod01.py")                      // removed
	v2["lib/renamed.py"] = v1["lib/mod02.py"]       // renamed
	delete(v2, "lib/mod02.py")

	if _, err := r.stg.Update(ctx, staging.UpdateRequest{Tree: writeTree(t, v1), Version: "1.0.0"}); err != nil {
		t.Fatalf("Update to 1.0.0: %v", err)
	}
	full := r.board.Stats().HostToBoard

	// A file edited by hand on the board is found by its hash, not by the version.
	if _, err := r.conn.Exec(ctx, "f = open('/project/lib/mod03.py', 'w')\nf.write('edited by hand')\nf.close()"); err != nil {
		t.Fatalf("editing a file on the board: %v", err)
	}
	rep, err := r.stg.Update(ctx, staging.UpdateRequest{Tree: writeTree(t, v2), Version: "1.1.0"})
	if err != nil {
		t.Fatalf("Update to 1.1.0: %v", err)
	}
	delta := r.board.Stats().HostToBoard - full
	if rep.Stage.Sent != 3 {
		t.Errorf("Sent = %d, want 3 (changed, added, edited by hand)", rep.Stage.Sent)
	}
	if rep.Stage.Copied != 57 {
		t.Errorf("Copied = %d, want 57 (unchanged and renamed)", rep.Stage.Copied)
	}
	checkInstalled(t, r.flash, v2, "1.1.0")
	t.Logf("full install: %d bytes to the board; update of 3 files: %d bytes (%.1f%%)", full, delta, 100*float64(delta)/float64(full))
	if delta*10 > full {
		t.Errorf("delta update sent %d bytes, more than 10%% of the full install's %d", delta, full)
	}
}

func TestProgressReportsEachFile(t *testing.T) {
	t.Parallel()
	r := newRig(t, "1.27")
	var done []staging.Progress
	var last staging.Progress
	r.stg = staging.New(r.conn, staging.Options{Progress: func(p staging.Progress) {
		last = p
		if p.FileDone {
			done = append(done, p)
		}
	}})
	files := map[string][]byte{"a.py": []byte("a\n"), "b.bin": bytes.Repeat([]byte{1}, 700), "lib/c.py": []byte("c\n")}
	tree := writeTree(t, files)
	if _, err := r.stg.Update(testContext(t), staging.UpdateRequest{Tree: tree, Version: "1.0.0"}); err != nil {
		t.Fatalf("Update: %v", err)
	}
	if len(done) != len(files) {
		t.Fatalf("%d files reported done, want %d: %+v", len(done), len(files), done)
	}
	for _, p := range done {
		if p.Index < 1 || p.Index > len(tree.Files) || tree.Files[p.Index-1].Path != p.File {
			t.Errorf("file %q reported as number %d of %d", p.File, p.Index, p.Files)
		}
	}
	if last.Total != tree.TotalSize() {
		t.Errorf("progress total = %d bytes, want %d", last.Total, tree.TotalSize())
	}
	if last.Done != last.Total {
		t.Errorf("last progress %d of %d bytes, want all done", last.Done, last.Total)
	}
}
