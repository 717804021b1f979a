package repl

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Control characters of the MicroPython REPL (shared/runtime/pyexec.c).
const (
	ctrlA = 0x01 // enter raw REPL
	ctrlB = 0x02 // leave raw REPL
	ctrlC = 0x03 // interrupt
	ctrlD = 0x04 // end of command, or soft reset on an empty line
	ctrlE = 0x05 // raw-paste request, followed by "A" and Ctrl-A
)

// unstickZeros is a 256-byte block, its 2-byte header and a 2-byte zero
// length.
const unstickZeros = 2 + 256 + 2

var (
	rawBanner      = []byte("raw REPL; CTRL-B to exit\r\n>")
	friendlyPrompt = []byte(">>> ")
)

// PasteMode selects how commands are sent.
type PasteMode int

const (
	// PasteAuto uses raw-paste when the board grants it and paced raw REPL
	// otherwise.
	PasteAuto PasteMode = iota
	// PasteOff always uses the paced raw REPL.
	PasteOff
)

// Options configures a Conn. The zero value is usable.
type Options struct {
	// Baud is the line rate used to pace commands on firmware without
	// raw-paste flow control. Default 115200.
	Baud int
	// Timeout bounds each wait for a response. Default 10 s.
	Timeout time.Duration
	// Paste selects raw-paste or paced raw REPL. Default PasteAuto.
	Paste PasteMode
	// Trace, when set, receives a line for every write and read, with the seconds since New.
	Trace io.Writer
}

// Conn is a raw REPL session on one stream. Its methods are not safe for
// concurrent use.
type Conn struct {
	port    io.ReadWriteCloser
	rd      *streamReader
	opts    Options
	traceMu sync.Mutex
	// opened is when New ran; trace lines count seconds from it.
	opened time.Time

	inRaw bool
	// pasteOK is nil until the board has responded to a raw-paste request.
	pasteOK *bool
	window  int
	// broken is set when a command's response was cut short, so that the
	// next command starts by interrupting and entering the raw REPL again.
	broken bool
	// entries counts successful entries into the raw REPL, so callers can
	// tell when the board may have lost the state of earlier commands.
	entries  int
	received int64
	// pipelined is the start of the next command, written while the board
	// still ran the one before; ahead is what to write that way after the
	// current command's OK.
	pipelined, ahead []byte
}

