package staging_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/otaflash/otaflash/pkg/repl"
	"github.com/otaflash/otaflash/pkg/simboard"
	"github.com/otaflash/otaflash/pkg/simboard/simtest"
	"github.com/otaflash/otaflash/pkg/staging"
)

// The power-cut sweeps cut the board's power at points spread over an update
// or a revert and boot the board again, so that boot.py runs the recovery.
// They check that the app folder then holds one whole version and that the
// next run finishes the job. OTAFLASH_SWEEP=full runs every point, and the
// default run tries a subset.

const (
	// sweepEnv selects the full sweep when set to "full".
	sweepEnv = "OTAFLASH_SWEEP"
	// sweepBoards is how many boards each firmware profile runs at once.
	sweepBoards = 2
	// sweepRunTimeout bounds one Update or Revert of the sweep's small app.
	sweepRunTimeout = time.Minute
)

// fullSweep reports whether OTAFLASH_SWEEP=full requests every cut point
// and more runs on a faulty line. The -short flag overrides it.
func fullSweep() bool {
	return os.Getenv(sweepEnv) == "full" && !testing.Short()
}

// sweepOffsets returns how many host-byte offsets a sweep tries: full when
// fullSweep and short otherwise.
func sweepOffsets(full, short int) int {
	if fullSweep() {
		return full
	}
	return short
}

// appVersion is one release of the sweep's app.
type appVersion struct {
	version string
	files   map[string][]byte
}

// onFlash returns the files the app folder holds once the version is installed.
func (v appVersion) onFlash() map[string][]byte {
	all := map[string][]byte{".version": []byte(v.version)}
	for name, body := range v.files {
		all[name] = body
	}
	return all
}

func (v appVersion) request(t *testing.T) staging.UpdateRequest {
	return staging.UpdateRequest{Tree: writeTree(t, v.files), Version: v.version}
}

// pyModule returns n bytes of Python source that differ for each name.
func pyModule(name string, n int) []byte {
	var sb strings.Builder
	for i := 0; sb.Len() < n; i++ {
		fmt.Fprintf(&sb, "def %s_%d(x):\n    return x * %d + %d\n\n", name, i, i, len(name))
	}
	return []byte(sb.String()[:n])
}

// randomBytes returns n seeded random bytes, every byte value included.
func randomBytes(seed uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, 0))
	out := make([]byte, n)
	for i := range out {
		out[i] = byte(rng.UintN(256))
	}
	return out
}

// sweepVersions returns three versions of a small app: six files, about
// 7.5 KB, in the app folder and in lib/. B changes, adds, keeps and removes
// files of A, and C does the same to B.
func sweepVersions() (a, b, c appVersion) {
	a = appVersion{version: "1.0.0", files: map[string][]byte{
		"main.py":     pyModule("main_a", 1200),
		"app.py":      pyModule("app", 1500),
		"config.json": []byte(`{"interval": 60, "url": "http://example.invalid/api", "retries": 3}` + "\n"),
		"lib/util.py": pyModule("util_a", 2000),
		"lib/net.py":  pyModule("net", 1500),
		"logo.bin":    randomBytes(1, 1024),
	}}
	b = appVersion{version: "1.1.0", files: map[string][]byte{
		"main.py":      pyModule("main_b", 1300),
		"app.py":       a.files["app.py"],
		"lib/util.py":  pyModule("util_b", 2100),
		"lib/net.py":   a.files["lib/net.py"],
		"lib/extra.py": pyModule("extra_b", 900),
		"logo.bin":     a.files["logo.bin"],
	}}
	c = appVersion{version: "1.2.0", files: map[string][]byte{
		"main.py":      pyModule("main_c", 1250),
		"app.py":       a.files["app.py"],
		"lib/util.py":  b.files["lib/util.py"],
		"lib/extra.py": pyModule("extra_c", 1000),
		"logo.bin":     randomBytes(2, 1024),
		"notes.txt":    []byte("release notes of 1.2.0\n"),
	}}
	return a, b, c
}

