package simboard

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// startWire starts the goroutines that carry bytes between the port and the
// Node process.
func (b *Board) startWire() {
	b.wg.Add(3)
	go b.readHost()
	go func() {
		defer b.wg.Done()
		b.hostLine.run(b.done, b.deliverToBoard)
	}()
	go func() {
		defer b.wg.Done()
		b.boardLine.run(b.done, b.deliverToHost)
	}()
}

// readHost reads what the client writes to the port as soon as it arrives,
// and queues it on the host-to-board line. It stops reading while the line
// holds hostWriteBuffer bytes, so a client's write blocks as on a real port.
func (b *Board) readHost() {
	defer b.wg.Done()
	buf := make([]byte, hostWriteBuffer)
	for b.hostLine.waitSpace(hostWriteBuffer, b.done) {
		n, err := b.master.Read(buf)
		if n > 0 {
			b.hostLine.push(time.Now(), append([]byte(nil), buf[:n]...))
		}
		if err != nil {
			if !b.isClosed() {
				b.log.Error("reading from the pseudo-terminal failed; host bytes no longer reach the board",
					"port", b.Port(), "err", err)
			}
			return
		}
	}
}

// deliverToBoard hands bytes that crossed the wire to the board, applying an
// armed cut after the exact byte it names.
func (b *Board) deliverToBoard(data []byte) {
	for len(data) > 0 {
		n, cut, powered := b.countHostBytes(len(data))
		part := data[:n]
		data = data[n:]

		if powered {
			out := b.hostFaults.apply(part)
			b.logTraffic("host to board", out)
			if err := b.send(frameUART, out); err != nil && !b.isClosed() {
				b.log.Error("sending host bytes to the board failed", "bytes", len(out), "err", err)
			}
		}
		if cut {
			b.log.Info("power cut after host bytes", "host_bytes", b.Stats().HostToBoard)
			b.cutPower()
		}
	}
}

// countHostBytes counts up to n host bytes reaching the board. It returns how
// many belong together, whether an armed cut falls after the last of them,
// and whether the board was powered to receive them.
func (b *Board) countHostBytes(n int) (count int, cut, powered bool) {
	b.mu.Lock()
	if b.cutAfter > 0 && int64(n) >= b.cutAfter {
		n, cut = int(b.cutAfter), true
		b.cutAfter = 0
	} else if b.cutAfter > 0 {
		b.cutAfter -= int64(n)
	}
	b.stats.HostToBoard += int64(n)
	if !b.powered {
		b.stats.LostPoweredOff += int64(n)
	}
	powered = b.powered
	b.notifyLocked()
	return n, cut, powered
}

// deliverToHost writes bytes that crossed the wire and the USB bridge to the
// port. The write blocks while the client's receive buffer is full.
func (b *Board) deliverToHost(data []byte) {
	out := b.boardFaults.apply(data)
	b.mu.Lock()
	b.stats.BoardToHost += int64(len(data))
	b.notifyLocked()

	b.logTraffic("board to host", out)
	if _, err := b.master.Write(out); err != nil && !b.isClosed() {
		b.log.Error("writing board bytes to the pseudo-terminal failed", "bytes", len(out), "err", err)
	}
}

// send writes one frame to the Node process.
func (b *Board) send(kind byte, payload []byte) error {
	if b.isClosed() {
		return ErrClosed
	}
	msg := appendFrame(nil, kind, payload)
	b.sendMu.Lock()
	defer b.sendMu.Unlock()
	if _, err := b.toNode.Write(msg); err != nil {
		return fmt.Errorf("writing %q frame to the simulated board: %w", kind, err)
	}
	return nil
}

// sendControl sends a control message such as {"op":"power","on":true}.
func (b *Board) sendControl(msg map[string]any) error {
	if b.isClosed() {
		return ErrClosed
	}
	payload, err := json.Marshal(msg)
	if err != nil {
		return fmt.Errorf("encoding control message %v: %w", msg, err)
	}
	b.log.Info("control", "message", string(payload))
	return b.send(frameControl, payload)
}

