package simboard

import (
	"sync"
	"time"
)

// batchInterval is the shortest wait of a line between two deliveries while
// bytes are queued. Each delivery hands on every byte due by then, so the
// throughput stays exact and the line wakes at most once a millisecond.
const batchInterval = time.Millisecond

// line models one direction of the serial wire. Bytes pushed onto it are sent
// one after another at the baud rate, starting when they are pushed or when
// the wire becomes free. Each byte is due when its stop bit has arrived plus
// the line's delay.
type line struct {
	baud  int
	delay time.Duration

	mu     sync.Mutex
	queue  []chunk
	free   time.Time // when the wire has sent every queued byte
	queued int       // bytes pushed but not yet taken

	wake  chan struct{} // signalled when bytes are pushed onto an empty line
	space chan struct{} // signalled when bytes are taken
}

// chunk is a run of bytes sent back to back from start.
type chunk struct {
	data  []byte
	start time.Time
	taken int
}

func newLine(baud int, delay time.Duration) *line {
	return &line{
		baud:  baud,
		delay: delay,
		wake:  make(chan struct{}, 1),
		space: make(chan struct{}, 1),
	}
}

// wireTime is the time n bytes take on the wire.
func (l *line) wireTime(n int) time.Duration {
	return time.Duration((int64(n)*bitsPerByte*int64(time.Second) + int64(l.baud) - 1) / int64(l.baud))
}

// push queues data, which the sender handed over at now.
func (l *line) push(now time.Time, data []byte) {
	if len(data) == 0 {
		return
	}
	l.mu.Lock()
	start := now
	if l.free.After(now) {
		start = l.free
	}
	l.queue = append(l.queue, chunk{data: data, start: start})
	l.free = start.Add(l.wireTime(len(data)))
	l.queued += len(data)
	l.mu.Unlock()
	signal(l.wake)
}

// takeDue removes and returns the bytes due at now, and the time the next
// byte falls due (zero when the line is empty).
func (l *line) takeDue(now time.Time) ([]byte, time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()

	var out []byte
	for len(l.queue) > 0 {
		c := &l.queue[0]
		due := l.dueCount(c, now)
		if due > c.taken {
			out = append(out, c.data[c.taken:due]...)
			l.queued -= due - c.taken
			c.taken = due
		}
		if c.taken < len(c.data) {
			next := c.start.Add(l.wireTime(c.taken + 1)).Add(l.delay)
			l.signalSpace(out)
			return out, next
		}
		l.queue = l.queue[1:]
	}
	l.signalSpace(out)
	return out, time.Time{}
}

func (l *line) signalSpace(taken []byte) {
	if len(taken) > 0 {
		signal(l.space)
	}
}

// dueCount returns how many bytes of c have arrived by now, with the delay.
func (l *line) dueCount(c *chunk, now time.Time) int {
	elapsed := now.Sub(c.start) - l.delay
	if elapsed <= 0 {
		return 0
	}
	if elapsed >= l.wireTime(len(c.data)) {
		return len(c.data)
	}
	return int(int64(elapsed) * int64(l.baud) / (bitsPerByte * int64(time.Second)))
}

// dropUnsent discards the bytes that have not left the sender by now, as a
// board losing power loses its UART transmit FIFO. Bytes already on the wire
// or in the delay stay. It returns the number of bytes discarded.
func (l *line) dropUnsent(now time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()

	dropped := 0
	free := now
	kept := l.queue[:0]
	for _, c := range l.queue {
		sent := l.sentCount(&c, now)
		dropped += len(c.data) - sent
		if sent > c.taken {
			c.data = c.data[:sent]
			kept = append(kept, c)
			free = later(free, c.start.Add(l.wireTime(sent)))
		}
	}
	l.queue = kept
	l.queued -= dropped
	l.free = free
	return dropped
}

// sentCount returns how many bytes of c have left the sender by now: those
// whose transmission started, since a started byte finishes on the wire.
func (l *line) sentCount(c *chunk, now time.Time) int {
	elapsed := now.Sub(c.start)
	if elapsed < 0 {
		return 0
	}
	n := int(int64(elapsed)*int64(l.baud)/(bitsPerByte*int64(time.Second))) + 1
	return max(c.taken, min(n, len(c.data)))
}

// waitSpace blocks until fewer than limit bytes are queued. It returns false
// when done is closed first.
func (l *line) waitSpace(limit int, done <-chan struct{}) bool {
	for {
		l.mu.Lock()
		queued := l.queued
		l.mu.Unlock()
		if queued < limit {
			return true
		}
		select {
		case <-l.space:
		case <-done:
			return false
		}
	}
}

// run hands due bytes to deliver until done is closed. It sleeps while the
// line is empty, so an idle line costs no CPU.
func (l *line) run(done <-chan struct{}, deliver func([]byte)) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()

	for {
		out, next := l.takeDue(time.Now())
		if len(out) > 0 {
			deliver(out)
		}
		if next.IsZero() {
			select {
			case <-l.wake:
				continue
			case <-done:
				return
			}
		}
		timer.Reset(max(time.Until(next), batchInterval))
		select {
		case <-timer.C:
		case <-done:
			return
		}
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// signal makes a non-blocking send on a channel with a buffer of one.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