// diffFiles lists how got differs from want, one line per file.
func diffFiles(got, want map[string][]byte) []string {
	var diffs []string
	for name, body := range want {
		g, ok := got[name]
		switch {
		case !ok:
			diffs = append(diffs, name+" missing")
		case !bytes.Equal(g, body):
			diffs = append(diffs, fmt.Sprintf("%s differs: %d bytes, want %d", name, len(g), len(body)))
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			diffs = append(diffs, name+" present but not in the version")
		}
	}
	sort.Strings(diffs)
	return diffs
}

// matchVersion returns the version whose files the board's folder dir
// holds exactly, or "" when it holds none of them.
func matchVersion(t *testing.T, flash, dir string, versions ...appVersion) string {
	t.Helper()
	got := readFlash(t, flash, dir)
	for _, v := range versions {
		if len(diffFiles(got, v.onFlash())) == 0 {
			return v.version
		}
	}
	return ""
}

// checkFolder fails the test for each way the board's folder dir differs
// from version v.
func checkFolder(t *testing.T, flash, dir string, v appVersion) {
	t.Helper()
	for _, d := range diffFiles(readFlash(t, flash, dir), v.onFlash()) {
		t.Errorf("/%s is not version %s: %s", dir, v.version, d)
	}
}

// describeFolder summarises a board folder for failure messages.
func describeFolder(t *testing.T, flash, dir string) string {
	t.Helper()
	got := readFlash(t, flash, dir)
	if len(got) == 0 {
		return "empty or missing"
	}
	var names []string
	for name, body := range got {
		names = append(names, fmt.Sprintf("%s (%d bytes)", name, len(body)))
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func exists(t *testing.T, p string) bool {
	t.Helper()
	_, err := os.Stat(p)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return err == nil
}

// copyDir copies the folder src into dst, which must exist.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil || rel == "." {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.Mkdir(target, 0o755)
		}
		body, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, body, 0o644)
	})
	if err != nil {
		t.Fatalf("copying %s to %s: %v", src, dst, err)
	}
}

// sweepBoard is a simulated board that stays off after an armed cut until
// the test powers it on, so that a sweep can restore a flash snapshot
// before each cut point.
type sweepBoard struct {
	board *simboard.Board
	flash string
}

func startSweepBoard(t *testing.T, firmware string, seed int64) *sweepBoard {
	t.Helper()
	flash := t.TempDir()
	board := simtest.Start(t, func(o *simboard.Options) {
		o.FlashDir = flash
		o.Firmware = firmware
		o.CutDowntime = -1
		o.Seed = seed
	})
	return &sweepBoard{board: board, flash: flash}
}

// session opens a new raw REPL session, as a new otaflash run does. The
// session closes at the end of t.
func (sb *sweepBoard) session(t *testing.T, opts staging.Options) (*staging.Board, *repl.Conn) {
	t.Helper()
	port, err := repl.OpenSerial(sb.board.Port(), 115200)
	if err != nil {
		t.Fatalf("OpenSerial: %v", err)
	}
	conn := repl.New(port, repl.Options{Timeout: 5 * time.Second})
	t.Cleanup(func() { conn.Close() })
	return staging.New(conn, opts), conn
}

// powerOn powers the board on and waits until boot.py has run.
func (sb *sweepBoard) powerOn(t *testing.T, ctx context.Context) {
	t.Helper()
	boots := sb.board.Stats().Boots
	if err := sb.board.PowerOn(); err != nil {
		t.Fatal(err)
	}
	if err := sb.board.WaitBoot(ctx, boots+1); err != nil {
		t.Fatal(err)
	}
}

// powerOff cuts the power of an idle or unpowered board.
func (sb *sweepBoard) powerOff(t *testing.T) {
	t.Helper()
	if err := sb.board.PowerOff(); err != nil {
		t.Fatal(err)
	}
}