// readNode reads frames from the Node process until its stdout ends.
func (b *Board) readNode(stdout *os.File) {
	defer b.wg.Done()
	defer stdout.Close()

	r := bufio.NewReaderSize(stdout, 64<<10)
	for {
		f, err := readFrame(r)
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			b.fail(fmt.Errorf("reading from the simulated board: %w", err))
			b.cmd.Process.Kill()
			return
		}
		switch f.kind {
		case frameUART:
			b.receiveUART(f.payload)
		case frameEvent:
			b.receiveEvent(f.payload)
		default:
			b.log.Warn("ignored frame of unexpected type from the board", "type", string(f.kind))
		}
	}
}

// receiveUART puts bytes the board transmitted on the board-to-host line.
// Output produced before a power cut that the board has not yet acknowledged
// is stale and dropped, as the board lost it with its power.
func (b *Board) receiveUART(data []byte) {
	b.mu.Lock()
	stale := b.awaitingOff > 0
	b.mu.Unlock()
	if stale {
		b.log.Debug("dropped board output from before a power cut", "bytes", len(data))
		return
	}
	b.boardLine.push(time.Now(), data)
}

// receiveEvent updates the counters from an event of the board.
func (b *Board) receiveEvent(payload []byte) {
	var ev event
	if err := json.Unmarshal(payload, &ev); err != nil {
		b.log.Warn("ignored invalid event from the board", "event", string(payload), "err", err)
		return
	}
	b.log.Info("event", "event", string(payload))

	b.mu.Lock()
	defer b.notifyLocked()
	switch ev.Ev {
	case "boot":
		b.stats.Boots++
		b.stats.Firmware = ev.Firmware
		b.powered = true
	case "power":
		if !ev.On {
			b.receivePowerOffLocked(ev.Reason)
		}
	case "command":
		b.stats.addCommand(ev)
	case "overrun":
		b.stats.Overrun += ev.Dropped
	case "fatal":
		b.failLocked(fmt.Errorf("simulated board failed: %s", ev.Message))
	}
}

// receivePowerOffLocked handles the board reporting a power cut: an
// acknowledgement of PowerOff, or a cut the board made itself for CutAt.
func (b *Board) receivePowerOffLocked(reason string) {
	if reason != "cut_at" {
		b.awaitingOff = max(b.awaitingOff-1, 0)
		return
	}
	// The board is off, so a PowerOff sent since then finds it off and gets
	// no acknowledgement, and whatever it sends next follows a power-on.
	b.awaitingOff = 0
	b.powered = false
	b.stats.PowerCuts++
	b.boardLine.dropUnsent(time.Now())
	b.scheduleRestoreLocked()
}

// notifyLocked wakes every Wait after a change of the counters. It
// releases b.mu, which the caller holds.
func (b *Board) notifyLocked() {
	close(b.changed)
	b.changed = make(chan struct{})
	b.mu.Unlock()
}

// logNodeStderr copies the Node process's log lines to Options.Log.
func (b *Board) logNodeStderr(stderr *os.File) {
	defer b.wg.Done()
	defer stderr.Close()

	scanner := bufio.NewScanner(stderr)
	scanner.Buffer(make([]byte, 64<<10), 1<<20)
	for scanner.Scan() {
		b.log.Info("board log", "line", scanner.Text())
	}
}

// waitNode records the exit of the Node process.
func (b *Board) waitNode() {
	defer b.wg.Done()
	err := b.cmd.Wait()
	if err == nil {
		err = errors.New("exit status 0")
	}
	b.fail(fmt.Errorf("simulated board process %d exited: %w", b.cmd.Process.Pid, err))
	close(b.exited)
}

// fail records the first reason the board stopped.
func (b *Board) fail(err error) {
	b.mu.Lock()
	b.failLocked(err)
	b.notifyLocked()
}

func (b *Board) failLocked(err error) {
	if b.err == nil {
		b.err = err
		b.log.Error("simulated board stopped", "err", err)
	}
}

func (b *Board) isClosed() bool {
	select {
	case <-b.done:
		return true
	default:
		return false
	}
}

// logTraffic logs bytes on the wire when Options.LogTraffic is set.
func (b *Board) logTraffic(direction string, data []byte) {
	if b.opts.LogTraffic && len(data) > 0 {
		b.log.Debug(direction, "bytes", len(data), "data", fmt.Sprintf("%q", data))
	}
}
