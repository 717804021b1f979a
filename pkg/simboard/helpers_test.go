package simboard_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/otaflash/otaflash/pkg/simboard"
	"github.com/otaflash/otaflash/pkg/simboard/simtest"
	"go.bug.st/serial"
)

// readPoll is the read timeout of test ports. go.bug.st/serial returns 0, nil
// when it expires, which conn treats as "nothing yet".
const readPoll = 20 * time.Millisecond

// conn is a client of a board's port, opened with go.bug.st/serial, that
// keeps bytes read past what a test waited for.
type conn struct {
	t       testing.TB
	port    serial.Port
	pending []byte
}

func openConn(t testing.TB, b *simboard.Board) *conn {
	t.Helper()
	port := simtest.Open(t, b)
	if err := port.SetReadTimeout(readPoll); err != nil {
		t.Fatalf("setting read timeout on %s: %v", b.Port(), err)
	}
	return &conn{t: t, port: port}
}

func (c *conn) write(data string) {
	c.t.Helper()
	if _, err := c.port.Write([]byte(data)); err != nil {
		c.t.Fatalf("writing %q: %v", data, err)
	}
}

// fill reads once into pending and returns how many bytes arrived.
func (c *conn) fill() int {
	c.t.Helper()
	buf := make([]byte, 4096)
	n, err := c.port.Read(buf)
	if err != nil {
		c.t.Fatalf("reading port: %v (read so far: %q)", err, c.pending)
	}
	c.pending = append(c.pending, buf[:n]...)
	return n
}

// readUntil returns the bytes up to and including want, and keeps the rest.
func (c *conn) readUntil(want string, timeout time.Duration) string {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if i := bytes.Index(c.pending, []byte(want)); i >= 0 {
			out := string(c.pending[:i+len(want)])
			c.pending = c.pending[i+len(want):]
			return out
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("timed out after %v waiting for %q; read %q", timeout, want, c.pending)
		}
		c.fill()
	}
}

// readN returns exactly n bytes.
func (c *conn) readN(n int, timeout time.Duration) []byte {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for len(c.pending) < n {
		if time.Now().After(deadline) {
			c.t.Fatalf("timed out after %v waiting for %d bytes; read %d: %q", timeout, n, len(c.pending), c.pending)
		}
		c.fill()
	}
	out := c.pending[:n]
	c.pending = c.pending[n:]
	return out
}

// drain returns everything that arrives until the port stays quiet for quiet.
func (c *conn) drain(quiet time.Duration) []byte {
	c.t.Helper()
	last := time.Now()
	for time.Since(last) < quiet {
		if c.fill() > 0 {
			last = time.Now()
		}
	}
	out := c.pending
	c.pending = nil
	return out
}

// waitStats waits until cond holds for the board's counters.
func waitStats(t testing.TB, b *simboard.Board, what string, cond func(simboard.Stats) bool) simboard.Stats {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Wait(ctx, cond); err != nil {
		t.Fatalf("waiting for %s: %v; stats %+v", what, err, b.Stats())
	}
	return b.Stats()
}

func waitBoot(t testing.TB, b *simboard.Board, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), simtest.BootTimeout)
	defer cancel()
	if err := b.WaitBoot(ctx, n); err != nil {
		t.Fatal(err)
	}
}

// syncBuffer is a log destination that tests can read while a board writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// waitLog waits until the log contains want.
func waitLog(t testing.TB, log *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(log.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("log lacks %q:\n%s", want, log.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
