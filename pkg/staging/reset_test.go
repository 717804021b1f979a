package staging_test

import (
	"testing"
)

// TestHelpersLostBetweenCommands removes the helpers from the board behind
// the session's back, as a soft reset does when a Ctrl-E (0x05) changed into
// Ctrl-D (0x04) on the line, and checks that the next command defines them
// again instead of failing.
func TestHelpersLostBetweenCommands(t *testing.T) {
	t.Parallel()
	r := newRig(t, "1.27")
	ctx := testContext(t)
	if _, err := r.stg.Inspect(ctx); err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	wipe := "for n in list(globals()):\n if n[0] == '_' and n[:2] != '__':\n  del globals()[n]"
	if _, err := r.conn.Exec(ctx, wipe); err != nil {
		t.Fatalf("removing the helpers: %v", err)
	}
	if _, err := r.stg.Inspect(ctx); err != nil {
		t.Fatalf("Inspect without the helpers: %v", err)
	}
}