// snapshot copies the flash of the board, which must be off, into a new folder.
func (sb *sweepBoard) snapshot(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	copyDir(t, sb.flash, dir)
	return dir
}

// restore powers the board off, replaces its flash with a snapshot and boots it.
func (sb *sweepBoard) restore(t *testing.T, ctx context.Context, snapshot string) {
	t.Helper()
	sb.powerOff(t)
	entries, err := os.ReadDir(sb.flash)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(sb.flash, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	copyDir(t, snapshot, sb.flash)
	sb.powerOn(t, ctx)
}

// cutRun arms a cut, runs one update or revert in a new session and
// reports whether the power was cut. The run is cancelled as soon as the
// board loses power, because a host whose board went away only times out.
// A board that lost power stays off.
func (sb *sweepBoard) cutRun(t *testing.T, ctx context.Context, arm func(*simboard.Board) error, run func(context.Context, *staging.Board) error) (cut bool, err error) {
	t.Helper()
	stg, conn := sb.session(t, staging.Options{})
	defer conn.Close()
	cutsBefore := sb.board.Stats().PowerCuts
	runCtx, cancel := context.WithTimeout(ctx, sweepRunTimeout)
	defer cancel()
	go func() {
		cutFired := func(s simboard.Stats) bool { return s.PowerCuts > cutsBefore }
		if sb.board.Wait(runCtx, cutFired) == nil {
			cancel()
		}
	}()
	if err := arm(sb.board); err != nil {
		t.Fatal(err)
	}

	err = run(runCtx, stg)
	cancel()
	sb.board.CutAfterHostBytes(0)
	if derr := sb.board.CutAt("", 0); derr != nil {
		t.Fatal(derr)
	}
	cut = sb.board.Stats().PowerCuts > cutsBefore
	if !cut && errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("run without a power cut did not finish within %v: %v", sweepRunTimeout, err)
	}
	return cut, err
}

// cutPoint is one place where a sweep cuts the power.
type cutPoint struct {
	name string
	arm  func(*simboard.Board) error
	// mustCut means the cut has to fire: event cuts are counted to fit.
	mustCut bool
}

func hostByteCuts(total int64, n int) []cutPoint {
	var points []cutPoint
	for i := range n {
		offset := 1 + int64(i)*(total-1)/int64(max(n-1, 1))
		points = append(points, cutPoint{
			name: fmt.Sprintf("host byte %d of %d", offset, total),
			arm: func(b *simboard.Board) error {
				b.CutAfterHostBytes(offset)
				return nil
			},
		})
	}
	return points
}

func eventCuts(event string, count int) []cutPoint {
	var points []cutPoint
	for k := 1; k <= count; k++ {
		points = append(points, cutPoint{
			name:    fmt.Sprintf("%s %d of %d", event, k, count),
			arm:     func(b *simboard.Board) error { return b.CutAt(event, k) },
			mustCut: true,
		})
	}
	return points
}

// sweepTally counts the outcomes of a sweep's cut points.
type sweepTally struct {
	mu       sync.Mutex
	tried    int
	notCut   int
	ended    map[string]int
	failures int
}

func (s *sweepTally) add(ended string, cut, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tried++
	if !cut {
		s.notCut++
	}
	if !ok {
		s.failures++
		return
	}
	if s.ended == nil {
		s.ended = map[string]int{}
	}
	s.ended[ended]++
}

func (s *sweepTally) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var versions []string
	for v := range s.ended {
		versions = append(versions, v)
	}
	sort.Strings(versions)
	var ended []string
	for _, v := range versions {
		ended = append(ended, fmt.Sprintf("ended on %s: %d", v, s.ended[v]))
	}
	return fmt.Sprintf("points tried: %d (power not cut: %d), %s, failures: %d", s.tried, s.notCut, strings.Join(ended, ", "), s.failures)
}

// pointResult is what a cut point's check returns to the tally.
type pointResult struct {
	ended string
	cut   bool
}

