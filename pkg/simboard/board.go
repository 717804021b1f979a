package simboard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// ErrClosed is returned by the methods of a Board after Close.
var ErrClosed = errors.New("simulated board closed")

// hostWriteBuffer is how many host bytes the wire takes ahead of the baud
// rate before a write to the port blocks. Linux usb-serial drivers buffer
// writes in a FIFO of one page (4096 bytes, drivers/usb/serial/usb-serial.c).
const hostWriteBuffer = 4096

// closeGrace is how long Close waits for the Node process to exit after its
// stdin ends, before it kills the process.
const closeGrace = time.Second

// Board is a running simulated board. Its methods are safe for concurrent use.
type Board struct {
	opts Options
	log  *slog.Logger

	master *os.File // pty master: what the board's USB-serial bridge reads and writes
	tty    *os.File // pty slave, kept open so the master never gets EIO between clients
	cmd    *exec.Cmd
	toNode *os.File // write end of the Node process's stdin

	hostLine    *line // host to board
	boardLine   *line // board to host
	hostFaults  *faults
	boardFaults *faults

	sendMu sync.Mutex // serializes frames to Node

	mu           sync.Mutex
	stats        Stats
	powered      bool
	awaitingOff  int        // host power-offs the board has not acknowledged, while its output is stale
	powerMu      sync.Mutex // serializes PowerOff and PowerOn with their frames to Node
	cutAfter     int64      // host bytes left before an armed cut; 0 when disarmed
	restoreTimer *time.Timer
	changed      chan struct{} // closed and replaced after every change of the counters
	err          error         // the error that stopped the board, or nil while it runs

	stopOnCancel func() bool   // unregisters the Close that ctx cancellation runs
	done         chan struct{} // closed by Close
	exited       chan struct{} // closed when the Node process has exited
	wg           sync.WaitGroup
	closeOnce    sync.Once
}

// Start starts a simulated board and returns once its port can be opened.
// The board boots by itself; use WaitBoot to wait for it. The board runs
// until Close is called or ctx is cancelled, and the caller must call Close.
func Start(ctx context.Context, opts Options) (*Board, error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	node, script, err := locate(opts)
	if err != nil {
		return nil, err
	}
	if opts.FlashDir, err = checkFlashDir(opts.FlashDir); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("starting simulated board: %w", err)
	}

	b := newBoard(opts)
	if err := b.openPTY(); err != nil {
		return nil, err
	}
	if err := b.startNode(node, script); err != nil {
		b.master.Close()
		b.tty.Close()
		return nil, err
	}
	b.startWire()
	b.stopOnCancel = context.AfterFunc(ctx, func() { b.Close() })
	b.log.Info("simulated board started", "port", b.Port(), "pid", b.NodePID(), "flash", opts.FlashDir,
		"firmware", opts.Firmware, "baud", opts.Baud)
	return b, nil
}

