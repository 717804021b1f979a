// Package simtest starts simulated boards for tests.
package simtest

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/otaflash/otaflash/pkg/simboard"
	"go.bug.st/serial"
)

// BootTimeout bounds the wait for the first boot of a board in Start.
const BootTimeout = 30 * time.Second

// Start starts a simulated board with a temporary flash folder, unless an
// option sets Options.FlashDir, and waits for its first boot. The board's log
// goes to t.Log, and t.Cleanup closes the board and reports an error that
// stopped it. Start fails the test when the board cannot start.
func Start(t testing.TB, opts ...func(*simboard.Options)) *simboard.Board {
	t.Helper()
	o := simboard.Options{Log: &lineLogger{t: t}}
	for _, opt := range opts {
		opt(&o)
	}
	if o.FlashDir == "" {
		o.FlashDir = t.TempDir()
	}

	b, err := simboard.Start(context.Background(), o)
	if err != nil {
		t.Fatalf("starting simulated board: %v", err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("simulated board on %s stopped with an error: %v", b.Port(), err)
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), BootTimeout)
	defer cancel()
	if err := b.WaitBoot(ctx, 1); err != nil {
		t.Fatalf("simulated board on %s: %v", b.Port(), err)
	}
	return b
}

// Open opens the board's port with go.bug.st/serial at the board's default
// baud rate, as a user's tool would, and closes it in t.Cleanup.
func Open(t testing.TB, b *simboard.Board) serial.Port {
	t.Helper()
	port, err := serial.Open(b.Port(), &serial.Mode{BaudRate: simboard.DefaultBaud})
	if err != nil {
		t.Fatalf("opening simulated board port %s: %v", b.Port(), err)
	}
	t.Cleanup(func() { port.Close() })
	return port
}

// lineLogger writes each complete line to t.Log. The board logs only until
// Close returns, which t.Cleanup calls before the test completes.
type lineLogger struct {
	t       testing.TB
	mu      sync.Mutex
	partial string
}

func (l *lineLogger) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	text := l.partial + string(p)
	lines := strings.Split(text, "\n")
	l.partial = lines[len(lines)-1]
	for _, line := range lines[:len(lines)-1] {
		l.t.Log(line)
	}
	return len(p), nil
}