// runSweep runs each point as a subtest on one of the boards, the boards
// working in parallel, and returns the tally.
func runSweep(t *testing.T, boards []*sweepBoard, points []cutPoint, check func(*testing.T, *sweepBoard, cutPoint) pointResult) *sweepTally {
	tally := &sweepTally{}
	queue := make(chan cutPoint, len(points))
	for _, p := range points {
		queue <- p
	}
	close(queue)
	var wg sync.WaitGroup
	for _, sb := range boards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range queue {
				var res pointResult
				ok := t.Run(p.name, func(t *testing.T) {
					res = check(t, sb, p)
					if p.mustCut && !res.cut {
						t.Errorf("the armed cut never fired: the run has fewer events than the sweep expects")
					}
				})
				tally.add(res.ended, res.cut, ok)
			}
		}()
	}
	wg.Wait()
	return tally
}

// sweepSetup is the state every cut point of one firmware profile starts from.
type sweepSetup struct {
	boards []*sweepBoard
	a, b   appVersion
	// withA is a flash with the recovery and A installed. withB has B
	// installed over it, so that /prev contains A.
	withA, withB string
	// updateBytes and revertBytes are the host bytes of a whole update A->B
	// and of a revert from withB.
	updateBytes, revertBytes int64
}

// setUpSweep starts the boards of one firmware profile, installs the
// recovery and A, measures an update to B and a revert, and takes the
// snapshots the cut points start from.
func setUpSweep(t *testing.T, firmware string) *sweepSetup {
	t.Helper()
	ctx := testContext(t)
	a, b, _ := sweepVersions()
	s := &sweepSetup{a: a, b: b}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range sweepBoards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sb := startSweepBoard(t, firmware, int64(i+1))
			mu.Lock()
			s.boards = append(s.boards, sb)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(s.boards) != sweepBoards {
		t.FailNow()
	}
	sb := s.boards[0]

	stg, conn := sb.session(t, staging.Options{})
	if err := stg.InstallRecovery(ctx); err != nil {
		t.Fatalf("InstallRecovery: %v", err)
	}
	if _, err := stg.Update(ctx, a.request(t)); err != nil {
		t.Fatalf("Update to %s: %v", a.version, err)
	}
	conn.Close()
	sb.powerOff(t)
	s.withA = sb.snapshot(t)

	sb.powerOn(t, ctx)
	stg, conn = sb.session(t, staging.Options{})
	before := sb.board.Stats().HostToBoard
	if _, err := stg.Update(ctx, b.request(t)); err != nil {
		t.Fatalf("Update to %s: %v", b.version, err)
	}
	s.updateBytes = sb.board.Stats().HostToBoard - before
	conn.Close()
	checkFolder(t, sb.flash, "project", b)
	checkFolder(t, sb.flash, "prev", a)
	sb.powerOff(t)
	s.withB = sb.snapshot(t)

	sb.powerOn(t, ctx)
	stg, conn = sb.session(t, staging.Options{})
	before = sb.board.Stats().HostToBoard
	if _, err := stg.Revert(ctx); err != nil {
		t.Fatalf("Revert: %v", err)
	}
	s.revertBytes = sb.board.Stats().HostToBoard - before
	conn.Close()
	checkFolder(t, sb.flash, "project", a)
	checkFolder(t, sb.flash, "prev", b)
	t.Logf("firmware %s: update %s->%s sends %d host bytes, revert %d", firmware, a.version, b.version, s.updateBytes, s.revertBytes)
	return s
}

// stagedState is what a second run should find in /next after a cut.
type stagedState struct {
	// partial reports a /next/.version_on_reboot naming the target version.
	partial bool
	// verified counts the target's files that /next already holds whole.
	verified int
}

func readStaged(t *testing.T, flash string, target appVersion) stagedState {
	t.Helper()
	next := readFlash(t, flash, "next")
	st := stagedState{partial: string(next[".version_on_reboot"]) == target.version}
	for name, body := range target.files {
		if got, ok := next[name]; ok && bytes.Equal(got, body) {
			st.verified++
		}
	}
	return st
}

