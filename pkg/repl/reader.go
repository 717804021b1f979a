package repl

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"
	"time"
)

// streamReader copies a stream into a buffer from its own goroutine, so that
// callers can wait for bytes with a deadline. go.bug.st/serial returns (0, nil)
// when its read timeout expires and blocks forever without one; reading in
// the background sidesteps both, and closing the port ends the goroutine.
type streamReader struct {
	mu     sync.Mutex
	buf    []byte
	err    error
	signal chan struct{}
	trace  func(dir string, p []byte)
}

func newStreamReader(src io.Reader, trace func(string, []byte)) *streamReader {
	r := &streamReader{signal: make(chan struct{}, 1), trace: trace}
	go r.run(src)
	return r
}

func (r *streamReader) run(src io.Reader) {
	chunk := make([]byte, 1024)
	for {
		n, err := src.Read(chunk)
		if n > 0 {
			if r.trace != nil {
				r.trace("<", chunk[:n])
			}
			r.mu.Lock()
			r.buf = append(r.buf, chunk[:n]...)
			r.mu.Unlock()
			r.wake()
		}
		if err != nil {
			r.mu.Lock()
			r.err = err
			r.mu.Unlock()
			r.wake()
			return
		}
		if n == 0 {
			// A serial read timeout returns (0, nil); pause instead of spinning.
			time.Sleep(time.Millisecond)
		}
	}
}

func (r *streamReader) wake() {
	select {
	case r.signal <- struct{}{}:
	default:
	}
}

// discard drops everything received so far.
func (r *streamReader) discard() {
	r.mu.Lock()
	r.buf = r.buf[:0]
	r.mu.Unlock()
}

// pending returns how many received bytes are not yet consumed.
func (r *streamReader) pending() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.buf)
}

// take waits until match finds an end in the buffer, then removes and
// returns the bytes up to that end. match returns -1 while it needs more.
func (r *streamReader) take(ctx context.Context, timeout time.Duration, match func([]byte) int) ([]byte, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		r.mu.Lock()
		if end := match(r.buf); end >= 0 {
			out := bytes.Clone(r.buf[:end])
			r.buf = append(r.buf[:0], r.buf[end:]...)
			r.mu.Unlock()
			return out, nil
		}
		err := r.err
		r.mu.Unlock()
		if err != nil {
			if err == io.EOF {
				return nil, ErrClosed
			}
			return nil, fmt.Errorf("%w: %v", ErrClosed, err)
		}
		select {
		case <-r.signal:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-timer.C:
			return nil, ErrTimeout
		}
	}
}

// readUntil waits for suffix and returns everything up to and including it.
func (r *streamReader) readUntil(ctx context.Context, timeout time.Duration, suffix []byte) ([]byte, error) {
	return r.take(ctx, timeout, func(b []byte) int {
		if i := bytes.Index(b, suffix); i >= 0 {
			return i + len(suffix)
		}
		return -1
	})
}

// readN waits for n bytes.
func (r *streamReader) readN(ctx context.Context, timeout time.Duration, n int) ([]byte, error) {
	return r.take(ctx, timeout, func(b []byte) int {
		if len(b) >= n {
			return n
		}
		return -1
	})
}

// waitQuiet waits until no byte has arrived for quiet, or until max has
// passed, and returns (without consuming) what the buffer holds then.
func (r *streamReader) waitQuiet(ctx context.Context, quiet, max time.Duration) ([]byte, error) {
	deadline := time.Now().Add(max)
	last := r.pending()
	for {
		wait := quiet
		if left := time.Until(deadline); left < wait {
			wait = left
		}
		if wait <= 0 {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		n := r.pending()
		if n == last {
			break
		}
		last = n
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Clone(r.buf), r.err
}
