package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/otaflash/otaflash/pkg/simboard"
)

const (
	// bootTimeout bounds the wait for a simulated board's first boot.
	bootTimeout = 30 * time.Second
	// runTimeout bounds one otaflash run.
	runTimeout = 5 * time.Minute
	// settleInterval is how long the board's counters must stay unchanged
	// after otaflash exits before they are read, because the board reports
	// its last command through a pipe that may lag the wire.
	settleInterval = 100 * time.Millisecond
	// settleTimeout bounds the wait for the counters to settle.
	settleTimeout = 3 * time.Second
)

// runKind names the two runs of each profile and mode.
type runKind string

const (
	fullInstall runKind = "full install"
	oneChanged  runKind = "1 file changed"
)

// runSpec is one otaflash update to measure.
type runSpec struct {
	kind     runKind
	profile  string // firmware profile of the simulated board
	mode     string // otaflash --transfer
	flashDir string // the board's file system, kept between the two runs
	source   string // release folder
	version  string
	payload  int64  // bytes the run must deliver
	wantSent int    // files otaflash must report as sent
	trace    bool   // pass -v to otaflash
	logPath  string // file for otaflash's stdout and stderr
}

// measurement is the cost of one otaflash run: time, wire bytes, board maxima and rusage.
type measurement struct {
	spec                     runSpec
	wall                     time.Duration
	hostToBoard, boardToHost int64
	commands                 int
	largestCommand           int
	maxMemAlloc              int
	memoryErrors             int
	overrun                  int64
	maxRSS                   int64 // bytes
	cpu                      time.Duration
}

func (m measurement) wireBytes() int64 {
	return m.hostToBoard + m.boardToHost
}

// measureRun starts a fresh simulated board on spec.flashDir, runs otaflash
// against it as a subprocess and returns the run's cost.
func measureRun(ctx context.Context, bin string, spec runSpec) (measurement, error) {
	board, err := startBoard(ctx, spec)
	if err != nil {
		return measurement{}, err
	}
	defer board.Close()
	before := board.Stats()

	m := measurement{spec: spec}
	state, err := runOtaflash(ctx, bin, board.Port(), spec, &m)
	if err != nil {
		return m, err
	}
	after, err := settledStats(ctx, board)
	if err != nil {
		return m, err
	}
	if err := board.Err(); err != nil {
		return m, fmt.Errorf("simulated board (firmware %s) stopped during the run: %w", spec.profile, err)
	}
	m.addBoardStats(before, after)
	m.addRusage(state)
	return m, nil
}

// startBoard starts a simulated board with the default wire model and waits
// for it to boot.
func startBoard(ctx context.Context, spec runSpec) (*simboard.Board, error) {
	board, err := simboard.Start(ctx, simboard.Options{FlashDir: spec.flashDir, Firmware: spec.profile})
	if err != nil {
		return nil, fmt.Errorf("starting simulated board (firmware %s): %w", spec.profile, err)
	}
	bootCtx, cancel := context.WithTimeout(ctx, bootTimeout)
	defer cancel()
	if err := board.WaitBoot(bootCtx, 1); err != nil {
		board.Close()
		return nil, err
	}
	return board, nil
}

// runOtaflash runs the otaflash update of spec on port, records its wall
// time in m and checks that it sent the expected number of files.
func runOtaflash(ctx context.Context, bin, port string, spec runSpec, m *measurement) (*os.ProcessState, error) {
	ctx, cancel := context.WithTimeout(ctx, runTimeout)
	defer cancel()
	args := []string{"update", "--port", port, "--source", spec.source, "--version", spec.version,
		"--no-reset", "--transfer", spec.mode}
	if spec.trace {
		args = append(args, "-v")
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr

	start := time.Now()
	err := cmd.Run()
	m.wall = time.Since(start)
	if werr := writeLog(spec.logPath, args, &stdout, &stderr); werr != nil {
		return nil, werr
	}
	if err != nil {
		return nil, fmt.Errorf("otaflash %s (firmware %s) failed: %w\nstdout:\n%s\nstderr:\n%s",
			strings.Join(args, " "), spec.profile, err, stdout.String(), lastLines(stderr.String(), 20))
	}
	sent, err := filesSent(stdout.String())
	if err != nil {
		return nil, fmt.Errorf("otaflash %s: %w", strings.Join(args, " "), err)
	}
	if sent != spec.wantSent {
		return nil, fmt.Errorf("otaflash %s sent %d files, expected %d for a %s:\n%s",
			strings.Join(args, " "), sent, spec.wantSent, spec.kind, stdout.String())
	}
	return cmd.ProcessState, nil
}

// writeLog saves one run's command line and output.
func writeLog(path string, args []string, stdout, stderr *bytes.Buffer) error {
	text := fmt.Sprintf("$ otaflash %s\n--- stdout\n%s--- stderr\n%s", strings.Join(args, " "), stdout, stderr)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		return fmt.Errorf("saving the otaflash output: %w", err)
	}
	return nil
}

var stagedLine = regexp.MustCompile(`(?m)^staged: (\d+) files? sent`)

// filesSent reads the number of files sent from otaflash update's output.
func filesSent(stdout string) (int, error) {
	match := stagedLine.FindStringSubmatch(stdout)
	if match == nil {
		return 0, fmt.Errorf("output has no line \"staged: N file(s) sent\":\n%s", stdout)
	}
	return strconv.Atoi(match[1])
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// settledStats returns the board's counters once they have stopped changing.
func settledStats(ctx context.Context, board *simboard.Board) (simboard.Stats, error) {
	deadline := time.Now().Add(settleTimeout)
	last := board.Stats()
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return last, ctx.Err()
		case <-time.After(settleInterval):
		}
		now := board.Stats()
		if sameCounters(last, now) {
			return now, nil
		}
		last = now
	}
	return last, fmt.Errorf("the simulated board's counters still changed %s after otaflash exited", settleTimeout)
}

func sameCounters(a, b simboard.Stats) bool {
	return a.HostToBoard == b.HostToBoard && a.BoardToHost == b.BoardToHost && a.Commands == b.Commands
}

// addBoardStats records the board's counters for the run. The board is
// fresh, so its maxima cover this run only.
func (m *measurement) addBoardStats(before, after simboard.Stats) {
	m.hostToBoard = after.HostToBoard - before.HostToBoard
	m.boardToHost = after.BoardToHost - before.BoardToHost
	m.commands = after.Commands - before.Commands
	m.memoryErrors = after.MemoryErrors - before.MemoryErrors
	m.overrun = after.Overrun - before.Overrun
	m.largestCommand = after.LargestCommand
	m.maxMemAlloc = after.MaxMemAlloc
}

// addRusage records otaflash's peak RSS and CPU time. On Linux, ru_maxrss
// is in kilobytes (getrusage(2)).
func (m *measurement) addRusage(state *os.ProcessState) {
	usage, ok := state.SysUsage().(*syscall.Rusage)
	if !ok {
		return
	}
	m.maxRSS = usage.Maxrss * 1024
	m.cpu = time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
}
