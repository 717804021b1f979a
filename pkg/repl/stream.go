package repl

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Stream is the byte channel between the host and a command that runs in
// the raw REPL and reads sys.stdin.buffer and prints as it goes.
type Stream struct {
	c   *Conn
	ctx context.Context
}

// Write sends p to the running command's stdin as it is.
func (s *Stream) Write(p []byte) error {
	return s.c.write(p)
}

// ReadN waits up to timeout for n bytes of the command's stdout.
func (s *Stream) ReadN(n int, timeout time.Duration) ([]byte, error) {
	return s.c.rd.readN(s.ctx, timeout, n)
}

// Pending returns how many bytes of output have arrived unread.
func (s *Stream) Pending() int {
	return s.c.rd.pending()
}

// ExecStream runs code and, while it runs, calls talk (when not nil) with a
// Stream to it.
// When talk returns, ExecStream reads the rest of the output and the
// traceback as Exec does. If talk fails, its error is returned and the
// session enters the raw REPL again before the next command.
func (c *Conn) ExecStream(ctx context.Context, code string, timeout time.Duration, talk func(*Stream) error) ([]byte, error) {
	if len(c.pipelined) > 0 && !strings.HasPrefix(code, string(c.pipelined)) {
		// The board holds the start of another command: Ctrl-C clears it.
		c.pipelined = nil
		c.broken = true
	}
	if !c.inRaw || c.broken {
		c.pipelined = nil
		if err := c.EnterRaw(ctx); err != nil {
			return nil, err
		}
	}
	c.broken = true
	if err := c.send(ctx, []byte(code)); err != nil {
		c.ahead = nil
		return nil, err
	}
	var talkErr error
	if talk != nil {
		talkErr = talk(&Stream{c: c, ctx: ctx})
	}
	stdout, err := c.rd.readUntil(ctx, timeout, []byte{ctrlD})
	if err != nil {
		if talkErr != nil {
			return nil, talkErr
		}
		return nil, fmt.Errorf("reading the output of %q: %w", firstLine(code), err)
	}
	stderr, err := c.rd.readUntil(ctx, c.opts.Timeout, []byte{ctrlD})
	if err != nil {
		return nil, fmt.Errorf("reading the traceback of %q: %w", firstLine(code), err)
	}
	if _, err := c.rd.readUntil(ctx, c.opts.Timeout, []byte(">")); err != nil {
		return nil, fmt.Errorf("waiting for the raw REPL prompt: %w", err)
	}
	c.broken = talkErr != nil
	stdout = stdout[:len(stdout)-1]
	stderr = stderr[:len(stderr)-1]
	if talkErr != nil {
		return stdout, talkErr
	}
	if len(stderr) > 0 {
		return stdout, &RemoteError{
			Command:   firstLine(code),
			Traceback: strings.ReplaceAll(string(stderr), "\r\n", "\n"),
		}
	}
	return stdout, nil
}

// ExecAhead runs code as Exec does and, once the board has accepted it,
// writes the start of next, so that the line carries it while the board
// still runs code. The caller must run next with the following call. It
// pipelines only where both go in the plain raw REPL, whose bytes wait in
// the board's receive buffer; with raw-paste it is Exec.
func (c *Conn) ExecAhead(ctx context.Context, code, next string) ([]byte, error) {
	if !c.usesPaste([]byte(code)) && !c.usesPaste([]byte(next)) {
		c.ahead = []byte(next[:min(len(next), aheadBytes)])
	}
	return c.ExecStream(ctx, code, c.opts.Timeout, nil)
}
