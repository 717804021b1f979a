package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.bug.st/serial"
)

// lockedBuffer is a stderr that the test reads while run writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestHelpDocumentsEveryFlag(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"--help"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("--help exit code = %d, want %d; stderr %q", code, exitOK, stderr.String())
	}
	help := stdout.String()
	flags := []struct {
		name        string
		wantDefault string
	}{
		{name: "--flash", wantDefault: "(required)"},
		{name: "--firmware", wantDefault: `(default "1.27")`},
		{name: "--baud", wantDefault: "(default 115200)"},
		{name: "--latency", wantDefault: "(default 2ms)"},
		{name: "--rx-buffer", wantDefault: "(default 256)"},
		{name: "--command-cost", wantDefault: "(default 3ms)"},
		{name: "--flash-write-rate", wantDefault: "(default 60000)"},
		{name: "--flash-size", wantDefault: "(default 1048576)"},
		{name: "--max-command", wantDefault: "(default 8192)"},
		{name: "--heap", wantDefault: "(default 30720)"},
		{name: "--seed", wantDefault: "(default 0)"},
		{name: "--drop-rate", wantDefault: "(default 0)"},
		{name: "--corrupt-rate", wantDefault: "(default 0)"},
		{name: "--verbose", wantDefault: ""},
	}
	for _, f := range flags {
		line := helpLine(help, f.name)
		if line == "" {
			t.Errorf("help lacks flag %s:\n%s", f.name, help)
			continue
		}
		if !strings.Contains(line, f.wantDefault) {
			t.Errorf("help line of %s = %q, want it to contain %q", f.name, line, f.wantDefault)
		}
	}
}

// helpLine returns the help line of the flag name, or "".
func helpLine(help, name string) string {
	for _, line := range strings.Split(help, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), name+" ") || strings.Contains(line, ", "+name+" ") {
			return line
		}
	}
	return ""
}

func TestInvalidCommandLines(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{name: "no flash", args: nil, wantCode: exitUsage, wantErr: "missing --flash DIR"},
		{name: "unknown flag", args: []string{"--flash", t.TempDir(), "--speed", "3"}, wantCode: exitUsage,
			wantErr: "unknown flag: --speed"},
		{name: "bad firmware", args: []string{"--flash", t.TempDir(), "--firmware", "2.0"}, wantCode: exitError,
			wantErr: `invalid firmware "2.0"`},
		{name: "bad drop rate", args: []string{"--flash", t.TempDir(), "--drop-rate", "-1"}, wantCode: exitError,
			wantErr: "invalid drop rate -1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, &stdout, &stderr)
			if code != tt.wantCode {
				t.Errorf("exit code = %d, want %d", code, tt.wantCode)
			}
			if !strings.Contains(stderr.String(), tt.wantErr) {
				t.Errorf("stderr = %q, want it to contain %q", stderr.String(), tt.wantErr)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout = %q, want nothing", stdout.String())
			}
		})
	}
}

func TestRunServesBoardUntilCancelled(t *testing.T) {
	simDir := filepath.Join("..", "..", "sim")
	if _, err := os.Stat(filepath.Join(simDir, "node_modules")); err != nil {
		t.Skipf("simulated board packages not installed (run `npm ci --prefix sim`): %v", err)
	}
	flash := filepath.Join(t.TempDir(), "new", "flash")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdoutR, stdoutW := io.Pipe()
	stderr := &lockedBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"--flash", flash, "--sim-dir", simDir}, stdoutW, stderr)
		stdoutW.Close()
	}()

	stdout := bufio.NewReader(stdoutR)
	portPath, err := stdout.ReadString('\n')
	if err != nil {
		t.Fatalf("reading port path: %v; stderr %q", err, stderr.String())
	}
	portPath = strings.TrimSpace(portPath)
	if !strings.HasPrefix(portPath, "/dev/") {
		t.Errorf("first line of stdout = %q, want a device path", portPath)
	}
	if info, err := os.Stat(flash); err != nil || !info.IsDir() {
		t.Errorf("flash folder %s not created: %v", flash, err)
	}

	port, err := serial.Open(portPath, &serial.Mode{BaudRate: 115200})
	if err != nil {
		t.Fatalf("opening %s: %v", portPath, err)
	}
	defer port.Close()
	port.SetReadTimeout(100 * time.Millisecond)
	var got []byte
	deadline := time.Now().Add(20 * time.Second)
	for !bytes.Contains(got, []byte(">>> ")) && time.Now().Before(deadline) {
		buf := make([]byte, 256)
		n, err := port.Read(buf)
		if err != nil {
			t.Fatalf("reading %s: %v", portPath, err)
		}
		got = append(got, buf[:n]...)
	}
	if !bytes.Contains(got, []byte("MicroPython")) {
		t.Errorf("port output = %q, want the MicroPython banner", got)
	}

	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Errorf("exit code after cancel = %d, want %d; stderr %q", code, exitOK, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after cancel")
	}
	summary := stderr.String()
	if !strings.HasPrefix(summary, "simboard: host to board 0 B, board to host ") || !strings.Contains(summary, "boots 1") {
		t.Errorf("stderr = %q, want the one-line summary with 1 boot", summary)
	}
	if n := strings.Count(summary, "\n"); n != 1 {
		t.Errorf("stderr has %d lines, want 1: %q", n, summary)
	}
}