// New starts a session on port. It does not write anything: call EnterRaw or
// Exec. Close closes port.
func New(port io.ReadWriteCloser, opts Options) *Conn {
	if opts.Baud <= 0 {
		opts.Baud = 115200
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	c := &Conn{port: port, opts: opts, opened: time.Now()}
	c.rd = newStreamReader(port, c.traceBytes)
	return c
}

// Close closes the underlying port, which also stops the reading goroutine.
func (c *Conn) Close() error {
	return c.port.Close()
}

// Entries returns how many times the session has entered the raw REPL.
// Names defined by earlier commands survive a new entry only if the board
// did not reset in between, so callers define what they need again when it
// changes.
func (c *Conn) Entries() int {
	return c.entries
}

// RawPaste reports whether the board accepted raw-paste mode; it is false
// until the first command has been sent.
func (c *Conn) RawPaste() bool {
	return c.pasteOK != nil && *c.pasteOK
}

func (c *Conn) traceBytes(dir string, p []byte) {
	if c.opts.Trace == nil {
		return
	}
	c.traceMu.Lock()
	defer c.traceMu.Unlock()
	if dir == "<" {
		c.received += int64(len(p))
	}
	fmt.Fprintf(c.opts.Trace, "repl %8.3f %s %q\n", time.Since(c.opened).Seconds(), dir, p)
}

func (c *Conn) write(p []byte) error {
	c.traceBytes(">", p)
	if _, err := c.port.Write(p); err != nil {
		// A serial port that fails a write is gone: unplugged or reset.
		return fmt.Errorf("writing to the board: %w (%v)", ErrClosed, err)
	}
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// EnterRaw interrupts whatever runs on the board and enters the raw REPL.
//
// It sends Ctrl-C twice, 100 ms apart, unless the friendly prompt answers
// the first: the first stops main.py, the second stops the code that may run
// in an except or finally clause after it. It
// sends Ctrl-A only once the friendly prompt shows that the REPL reads input,
// because a Ctrl-A that reaches running code is taken as that code's input.
// A board already in the raw REPL prints nothing on Ctrl-C, so Ctrl-B is sent
// to bring it back to the friendly prompt first.
func (c *Conn) EnterRaw(ctx context.Context) error {
	for attempt := 0; attempt < 3; attempt++ {
		c.rd.discard()
		if attempt > 0 {
			// A program that reads sys.stdin with Ctrl-C turned off takes
			// Ctrl-C as data. otaflash's own binary receiver, left behind by
			// a host that died, ends at a zero length after at most one
			// 256-byte block, so zeros set it free; a REPL ignores them.
			if err := c.write(make([]byte, unstickZeros)); err != nil {
				return err
			}
		}
		if err := c.write([]byte{'\r', ctrlC}); err != nil {
			return err
		}
		// A prompt within 100 ms means the REPL reads input: nothing runs
		// that a second Ctrl-C would have to stop.
		out, err := c.rd.waitQuiet(ctx, 50*time.Millisecond, 100*time.Millisecond)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		ok := err == nil && bytes.HasSuffix(out, friendlyPrompt)
		if !ok {
			if err := c.write([]byte{ctrlC}); err != nil {
				return err
			}
			if ok, err = c.waitFriendlyPrompt(ctx); err != nil {
				return err
			}
		}
		if !ok {
			if err := c.write([]byte{ctrlB}); err != nil {
				return err
			}
			if ok, err = c.waitFriendlyPrompt(ctx); err != nil {
				return err
			}
		}
		if !ok {
			continue
		}
		c.rd.discard()
		if err := c.write([]byte{'\r', ctrlA}); err != nil {
			return err
		}
		if _, err := c.rd.readUntil(ctx, 2*time.Second, rawBanner); err == nil {
			c.inRaw = true
			c.broken = false
			c.entries++
			return nil
		} else if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return ErrNoResponse
}

// waitFriendlyPrompt waits for the output to go quiet and reports whether it
// ends with the friendly REPL prompt.
func (c *Conn) waitFriendlyPrompt(ctx context.Context) (bool, error) {
	out, err := c.rd.waitQuiet(ctx, 150*time.Millisecond, 1500*time.Millisecond)
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if err != nil && len(out) == 0 {
		return false, fmt.Errorf("reading from the board: %w", err)
	}
	return bytes.HasSuffix(out, friendlyPrompt), nil
}

// Exec runs code in the raw REPL and returns what it printed. An exception on
// the board is returned as a *RemoteError. Exec enters the raw REPL first if
// needed.
func (c *Conn) Exec(ctx context.Context, code string) ([]byte, error) {
	return c.ExecTimeout(ctx, code, c.opts.Timeout)
}

// Timeout returns how long each wait for a response lasts (Options.Timeout).
func (c *Conn) Timeout() time.Duration {
	return c.opts.Timeout
}

// ExecTimeout is Exec with its own bound on how long the command may run.
func (c *Conn) ExecTimeout(ctx context.Context, code string, timeout time.Duration) ([]byte, error) {
	return c.ExecStream(ctx, code, timeout, nil)
}

// send transmits one command and waits until the board has accepted it.
// A command that the board's receive buffer holds whole goes in the plain
// raw REPL, which costs one round trip where raw-paste costs three.
func (c *Conn) send(ctx context.Context, code []byte) error {
	if c.usesPaste(code) {
		used, err := c.sendPaste(ctx, code)
		if err != nil || used {
			return err
		}
	}
	return c.sendRaw(ctx, code)
}

func firstLine(code string) string {
	code = strings.TrimSpace(code)
	if i := strings.IndexByte(code, '\n'); i >= 0 {
		code = code[:i] + " ..."
	}
	if len(code) > 60 {
		code = code[:57] + "..."
	}
	return code
}

// usesPaste reports whether code would be sent in raw-paste mode, which is
// tried until the board has refused it once.
func (c *Conn) usesPaste(code []byte) bool {
	return len(code) > smallCommand && c.opts.Paste == PasteAuto && (c.pasteOK == nil || *c.pasteOK)
}

// ExitRaw leaves the raw REPL for the friendly REPL.
func (c *Conn) ExitRaw(ctx context.Context) error {
	if !c.inRaw {
		return nil
	}
	c.rd.discard()
	if err := c.write([]byte{ctrlB}); err != nil {
		return err
	}
	c.inRaw = false
	_, err := c.rd.readUntil(ctx, c.opts.Timeout, friendlyPrompt)
	return err
}

// SoftReset leaves the raw REPL and soft-resets the board from the friendly
// REPL, so that it runs boot.py and then main.py, and waits for the reset to
// start. The session must enter the raw REPL again before the next command.
func (c *Conn) SoftReset(ctx context.Context) error {
	if err := c.ExitRaw(ctx); err != nil {
		return fmt.Errorf("leaving the raw REPL: %w", err)
	}
	c.rd.discard()
	if err := c.write([]byte{ctrlD}); err != nil {
		return err
	}
	c.broken = true
	if _, err := c.rd.readUntil(ctx, c.opts.Timeout, []byte("soft reboot")); err != nil {
		return fmt.Errorf("waiting for the soft reset: %w", err)
	}
	return nil
}
