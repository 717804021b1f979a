package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/otaflash/otaflash/pkg/simboard"
	"github.com/otaflash/otaflash/pkg/simboard/simtest"
)

// run runs otaflash with args and returns its exit code, stdout and stderr.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Main(args, strings.NewReader(""), &stdout, &stderr)
	t.Logf("otaflash %s -> %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, stdout.String(), stderr.String())
	return code, stdout.String(), stderr.String()
}

func startBoard(t *testing.T, firmware string, files map[string]string) (*simboard.Board, string) {
	t.Helper()
	flash := t.TempDir()
	for name, body := range files {
		p := filepath.Join(flash, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	board := simtest.Start(t, func(o *simboard.Options) {
		o.FlashDir = flash
		o.Firmware = firmware
	})
	return board, flash
}

func sampleApp(version string) string {
	return filepath.Join("..", "..", "testdata", "sampleapp", version)
}

func TestUpdateFromSourceThenStatus(t *testing.T) {
	t.Parallel()
	for _, fw := range []string{"1.27", "1.13"} {
		t.Run("firmware "+fw, func(t *testing.T) {
			t.Parallel()
			board, flash := startBoard(t, fw, nil)
			code, stdout, _ := run(t, "update", "--port", board.Port(), "--source", sampleApp("v1.0.0"), "--version", "1.0.0")
			if code != 0 {
				t.Fatalf("update exit code = %d, want 0", code)
			}
			if !strings.Contains(stdout, "installed: 1.0.0") {
				t.Errorf("update stdout lacks the installed version:\n%s", stdout)
			}
			version, err := os.ReadFile(filepath.Join(flash, "project", ".version"))
			if err != nil || string(version) != "1.0.0" {
				t.Errorf("/project/.version = %q, %v", version, err)
			}

			code, stdout, _ = run(t, "status", "--port", board.Port())
			if code != 0 {
				t.Fatalf("status exit code = %d", code)
			}
			if !strings.Contains(stdout, "installed:  1.0.0 in /project") {
				t.Errorf("status stdout lacks the installed version:\n%s", stdout)
			}

			code, stdout, _ = run(t, "update", "--port", board.Port(), "--source", sampleApp("v1.0.0"), "--version", "1.0.0")
			if code != 0 || !strings.Contains(stdout, "up to date") {
				t.Errorf("second update: exit code %d, stdout:\n%s", code, stdout)
			}
		})
	}
}

func TestUpdateErrorsNameTheFix(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "ttyUSB7")
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{name: "no port", args: []string{"update", "--source", sampleApp("v1.0.0")}, wantCode: exitError, wantErr: "missing --port"},
		{name: "no release", args: []string{"update", "--port", missing}, wantCode: exitError, wantErr: "pass --repo owner/name, or --source"},
		{name: "missing port", args: []string{"update", "--port", missing, "--source", sampleApp("v1.0.0"), "--version", "1"}, wantCode: exitPort, wantErr: "serial port not found"},
		{name: "parent main dir", args: []string{"status", "--port", missing, "--main-dir", ".."}, wantCode: exitError, wantErr: "invalid --main-dir"},
		{name: "version with newline", args: []string{"update", "--port", missing, "--source", sampleApp("v1.0.0"), "--version", "1.0\n0"}, wantCode: exitError, wantErr: "invalid version"},
		{name: "reserved main dir", args: []string{"status", "--port", missing, "--main-dir", "next"}, wantCode: exitError, wantErr: "invalid --main-dir"},
		{name: "bad transfer", args: []string{"update", "--port", missing, "--source", sampleApp("v1.0.0"), "--transfer", "fast"}, wantCode: exitError, wantErr: "invalid --transfer"},
		{name: "bad repo", args: []string{"update", "--port", missing, "--repo", "nodash"}, wantCode: exitError, wantErr: "owner/name"},
		{name: "range with source", args: []string{"update", "--port", missing, "--source", sampleApp("v1.0.0"), "--version", "^1.2"}, wantCode: exitError, wantErr: "invalid --version \"^1.2\" with --source"},
		{name: "wildcard with source", args: []string{"update", "--port", missing, "--source", sampleApp("v1.0.0"), "--version", "1.x"}, wantCode: exitError, wantErr: "name the version of the local release"},
		{name: "missing source", args: []string{"update", "--port", missing, "--source", filepath.Join(t.TempDir(), "nope")}, wantCode: exitError, wantErr: "pass a folder or a .tar.gz that exists"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, _, stderr := run(t, tc.args...)
			if code != tc.wantCode {
				t.Errorf("exit code = %d, want %d", code, tc.wantCode)
			}
			if !strings.Contains(stderr, tc.wantErr) {
				t.Errorf("stderr = %q, want it to contain %q", stderr, tc.wantErr)
			}
		})
	}
}

func TestUpdateBoardNotAnswering(t *testing.T) {
	t.Parallel()
	board, _ := startBoard(t, "1.27", map[string]string{
		"main.py": "import micropython, time\nmicropython.kbd_intr(-1)\nwhile True:\n    time.sleep(0.05)\n",
	})
	code, _, stderr := run(t, "status", "--port", board.Port())
	if code != exitNoAnswer {
		t.Errorf("exit code = %d, want %d", code, exitNoAnswer)
	}
	if !strings.Contains(stderr, board.Port()) {
		t.Errorf("stderr %q should name the port", stderr)
	}
}

func TestRevertAndRevertDebug(t *testing.T) {
	t.Parallel()
	board, flash := startBoard(t, "1.27", nil)
	for _, v := range []string{"v1.0.0", "v1.1.0"} {
		if code, _, _ := run(t, "update", "--port", board.Port(), "--source", sampleApp(v), "--version", strings.TrimPrefix(v, "v"), "--no-reset"); code != 0 {
			t.Fatalf("update to %s: exit code %d", v, code)
		}
	}
	code, stdout, _ := run(t, "revert", "--port", board.Port(), "--no-reset")
	if code != 0 || !strings.Contains(stdout, "now runs 1.0.0") {
		t.Fatalf("revert: exit code %d, stdout:\n%s", code, stdout)
	}
	code, stdout, _ = run(t, "revert-debug", "--port", board.Port())
	if code != 0 || !strings.Contains(stdout, "/next/.version_on_reboot") {
		t.Fatalf("revert-debug: exit code %d, stdout:\n%s", code, stdout)
	}
	body, err := os.ReadFile(filepath.Join(flash, "next", ".version_on_reboot"))
	if err != nil || string(body) != "1.0.0" {
		t.Errorf("/next/.version_on_reboot = %q, %v; want 1.0.0", body, err)
	}
	code, stdout, _ = run(t, "status", "--port", board.Port(), "--json")
	if code != 0 || !strings.Contains(stdout, `"staging": "1.0.0"`) {
		t.Errorf("status --json: exit code %d, stdout:\n%s", code, stdout)
	}
}
