package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/otaflash/otaflash/pkg/simboard"
)

// runBoard starts the board, prints its port and runs it until ctx ends or
// the board fails.
func runBoard(ctx context.Context, opts simboard.Options, stdout, stderr io.Writer) error {
	if err := os.MkdirAll(opts.FlashDir, 0o755); err != nil {
		return fmt.Errorf("creating flash folder: %w", err)
	}
	b, err := simboard.Start(ctx, opts)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, b.Port())

	// Wait returns when ctx ends, or earlier with the error that stopped
	// the board, because no counter value satisfies the condition.
	waitErr := b.Wait(ctx, func(simboard.Stats) bool { return false })
	closeErr := b.Close()
	fmt.Fprintln(stderr, summary(b.Stats()))

	if errors.Is(waitErr, context.Canceled) || errors.Is(waitErr, simboard.ErrClosed) {
		return closeErr
	}
	return errors.Join(waitErr, closeErr)
}

// summary returns the one-line report of the board's counters.
func summary(s simboard.Stats) string {
	return fmt.Sprintf("simboard: host to board %d B, board to host %d B, boots %d, power cuts %d, "+
		"commands %d (largest %d B, memory errors %d), max mem_alloc %d B, overrun %d B, "+
		"line dropped %d B, corrupted %d B, lost while off %d B",
		s.HostToBoard, s.BoardToHost, s.Boots, s.PowerCuts,
		s.Commands, s.LargestCommand, s.MemoryErrors, s.MaxMemAlloc, s.Overrun,
		s.LineDropped, s.LineCorrupted, s.LostPoweredOff)
}