func newBoard(opts Options) *Board {
	return &Board{
		opts:        opts,
		log:         slog.New(slog.NewTextHandler(opts.Log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		hostLine:    newLine(opts.Baud, 0),
		boardLine:   newLine(opts.Baud, opts.Latency),
		hostFaults:  newFaults(opts.Seed, 1, opts.DropRate, opts.CorruptRate),
		boardFaults: newFaults(opts.Seed, 2, opts.DropRate, opts.CorruptRate),
		powered:     true,
		changed:     make(chan struct{}),
		done:        make(chan struct{}),
		exited:      make(chan struct{}),
	}
}

// locate returns the Node.js executable and the board script.
func locate(opts Options) (node, script string, err error) {
	if node, err = findNode(opts.NodePath); err != nil {
		return "", "", err
	}
	simDir, err := findSimDir(opts.SimDir)
	if err != nil {
		return "", "", err
	}
	if err := checkNodeModules(simDir); err != nil {
		return "", "", err
	}
	return node, filepath.Join(simDir, boardScript), nil
}

// checkFlashDir returns the absolute path of an existing flash folder.
func checkFlashDir(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("resolving flash folder %q: %w", dir, err)
	}
	info, err := os.Stat(abs)
	if err != nil {
		return "", fmt.Errorf("flash folder %q not found: create it first: %w", abs, err)
	}
	if !info.IsDir() {
		return "", fmt.Errorf("flash folder %q is not a directory", abs)
	}
	return abs, nil
}

// openPTY opens the pseudo-terminal and puts its slave side in raw mode, so
// that nothing is echoed or translated before a client sets its own mode.
func (b *Board) openPTY() error {
	master, tty, err := pty.Open()
	if err != nil {
		return fmt.Errorf("opening pseudo-terminal: %w", err)
	}
	if _, err := term.MakeRaw(int(tty.Fd())); err != nil {
		closeAll(master, tty)
		return fmt.Errorf("setting raw mode on %s: %w", tty.Name(), err)
	}
	pollable, err := pollableFile(master)
	if err != nil {
		closeAll(master, tty)
		return fmt.Errorf("opening pseudo-terminal master of %s: %w", tty.Name(), err)
	}
	b.master, b.tty = pollable, tty
	return nil
}

// pollableFile replaces f, which pty.Open leaves in blocking mode, by a
// non-blocking duplicate that Go's poller watches. Closing the duplicate
// then makes a pending Read or Write return, which Close relies on.
func pollableFile(f *os.File) (*os.File, error) {
	defer f.Close()
	fd, err := unix.Dup(int(f.Fd()))
	if err != nil {
		return nil, fmt.Errorf("duplicating %s: %w", f.Name(), err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("setting %s non-blocking: %w", f.Name(), err)
	}
	return os.NewFile(uintptr(fd), f.Name()), nil
}

// startNode starts the Node process with pipes for the frame protocol.
func (b *Board) startNode(node, script string) error {
	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("creating pipe to the simulated board: %w", err)
	}
	stdoutR, stdoutW, err := os.Pipe()
	if err != nil {
		closeAll(stdinR, stdinW)
		return fmt.Errorf("creating pipe from the simulated board: %w", err)
	}
	stderrR, stderrW, err := os.Pipe()
	if err != nil {
		closeAll(stdinR, stdinW, stdoutR, stdoutW)
		return fmt.Errorf("creating pipe from the simulated board: %w", err)
	}

	cmd := exec.Command(node, append([]string{script}, b.opts.nodeArgs()...)...)
	cmd.Dir = filepath.Dir(script)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdinR, stdoutW, stderrW
	cmd.SysProcAttr = childProcAttr()
	err = cmd.Start()
	closeAll(stdinR, stdoutW, stderrW)
	if err != nil {
		closeAll(stdinW, stdoutR, stderrR)
		return fmt.Errorf("starting %s %s: %w", node, script, err)
	}
	b.cmd, b.toNode = cmd, stdinW

	b.wg.Add(3)
	go b.readNode(stdoutR)
	go b.logNodeStderr(stderrR)
	go b.waitNode()
	return nil
}

func closeAll(files ...*os.File) {
	for _, f := range files {
		f.Close()
	}
}

// Port returns the path of the board's serial port, such as /dev/pts/7.
//
// NOTE: bytes the board sends while no client has the port open wait in the
// pseudo-terminal (18 KB measured on Linux 6.18) for the next client, whereas a
// USB-serial driver drops them. A client that needs a clean start should
// call serial.Port.ResetInputBuffer after opening.
func (b *Board) Port() string {
	return b.tty.Name()
}

// NodePID returns the process id of the Node process that runs the board.
func (b *Board) NodePID() int {
	return b.cmd.Process.Pid
}

// Stats returns a snapshot of the board's counters.
func (b *Board) Stats() Stats {
	hostDropped, hostCorrupted := b.hostFaults.counts()
	boardDropped, boardCorrupted := b.boardFaults.counts()

	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.stats.clone()
	s.LineDropped = hostDropped + boardDropped
	s.LineCorrupted = hostCorrupted + boardCorrupted
	return s
}

// Err returns why the board stopped: ErrClosed after Close, an error when the
// Node process failed or exited by itself, and nil while it runs.
func (b *Board) Err() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

// Wait blocks until cond returns true for the board's counters. It returns an
// error when ctx ends first or the board stops.
func (b *Board) Wait(ctx context.Context, cond func(Stats) bool) error {
	for {
		b.mu.Lock()
		changed, err := b.changed, b.err
		b.mu.Unlock()
		if cond(b.Stats()) {
			return nil
		}
		if err != nil {
			return err
		}
		select {
		case <-changed:
		case <-b.exited:
			// Loop once more to return the error recorded before the exit.
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// WaitBoot blocks until the board has booted n times since Start, counting
// power-on boots and soft resets.
func (b *Board) WaitBoot(ctx context.Context, n int) error {
	err := b.Wait(ctx, func(s Stats) bool { return s.Boots >= n })
	if err != nil {
		return fmt.Errorf("waiting for boot %d of the simulated board (%d so far): %w", n, b.Stats().Boots, err)
	}
	return nil
}

// Close stops the Node process and closes the port. A client that still has
// the port open gets an error from its next read. Close is idempotent and returns nil or the
// error that stopped the board before Close.
func (b *Board) Close() error {
	b.closeOnce.Do(b.shutdown)
	err := b.Err()
	if errors.Is(err, ErrClosed) {
		return nil
	}
	return err
}

func (b *Board) shutdown() {
	b.mu.Lock()
	if b.err == nil {
		b.err = ErrClosed
	}
	if b.restoreTimer != nil {
		b.restoreTimer.Stop()
	}
	b.mu.Unlock()
	b.stopOnCancel()
	close(b.done)

	// End of stdin makes Node exit. A board stuck in a long operation is
	// killed, as pulling the USB cable would stop it. Closing the pipe also
	// ends a write to it that is blocked in send.
	b.toNode.Close()
	select {
	case <-b.exited:
	case <-time.After(closeGrace):
		b.cmd.Process.Kill()
		<-b.exited
	}

	b.master.Close()
	b.tty.Close()
	b.wg.Wait()
	b.log.Info("simulated board stopped", "port", b.Port())
}
