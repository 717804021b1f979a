package main

import (
	"context"
	"strings"
	"testing"
)

// TestBenchSmallApp runs the whole benchmark on one profile and mode with a
// small app: it builds otaflash, starts simulated boards through real
// pseudo-terminals and checks that the report has both runs.
func TestBenchSmallApp(t *testing.T) {
	if testing.Short() {
		t.Skip("builds otaflash and starts two simulated boards")
	}
	var stdout, stderr strings.Builder
	args := []string{"--profiles", "1.13", "--modes", "binary", "--size", "3000", "--files", "4"}
	code := run(context.Background(), args, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("run exit code = %d, want 0\nstderr:\n%s", code, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{
		"Command: `bash scripts/bench --profiles 1.13 --modes binary --size 3000 --files 4`",
		"| 1.13 | binary | full install | ",
		"| 1.13 | binary | 1 file changed | ",
		"App: 4 files, 3000 bytes",
		"Targets:",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Warning:") {
		t.Errorf("report has a warning:\n%s", out)
	}
}

func TestBenchInvalidFlag(t *testing.T) {
	var stdout, stderr strings.Builder
	code := run(context.Background(), []string{"--modes", "hex"}, &stdout, &stderr)
	if code != 2 {
		t.Errorf("exit code = %d, want 2", code)
	}
	if !strings.Contains(stderr.String(), `invalid --modes entry "hex"`) {
		t.Errorf("stderr lacks the invalid mode:\n%s", stderr.String())
	}
}
