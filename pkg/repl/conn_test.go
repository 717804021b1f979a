package repl_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/otaflash/otaflash/pkg/repl"
	"github.com/otaflash/otaflash/pkg/simboard"
	"github.com/otaflash/otaflash/pkg/simboard/simtest"
)

// startBoard starts a simulated board whose flash holds files, and opens a
// raw REPL session on its port as otaflash does.
func startBoard(t *testing.T, firmware string, files map[string]string) (*repl.Conn, *simboard.Board) {
	t.Helper()
	flash := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(flash, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	board := simtest.Start(t, func(o *simboard.Options) {
		o.FlashDir = flash
		o.Firmware = firmware
	})
	port, err := repl.OpenSerial(board.Port(), 115200)
	if err != nil {
		t.Fatalf("OpenSerial(%s): %v", board.Port(), err)
	}
	conn := repl.New(port, repl.Options{Timeout: 5 * time.Second})
	t.Cleanup(func() { conn.Close() })
	return conn, board
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

var firmwares = []string{"1.27", "1.13"}

func TestExecReturnsOutput(t *testing.T) {
	t.Parallel()
	for _, fw := range firmwares {
		t.Run("firmware "+fw, func(t *testing.T) {
			t.Parallel()
			conn, _ := startBoard(t, fw, nil)
			out, err := conn.Exec(testContext(t), "print(6*7)\nprint('a\\x00b')")
			if err != nil {
				t.Fatalf("Exec: %v", err)
			}
			if got, want := string(out), "42\r\na\x00b\r\n"; got != want {
				t.Errorf("output = %q, want %q", got, want)
			}
		})
	}
}

func TestExecRaisesRemoteError(t *testing.T) {
	t.Parallel()
	conn, _ := startBoard(t, "1.27", nil)
	ctx := testContext(t)
	out, err := conn.Exec(ctx, "print('before')\n1/0")
	var remote *repl.RemoteError
	if !errors.As(err, &remote) {
		t.Fatalf("Exec error = %v, want *RemoteError", err)
	}
	if got := remote.Type(); got != "ZeroDivisionError" {
		t.Errorf("Type() = %q, want ZeroDivisionError", got)
	}
	if !strings.Contains(remote.Traceback, "Traceback (most recent call last)") {
		t.Errorf("Traceback = %q, want the board's traceback", remote.Traceback)
	}
	if string(out) != "before\r\n" {
		t.Errorf("output = %q, want the output printed before the exception", out)
	}
	// The session stays usable after an exception.
	out, err = conn.Exec(ctx, "print(1)")
	if err != nil || string(out) != "1\r\n" {
		t.Errorf("Exec after exception = %q, %v", out, err)
	}
}

func TestRawPasteUsedWhereOffered(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		firmware  string
		wantPaste bool
	}{
		{firmware: "1.27", wantPaste: true},
		{firmware: "1.13", wantPaste: false},
	} {
		t.Run("firmware "+tc.firmware, func(t *testing.T) {
			t.Parallel()
			conn, _ := startBoard(t, tc.firmware, nil)
			// A 3 KB command needs many raw-paste windows of 128 bytes.
			var code strings.Builder
			for i := 0; i < 100; i++ {
				code.WriteString("x = 12345678901234567890\n")
			}
			code.WriteString("print(x + 1)")
			out, err := conn.Exec(testContext(t), code.String())
			if err != nil {
				t.Fatalf("Exec: %v", err)
			}
			if string(out) != "12345678901234567891\r\n" {
				t.Errorf("output = %q", out)
			}
			if got := conn.RawPaste(); got != tc.wantPaste {
				t.Errorf("RawPaste() = %v, want %v", got, tc.wantPaste)
			}
		})
	}
}

func TestEnterRawInterruptsLoopingMain(t *testing.T) {
	t.Parallel()
	main := "import time\nn = 0\nwhile True:\n    n += 1\n    print('tick', n)\n    time.sleep(0.05)\n"
	for _, fw := range firmwares {
		t.Run("firmware "+fw, func(t *testing.T) {
			t.Parallel()
			conn, _ := startBoard(t, fw, map[string]string{"main.py": main})
			ctx := testContext(t)
			if err := conn.EnterRaw(ctx); err != nil {
				t.Fatalf("EnterRaw: %v", err)
			}
			out, err := conn.Exec(ctx, "print(n > 0)")
			if err != nil {
				t.Fatalf("Exec: %v", err)
			}
			if string(out) != "True\r\n" {
				t.Errorf("output = %q, want main.py's counter visible after the interrupt", out)
			}
		})
	}
}

func TestEnterRawReportsBoardNotAnswering(t *testing.T) {
	t.Parallel()
	// main.py turns Ctrl-C off and keeps running: the REPL never comes back.
	main := "import micropython, time\nmicropython.kbd_intr(-1)\nwhile True:\n    time.sleep(0.05)\n"
	conn, _ := startBoard(t, "1.27", map[string]string{"main.py": main})
	start := time.Now()
	err := conn.EnterRaw(testContext(t))
	if !errors.Is(err, repl.ErrNoResponse) {
		t.Fatalf("EnterRaw error = %v, want ErrNoResponse", err)
	}
	if !strings.Contains(err.Error(), "kbd_intr") {
		t.Errorf("error %q should name the likely cause", err)
	}
	if elapsed := time.Since(start); elapsed > 20*time.Second {
		t.Errorf("EnterRaw took %s to give up", elapsed)
	}
}

func TestSoftResetRunsMain(t *testing.T) {
	t.Parallel()
	conn, _ := startBoard(t, "1.27", nil)
	ctx := testContext(t)
	if _, err := conn.Exec(ctx, "f = open('main.py', 'w')\nf.write('ran = 1\\n')\nf.close()"); err != nil {
		t.Fatalf("writing main.py: %v", err)
	}
	if err := conn.SoftReset(ctx); err != nil {
		t.Fatalf("SoftReset: %v", err)
	}
	out, err := conn.Exec(ctx, "print(ran)")
	if err != nil {
		t.Fatalf("Exec after reset: %v", err)
	}
	if string(out) != "1\r\n" {
		t.Errorf("output = %q, want main.py to have run after the soft reset", out)
	}
}

func TestExecRejectsControlBytes(t *testing.T) {
	t.Parallel()
	conn, _ := startBoard(t, "1.27", nil)
	_, err := conn.Exec(testContext(t), "print('\x04')")
	if err == nil || !strings.Contains(err.Error(), "control byte 0x04") {
		t.Fatalf("Exec error = %v, want a control byte error", err)
	}
}

func TestOpenSerialMissingPort(t *testing.T) {
	t.Parallel()
	_, err := repl.OpenSerial(filepath.Join(t.TempDir(), "ttyUSB9"), 115200)
	if !errors.Is(err, repl.ErrPortNotFound) {
		t.Fatalf("OpenSerial error = %v, want ErrPortNotFound", err)
	}
}

func TestEnterRawFreesStuckReceiver(t *testing.T) {
	t.Parallel()
	// main.py reads a 200-byte block and then lengths from stdin with Ctrl-C
	// off, as otaflash's binary receiver does, and loops once a zero length
	// ends it: the board is stuck until something completes the block.
	main := "import sys, micropython, time\n" +
		"micropython.kbd_intr(-1)\n" +
		"b = bytearray(256)\n" +
		"sys.stdin.buffer.readinto(memoryview(b)[:200])\n" +
		"while True:\n" +
		"    sys.stdin.buffer.readinto(memoryview(b)[:2])\n" +
		"    if b[0] == 0 and b[1] == 0:\n" +
		"        break\n" +
		"micropython.kbd_intr(3)\n" +
		"freed = True\n" +
		"while True:\n" +
		"    time.sleep(0.05)\n"
	conn, _ := startBoard(t, "1.27", map[string]string{"main.py": main})
	ctx := testContext(t)
	if err := conn.EnterRaw(ctx); err != nil {
		t.Fatalf("EnterRaw: %v", err)
	}
	out, err := conn.Exec(ctx, "print(freed)")
	if err != nil || string(out) != "True\r\n" {
		t.Errorf("Exec = %q, %v; want the receiver to have ended", out, err)
	}
}

func TestOpenSerialRejectsSecondRun(t *testing.T) {
	t.Parallel()
	_, board := startBoard(t, "1.27", nil)
	// startBoard holds the port open, as one otaflash run does.
	_, err := repl.OpenSerial(board.Port(), 115200)
	if !errors.Is(err, repl.ErrPortBusy) {
		t.Fatalf("second OpenSerial error = %v, want ErrPortBusy", err)
	}
}

func TestOpenSerialRejectsNonSerialFile(t *testing.T) {
	t.Parallel()
	_, err := repl.OpenSerial("/dev/null", 115200)
	if err == nil || !strings.Contains(err.Error(), "is not a serial port") {
		t.Fatalf("OpenSerial(/dev/null) error = %v, want a not-a-serial-port error", err)
	}
}

// TestExecReportsClosedPort stops the simulated board, which closes its
// pseudo-terminal as an unplugged USB serial device does, and checks that
// the next command fails with ErrClosed instead of waiting out its timeout.
func TestExecReportsClosedPort(t *testing.T) {
	t.Parallel()
	conn, board := startBoard(t, "1.27", nil)
	ctx := context.Background()
	if _, err := conn.Exec(ctx, "print(1)"); err != nil {
		t.Fatalf("Exec: %v", err)
	}
	if err := board.Close(); err != nil {
		t.Fatalf("stopping the board: %v", err)
	}
	start := time.Now()
	_, err := conn.Exec(ctx, "print(2)")
	if !errors.Is(err, repl.ErrClosed) {
		t.Fatalf("Exec on a closed port: %v, want ErrClosed", err)
	}
	if waited := time.Since(start); waited > 5*time.Second {
		t.Errorf("Exec on a closed port took %v", waited)
	}
}