// checkUpdateCut runs one cut point of an update from the snapshot from
// (installed version old) to target, then a second update, and checks the
// flash after each. prev is the version /prev must hold at the end.
func checkUpdateCut(t *testing.T, sb *sweepBoard, p cutPoint, from string, old, target, prev appVersion) pointResult {
	ctx := testContext(t)
	sb.restore(t, ctx, from)
	cut, firstErr := sb.cutRun(t, ctx, p.arm, func(ctx context.Context, stg *staging.Board) error {
		_, err := stg.Update(ctx, target.request(t))
		return err
	})
	if !cut && firstErr != nil {
		t.Errorf("Update to %s failed without a power cut (%d bytes lost to UART overruns so far): %v",
			target.version, sb.board.Stats().Overrun, firstErr)
	}
	if cut {
		sb.powerOn(t, ctx)
	}

	// The boot-time recovery leaves one whole version in the app folder.
	ended := matchVersion(t, sb.flash, "project", old, target)
	if ended == "" {
		t.Fatalf("after the cut and a boot /project is neither %s nor %s: %s; /next: %s; /prev: %s",
			old.version, target.version, describeFolder(t, sb.flash, "project"),
			describeFolder(t, sb.flash, "next"), describeFolder(t, sb.flash, "prev"))
	}
	staged := readStaged(t, sb.flash, target)

	stg, _ := sb.session(t, staging.Options{})
	rep, err := stg.Update(ctx, target.request(t))
	if err != nil {
		t.Fatalf("second Update to %s after the cut: %v", target.version, err)
	}
	if ended == target.version && !rep.UpToDate {
		t.Errorf("second Update: UpToDate = false with %s already in /project (Recovered %q)", target.version, rep.Recovered)
	}
	if staged.partial && !rep.Stage.Resumed {
		t.Errorf("second Update: Stage.Resumed = false with a partial staging of %s in /next", target.version)
	}
	if staged.partial && rep.Stage.Kept != staged.verified {
		t.Errorf("second Update: Stage.Kept = %d, want the %d files already whole in /next (Sent %d, Copied %d)",
			rep.Stage.Kept, staged.verified, rep.Stage.Sent, rep.Stage.Copied)
	}
	if !rep.UpToDate {
		if n := rep.Stage.Kept + rep.Stage.Sent + rep.Stage.Copied; n != len(target.files) {
			t.Errorf("second Update staged %d files (kept %d, sent %d, copied %d), want %d",
				n, rep.Stage.Kept, rep.Stage.Sent, rep.Stage.Copied, len(target.files))
		}
	}

	checkFolder(t, sb.flash, "project", target)
	checkFolder(t, sb.flash, "prev", prev)
	if exists(t, filepath.Join(sb.flash, "next")) {
		t.Errorf("/next left after the second Update: %s", describeFolder(t, sb.flash, "next"))
	}
	return pointResult{ended: ended, cut: cut}
}

