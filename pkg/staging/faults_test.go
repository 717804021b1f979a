package staging_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/otaflash/otaflash/pkg/staging"
)

// faultRunTimeout bounds one Update of the 20 KB release on a faulty line.
// A clean run takes a few seconds. Each spoiled command costs a few reply
// timeouts of 5 s at most, and staging tries a file 3 times.
const faultRunTimeout = 2 * time.Minute

// faultVersions returns two versions of a release of about 20 KB in which
// every file differs, so that an update either way sends every byte.
func faultVersions() (a, b appVersion) {
	files := func(tag string, seed uint64) map[string][]byte {
		return map[string][]byte{
			"main.py":        pyModule("main_"+tag, 1500),
			"app.py":         pyModule("app_"+tag, 3500),
			"lib/sensors.py": pyModule("sensors_"+tag, 4000),
			"lib/net.py":     pyModule("net_"+tag, 2500),
			"lib/font.bin":   randomBytes(seed, 4096),
			"web/index.html": pyModule("index_"+tag, 2000),
			"web/icon.bin":   randomBytes(seed+1, 2500),
		}
	}
	return appVersion{version: "1.0.0", files: files("a", 10)}, appVersion{version: "2.0.0", files: files("b", 20)}
}

// faultTally counts the outcomes of the runs on a faulty line.
type faultTally struct {
	runs, succeeded, failedClean, failedSwapped int
	slowest, total                              time.Duration
	lastErr                                     error
}

func TestUpdateUnderLineFaults(t *testing.T) {
	t.Parallel()
	runs := 2
	if fullSweep() {
		runs = 6
	}
	for _, fw := range firmwares {
		for _, rate := range []float64{1e-4, 1e-3} {
			t.Run(fmt.Sprintf("firmware %s rate %g", fw, rate), func(t *testing.T) {
				t.Parallel()
				seed := int64(rate*1e6) + int64(len(fw))
				sb := startSweepBoard(t, fw, seed)
				a, b := faultVersions()
				ctx := testContext(t)
				stg, conn := sb.session(t, staging.Options{})
				if err := stg.InstallRecovery(ctx); err != nil {
					t.Fatalf("InstallRecovery: %v", err)
				}
				if _, err := stg.Update(ctx, a.request(t)); err != nil {
					t.Fatalf("Update to %s on a clean line: %v", a.version, err)
				}
				conn.Close()

				tally := faultTally{}
				old, target := a, b
				for run := 1; run <= runs; run++ {
					// Half the faults drop a byte and half flip a bit.
					if err := sb.board.SetFaults(rate/2, rate/2); err != nil {
						t.Fatal(err)
					}
					installed := updateOnFaultyLine(t, sb, old, target, &tally)
					if installed != target.version {
						// A run without faults finishes what the faulty one left.
						if err := sb.board.SetFaults(0, 0); err != nil {
							t.Fatal(err)
						}
						finishOnCleanLine(t, sb, target)
					}
					old, target = target, old
				}
				st := sb.board.Stats()
				t.Logf("firmware %s, rate %g: runs %d, succeeded %d, failed cleanly %d, failed after the swap %d; run time mean %v, max %v; line dropped %d, corrupted %d bytes; last error: %v",
					fw, rate, tally.runs, tally.succeeded, tally.failedClean, tally.failedSwapped,
					(tally.total / time.Duration(max(tally.runs, 1))).Round(time.Millisecond),
					tally.slowest.Round(time.Millisecond), st.LineDropped, st.LineCorrupted, tally.lastErr)
			})
		}
	}
}

