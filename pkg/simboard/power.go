package simboard

import (
	"fmt"
	"slices"
	"time"
)

// CutEvents lists the board operations CutAt can cut power after: a file
// opened for writing, one write call to a file, a close, a rename, a remove,
// a mkdir, a rmdir, and a finished REPL command.
var CutEvents = []string{"open_write", "write", "close", "rename", "remove", "mkdir", "rmdir", "command"}

// PowerOff cuts the board's power now. The board stops at once and loses the
// output it has not yet sent; host bytes are lost until PowerOn.
func (b *Board) PowerOff() error {
	// powerMu keeps the count of cuts and the frame to Node in step, so a
	// PowerOn that follows a new count never reaches Node before the off.
	b.powerMu.Lock()
	defer b.powerMu.Unlock()
	b.mu.Lock()
	wasOn := b.powered
	b.powered = false
	if wasOn {
		b.awaitingOff++
		b.stats.PowerCuts++
	}
	b.boardLine.dropUnsent(time.Now())
	b.mu.Unlock()

	if err := b.sendControl(map[string]any{"op": "power", "on": false}); err != nil {
		return fmt.Errorf("powering off the simulated board: %w", err)
	}
	return nil
}

// PowerOn powers the board on; it boots from flash. Use WaitBoot to wait
// for the boot.
func (b *Board) PowerOn() error {
	b.powerMu.Lock()
	defer b.powerMu.Unlock()
	b.mu.Lock()
	b.powered = true
	b.mu.Unlock()

	if err := b.sendControl(map[string]any{"op": "power", "on": true}); err != nil {
		return fmt.Errorf("powering on the simulated board: %w", err)
	}
	return nil
}

// PowerCut cuts the board's power and powers it on again at once, so it
// boots from flash. It returns without waiting for the boot.
func (b *Board) PowerCut() error {
	if err := b.PowerOff(); err != nil {
		return err
	}
	return b.PowerOn()
}

// CutAfterHostBytes arms a power cut right after the nth host byte, counted
// from now, crosses the wire to the board. Bytes that line faults drop count
// too. The board powers on again after
// Options.CutDowntime. A value of n below 1 disarms the cut.
func (b *Board) CutAfterHostBytes(n int64) {
	b.mu.Lock()
	b.cutAfter = max(n, 0)
	b.mu.Unlock()
}

// CutAt arms a power cut that the board makes itself right after its count-th
// event, counted from now. The event is one of CutEvents, or "" to disarm.
// The board powers on again after Options.CutDowntime.
func (b *Board) CutAt(event string, count int) error {
	if event != "" && !slices.Contains(CutEvents, event) {
		return fmt.Errorf("invalid cut event %q: use one of %v, or \"\" to disarm", event, CutEvents)
	}
	if event != "" && count < 1 {
		return fmt.Errorf("invalid cut count %d for event %q: counts start at 1", count, event)
	}
	msg := map[string]any{"op": "cut_at", "event": event}
	if event != "" {
		msg["count"] = count
	}
	if err := b.sendControl(msg); err != nil {
		return fmt.Errorf("arming power cut at %s %d: %w", event, count, err)
	}
	return nil
}

// SetFaults sets the probabilities in [0, 1] that a byte on the wire is
// dropped or has a bit flipped, in both directions, from the next byte on.
func (b *Board) SetFaults(drop, corrupt float64) error {
	if err := checkRate("drop rate", drop); err != nil {
		return err
	}
	if err := checkRate("corrupt rate", corrupt); err != nil {
		return err
	}
	b.hostFaults.set(drop, corrupt)
	b.boardFaults.set(drop, corrupt)
	return nil
}

// cutPower cuts power for an armed cut and schedules the power-on.
func (b *Board) cutPower() {
	if err := b.PowerOff(); err != nil {
		b.log.Error("armed power cut failed", "err", err)
		return
	}
	b.mu.Lock()
	b.scheduleRestoreLocked()
	b.mu.Unlock()
}

// scheduleRestoreLocked powers the board on after Options.CutDowntime, unless
// it is negative.
func (b *Board) scheduleRestoreLocked() {
	if b.opts.CutDowntime < 0 || b.isClosed() {
		return
	}
	if b.restoreTimer != nil {
		b.restoreTimer.Stop()
	}
	b.restoreTimer = time.AfterFunc(b.opts.CutDowntime, func() {
		if err := b.PowerOn(); err != nil && !b.isClosed() {
			b.log.Error("power-on after a cut failed", "err", err)
		}
	})
}