// checkRevertCut runs one cut point of a revert from the snapshot withB
// (B installed, A in /prev), then finishes the revert, and checks the flash.
func checkRevertCut(t *testing.T, sb *sweepBoard, p cutPoint, s *sweepSetup) pointResult {
	ctx := testContext(t)
	sb.restore(t, ctx, s.withB)
	cut, firstErr := sb.cutRun(t, ctx, p.arm, func(ctx context.Context, stg *staging.Board) error {
		_, err := stg.Revert(ctx)
		return err
	})
	if !cut && firstErr != nil {
		t.Errorf("Revert failed without a power cut (%d bytes lost to UART overruns so far): %v",
			sb.board.Stats().Overrun, firstErr)
	}
	if cut {
		sb.powerOn(t, ctx)
	}

	ended := matchVersion(t, sb.flash, "project", s.a, s.b)
	if ended == "" {
		t.Fatalf("after the cut and a boot /project is neither %s nor %s: %s; /next: %s; /prev: %s",
			s.a.version, s.b.version, describeFolder(t, sb.flash, "project"),
			describeFolder(t, sb.flash, "next"), describeFolder(t, sb.flash, "prev"))
	}

	// A revert still to do is run again; a finished one leaves A installed,
	// which an update to A confirms without writing.
	stg, _ := sb.session(t, staging.Options{})
	if ended == s.b.version {
		st, err := stg.Revert(ctx)
		if err != nil {
			t.Fatalf("second Revert after the cut: %v", err)
		}
		if st.Installed != s.a.version {
			t.Errorf("second Revert: installed %q, want %s", st.Installed, s.a.version)
		}
	} else {
		rep, err := stg.Update(ctx, s.a.request(t))
		if err != nil {
			t.Fatalf("Update to %s after the cut revert: %v", s.a.version, err)
		}
		if !rep.UpToDate {
			t.Errorf("Update to %s after the cut revert: UpToDate = false, want true", s.a.version)
		}
	}

	checkFolder(t, sb.flash, "project", s.a)
	checkFolder(t, sb.flash, "prev", s.b)
	if exists(t, filepath.Join(sb.flash, "next")) {
		t.Errorf("/next left after the revert: %s", describeFolder(t, sb.flash, "next"))
	}
	return pointResult{ended: ended, cut: cut}
}

// fileCount returns how many files and folders a version's app folder has,
// counting .version and the folder itself.
func fileCount(v appVersion) (files, dirs int) {
	seen := map[string]bool{}
	for name := range v.files {
		for d := filepath.Dir(name); d != "."; d = filepath.Dir(d) {
			seen[d] = true
		}
	}
	return len(v.files) + 1, len(seen) + 1
}

func TestPowerCutSweep(t *testing.T) {
	t.Parallel()
	for _, fw := range firmwares {
		t.Run("firmware "+fw, func(t *testing.T) {
			t.Parallel()
			s := setUpSweep(t, fw)
			a, b, c := sweepVersions()

			// An update A->B: cuts at spread host bytes, after /next is
			// created, and after each rename of the commit and the swap.
			var points []cutPoint
			points = append(points, hostByteCuts(s.updateBytes, sweepOffsets(60, 12))...)
			points = append(points, eventCuts("mkdir", 1)...)
			points = append(points, eventCuts("rename", 3)...)
			tally := runSweep(t, s.boards, points, func(t *testing.T, sb *sweepBoard, p cutPoint) pointResult {
				return checkUpdateCut(t, sb, p, s.withA, a, b, a)
			})
			t.Logf("firmware %s, update %s->%s: %v", fw, a.version, b.version, tally)

			// An update B->C with A in /prev: cuts at each remove and rmdir
			// while the swap removes /prev.
			files, dirs := fileCount(a)
			points = append(eventCuts("remove", files), eventCuts("rmdir", dirs)...)
			tally = runSweep(t, s.boards, points, func(t *testing.T, sb *sweepBoard, p cutPoint) pointResult {
				return checkUpdateCut(t, sb, p, s.withB, b, c, b)
			})
			t.Logf("firmware %s, update %s->%s removing /prev: %v", fw, b.version, c.version, tally)
		})
	}
}

func TestPowerCutSweepRevert(t *testing.T) {
	t.Parallel()
	for _, fw := range firmwares {
		t.Run("firmware "+fw, func(t *testing.T) {
			t.Parallel()
			s := setUpSweep(t, fw)
			var points []cutPoint
			points = append(points, hostByteCuts(s.revertBytes, sweepOffsets(30, 6))...)
			points = append(points, eventCuts("rename", 3)...)
			tally := runSweep(t, s.boards, points, func(t *testing.T, sb *sweepBoard, p cutPoint) pointResult {
				return checkRevertCut(t, sb, p, s)
			})
			t.Logf("firmware %s, revert %s->%s: %v", fw, s.b.version, s.a.version, tally)
		})
	}
}
