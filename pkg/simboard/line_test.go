package simboard

import (
	"bytes"
	"testing"
	"time"
)

// t0 is an arbitrary start time for tests that drive a line with synthetic
// clock values.
var t0 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func TestLineDeliversAtBaudRate(t *testing.T) {
	// At 115200 baud a byte takes 86.8 us, so 11,520 bytes take 1 s.
	tests := []struct {
		name    string
		baud    int
		delay   time.Duration
		at      time.Duration
		wantLen int
	}{
		{name: "nothing before the first stop bit", baud: 115200, at: 86 * time.Microsecond, wantLen: 0},
		{name: "first byte", baud: 115200, at: 87 * time.Microsecond, wantLen: 1},
		{name: "one millisecond", baud: 115200, at: time.Millisecond, wantLen: 11},
		{name: "half a second", baud: 115200, at: 500 * time.Millisecond, wantLen: 5760},
		{name: "one second", baud: 115200, at: time.Second, wantLen: 11520},
		{name: "with latency", baud: 115200, delay: 2 * time.Millisecond, at: 3 * time.Millisecond, wantLen: 11},
		{name: "latency not passed", baud: 115200, delay: 2 * time.Millisecond, at: 2 * time.Millisecond, wantLen: 0},
		{name: "slow line", baud: 9600, at: time.Second, wantLen: 960},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLine(tt.baud, tt.delay)
			l.push(t0, make([]byte, 20000))
			got, _ := l.takeDue(t0.Add(tt.at))
			if len(got) != tt.wantLen {
				t.Errorf("bytes due after %v = %d, want %d", tt.at, len(got), tt.wantLen)
			}
		})
	}
}

func TestLineQueuesBehindBusyWire(t *testing.T) {
	l := newLine(115200, 0)
	l.push(t0, bytes.Repeat([]byte("a"), 11520))
	// Pushed while the wire is busy, these start when the first chunk ends.
	l.push(t0.Add(100*time.Millisecond), []byte("bc"))

	got, next := l.takeDue(t0.Add(time.Second))
	if len(got) != 11520 {
		t.Fatalf("bytes due after 1 s = %d, want 11520", len(got))
	}
	if want := t0.Add(time.Second + l.wireTime(1)); !next.Equal(want) {
		t.Errorf("next due = %v, want %v", next.Sub(t0), want.Sub(t0))
	}
	got, next = l.takeDue(t0.Add(time.Second + l.wireTime(2)))
	if string(got) != "bc" {
		t.Errorf("second chunk = %q, want \"bc\"", got)
	}
	if !next.IsZero() {
		t.Errorf("next due on an empty line = %v, want zero", next)
	}
}

func TestLineStartsIdleWireAtPush(t *testing.T) {
	l := newLine(115200, 0)
	l.push(t0, []byte("a"))
	l.takeDue(t0.Add(time.Second))
	l.push(t0.Add(2*time.Second), []byte("b"))

	if got, _ := l.takeDue(t0.Add(2*time.Second + 80*time.Microsecond)); len(got) != 0 {
		t.Errorf("byte due before its stop bit: %q", got)
	}
	if got, _ := l.takeDue(t0.Add(2*time.Second + 90*time.Microsecond)); string(got) != "b" {
		t.Errorf("byte after idle wire = %q, want \"b\"", got)
	}
}

func TestLineDropUnsentKeepsBytesOnTheWire(t *testing.T) {
	l := newLine(115200, 2*time.Millisecond)
	l.push(t0, make([]byte, 100))

	// After 1 ms, 11 bytes are complete and the 12th is on the wire.
	dropped := l.dropUnsent(t0.Add(time.Millisecond))
	if dropped != 88 {
		t.Errorf("dropped = %d, want 88", dropped)
	}
	got, next := l.takeDue(t0.Add(time.Second))
	if len(got) != 12 {
		t.Errorf("delivered after the drop = %d, want 12", len(got))
	}
	if !next.IsZero() {
		t.Errorf("line not empty after delivery: next due %v", next)
	}
}

func TestLineWaitSpaceBlocksUntilTaken(t *testing.T) {
	l := newLine(115200, 0)
	l.push(t0, make([]byte, 10))
	done := make(chan struct{})
	result := make(chan bool)
	go func() { result <- l.waitSpace(10, done) }()

	select {
	case <-result:
		t.Fatal("waitSpace returned while the line was full")
	case <-time.After(20 * time.Millisecond):
	}
	l.takeDue(t0.Add(time.Millisecond))
	if ok := <-result; !ok {
		t.Error("waitSpace = false after bytes were taken, want true")
	}

	l.push(t0, make([]byte, 10))
	close(done)
	if l.waitSpace(5, done) {
		t.Error("waitSpace = true after done closed on a full line, want false")
	}
}