// updateOnFaultyLine runs one Update from old to target in a new session
// and checks its outcome: target installed and identical byte for byte, or
// an error with one whole version in the app folder. It returns the
// version installed.
func updateOnFaultyLine(t *testing.T, sb *sweepBoard, old, target appVersion, tally *faultTally) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(testContext(t), faultRunTimeout)
	defer cancel()
	stg, conn := sb.session(t, staging.Options{Logf: t.Logf})
	defer conn.Close()

	start := time.Now()
	_, err := stg.Update(ctx, target.request(t))
	elapsed := time.Since(start)
	tally.runs++
	tally.total += elapsed
	tally.slowest = max(tally.slowest, elapsed)
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Update to %s did not end within %v: %v", target.version, faultRunTimeout, err)
	}

	installed := matchVersion(t, sb.flash, "project", old, target)
	switch {
	case err == nil:
		tally.succeeded++
		checkFolder(t, sb.flash, "project", target)
	case installed == old.version:
		tally.failedClean++
		tally.lastErr = err
	case installed == target.version:
		// The swap ran but its output was spoiled on the line.
		tally.failedSwapped++
		tally.lastErr = err
	default:
		t.Errorf("Update to %s failed with %v and left /project as neither version: %s",
			target.version, err, describeFolder(t, sb.flash, "project"))
	}
	if err != nil && err.Error() == "" {
		t.Errorf("Update to %s failed with an empty error message", target.version)
	}
	return installed
}

// finishOnCleanLine runs an Update to target without line faults and
// checks that it installs target.
func finishOnCleanLine(t *testing.T, sb *sweepBoard, target appVersion) {
	t.Helper()
	ctx, cancel := context.WithTimeout(testContext(t), faultRunTimeout)
	defer cancel()
	stg, conn := sb.session(t, staging.Options{})
	defer conn.Close()
	if _, err := stg.Update(ctx, target.request(t)); err != nil {
		t.Fatalf("Update to %s on a clean line after a failed run: %v", target.version, err)
	}
	checkFolder(t, sb.flash, "project", target)
}

func TestUpdateCancelledMidway(t *testing.T) {
	t.Parallel()
	for _, fw := range firmwares {
		t.Run("firmware "+fw, func(t *testing.T) {
			t.Parallel()
			sb := startSweepBoard(t, fw, 1)
			a, b := faultVersions()
			ctx := testContext(t)
			stg, conn := sb.session(t, staging.Options{})
			if _, err := stg.Update(ctx, a.request(t)); err != nil {
				t.Fatalf("Update to %s: %v", a.version, err)
			}
			conn.Close()

			// Cancel from another goroutine, as the Ctrl-C handler does, once
			// half the release's bytes are sent.
			runCtx, cancel := context.WithCancel(ctx)
			defer cancel()
			var once sync.Once
			half := make(chan struct{})
			progress := func(p staging.Progress) {
				if p.Done*2 >= p.Total {
					once.Do(func() { close(half) })
				}
			}
			cancelledAt := make(chan time.Time, 1)
			go func() {
				select {
				case <-half:
					cancelledAt <- time.Now()
					cancel()
				case <-runCtx.Done():
				}
			}()
			stg, conn = sb.session(t, staging.Options{Progress: progress})
			_, err := stg.Update(runCtx, b.request(t))
			returned := time.Now()
			conn.Close()
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("cancelled Update returned %v, want context.Canceled", err)
			}
			delay := returned.Sub(<-cancelledAt)
			t.Logf("firmware %s: Update returned %v after the cancel", fw, delay.Round(time.Millisecond))
			if delay > time.Second {
				t.Errorf("Update returned %v after the cancel, want within 1s", delay)
			}
			checkFolder(t, sb.flash, "project", a)

			stg, _ = sb.session(t, staging.Options{})
			rep, err := stg.Update(ctx, b.request(t))
			if err != nil {
				t.Fatalf("Update to %s after the cancelled one: %v", b.version, err)
			}
			if !rep.Stage.Resumed {
				t.Errorf("Update after the cancelled one: Stage.Resumed = false, want the staging of %s resumed", b.version)
			}
			if rep.Stage.Kept == 0 {
				t.Errorf("Update after the cancelled one kept no file of the first half")
			}
			checkFolder(t, sb.flash, "project", b)
			checkFolder(t, sb.flash, "prev", a)
		})
	}
}
