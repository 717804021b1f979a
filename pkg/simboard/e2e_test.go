package simboard_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/otaflash/otaflash/pkg/simboard"
)

func TestBoardPrintsBannerAfterBoot(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		firmware   string
		wantBanner string
	}{
		{name: "default firmware", wantBanner: "MicroPython v1.27.0 on "},
		{name: "v1.13", firmware: "1.13", wantBanner: "MicroPython v1.13 on 2020-09-02; ESP module with ESP8266\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := startReal(t, func(o *simboard.Options) { o.Firmware = tt.firmware })
			c := openConn(t, b)

			banner := c.readUntil(">>> ", 10*time.Second)
			if !strings.Contains(banner, tt.wantBanner) {
				t.Errorf("banner = %q, want it to contain %q", banner, tt.wantBanner)
			}
			if !strings.Contains(banner, "; ESP module with ESP8266\r\n") {
				t.Errorf("banner = %q, want the board named ESP module with ESP8266", banner)
			}

			if err := b.PowerCut(); err != nil {
				t.Fatal(err)
			}
			waitBoot(t, b, 2)
			again := c.readUntil(">>> ", 10*time.Second)
			if !strings.Contains(again, tt.wantBanner) {
				t.Errorf("banner after power cut = %q, want it to contain %q", again, tt.wantBanner)
			}
		})
	}
}

func TestRawREPLRunsCommands(t *testing.T) {
	t.Parallel()
	b := startReal(t)
	c := openConn(t, b)
	c.enterRaw()

	tests := []struct {
		name       string
		src        string
		wantStdout string
		wantStderr string
	}{
		{name: "print", src: "print(1+1)", wantStdout: "2\r\n"},
		{name: "no output", src: "x = 5"},
		{name: "state kept", src: "print(x * 2)", wantStdout: "10\r\n"},
		{name: "traceback", src: "1/0", wantStderr: "Traceback (most recent call last):\r\n" +
			"  File \"<stdin>\", line 1, in <module>\r\nZeroDivisionError: divide by zero\r\n"},
		{name: "output then error", src: "print('a')\nraise ValueError('bad')", wantStdout: "a\r\n",
			wantStderr: "Traceback (most recent call last):\r\n" +
				"  File \"<stdin>\", line 2, in <module>\r\nValueError: bad\r\n"},
	}
	for _, tt := range tests {
		stdout, stderr := c.execRaw(tt.src)
		if stdout != tt.wantStdout {
			t.Errorf("%s: stdout = %q, want %q", tt.name, stdout, tt.wantStdout)
		}
		if stderr != tt.wantStderr {
			t.Errorf("%s: stderr = %q, want %q", tt.name, stderr, tt.wantStderr)
		}
	}

	s := b.Stats()
	if s.Commands < len(tests) {
		t.Errorf("Commands = %d, want at least %d", s.Commands, len(tests))
	}
	if last := s.RecentCommands[len(s.RecentCommands)-1]; last.Kind != "raw" || last.Bytes != len(tests[len(tests)-1].src) {
		t.Errorf("last command = %+v, want a raw command of %d bytes", last, len(tests[len(tests)-1].src))
	}
}

func TestInterruptStopsLoopingMainPy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		main string
	}{
		{name: "sleep", main: "import time\nwhile True:\n    time.sleep(0.1)\n"},
		{name: "short sleep and calls", main: "import time\ndef f(n):\n    return n + 1\n" +
			"n = 0\nwhile True:\n    n = f(n)\n    time.sleep(0.01)\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			flash := t.TempDir()
			writeFile(t, filepath.Join(flash, "main.py"), tt.main)
			b := startReal(t, func(o *simboard.Options) { o.FlashDir = flash })
			c := openConn(t, b)

			time.Sleep(200 * time.Millisecond) // let main.py enter its loop
			c.write("\x03")
			out := c.readUntil(">>> ", 10*time.Second)
			if !strings.Contains(out, "KeyboardInterrupt") {
				t.Errorf("output after Ctrl-C = %q, want a KeyboardInterrupt", out)
			}
			c.write("\x01")
			c.readUntil(rawPrompt, 5*time.Second)
			if stdout, _ := c.execRaw("print('alive')"); stdout != "alive\r\n" {
				t.Errorf("stdout after interrupt = %q, want \"alive\\r\\n\"", stdout)
			}
		})
	}
}

func TestInterruptCharFollowsKbdIntr(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		setup      string
		wantStdout string
		wantStderr string
	}{
		{name: "ctrl-c interrupts", setup: "", wantStderr: "KeyboardInterrupt"},
		{name: "kbd_intr(-1) passes ctrl-c", setup: "micropython.kbd_intr(-1)\n", wantStdout: "b'\\x03'\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := startReal(t)
			c := openConn(t, b)
			c.enterRaw()

			src := "import micropython, sys\n" + tt.setup + "print(sys.stdin.buffer.read(1))"
			c.write(src + "\x04")
			c.readUntil("OK", 5*time.Second)
			time.Sleep(100 * time.Millisecond) // let the command block in read
			c.write("\x03")
			stdout := strings.TrimSuffix(c.readUntil("\x04", 5*time.Second), "\x04")
			stderr := c.readUntil("\x04>", 5*time.Second)

			if stdout != tt.wantStdout {
				t.Errorf("stdout = %q, want %q", stdout, tt.wantStdout)
			}
			if !strings.Contains(stderr, tt.wantStderr) {
				t.Errorf("stderr = %q, want it to contain %q", stderr, tt.wantStderr)
			}
		})
	}
}

// rawPasteWindow is the flow-control window of raw-paste mode in bytes
// (shared/runtime/pyexec.c sends it after "R\x01").
const rawPasteWindow = 128

func TestRawPasteFollowsFlowControl(t *testing.T) {
	t.Parallel()
	b := startReal(t)
	c := openConn(t, b)
	c.enterRaw()

	src := "x = 0\n" + strings.Repeat("x += 1\n", 146) + "print(x)\n"
	c.write("\x05A\x01")
	if got := string(c.readN(2, 5*time.Second)); got != "R\x01" {
		t.Fatalf("raw-paste reply = %q, want \"R\\x01\"", got)
	}
	if got := c.readN(2, 5*time.Second); got[0] != rawPasteWindow || got[1] != 0 {
		t.Fatalf("window = %q, want 128 as 2 bytes little-endian", got)
	}

	grants := c.writePaste(src)
	if min := 1 + (len(src)-2*rawPasteWindow)/rawPasteWindow; grants < min {
		t.Errorf("board granted %d windows for %d bytes, want at least %d", grants, len(src), min)
	}
	stdout := strings.TrimSuffix(c.readUntil("\x04", 10*time.Second), "\x04")
	stderr := c.readUntil("\x04>", 5*time.Second)
	if stdout != "146\r\n" {
		t.Errorf("stdout = %q, want \"146\\r\\n\"", stdout)
	}
	if stderr != "\x04>" {
		t.Errorf("error output = %q, want none", stderr)
	}

	s := waitStats(t, b, "paste command", func(s simboard.Stats) bool { return s.LargestCommand >= len(src) })
	if s.Overrun != 0 {
		t.Errorf("Overrun = %d, want 0 when the host keeps to the window", s.Overrun)
	}
	if last := s.RecentCommands[len(s.RecentCommands)-1]; last.Kind != "paste" {
		t.Errorf("last command kind = %q, want \"paste\"", last.Kind)
	}
}

// writePaste sends src in raw-paste mode as MicroPython's tools/pyboard.py
// does: it never has more than the granted window in flight, and each 0x01
// from the board grants another window. It ends the source with 0x04, reads
// the board's 0x04, and returns how many windows the board granted.
func (c *conn) writePaste(src string) int {
	c.t.Helper()
	remain, grants := rawPasteWindow, 0
	readFlow := func() {
		switch got := c.readN(1, 5*time.Second)[0]; got {
		case 0x01:
			remain += rawPasteWindow
			grants++
		default:
			c.t.Fatalf("unexpected byte 0x%02x during raw-paste", got)
		}
	}
	for i := 0; i < len(src); {
		for remain == 0 || len(c.pending) > 0 {
			readFlow()
		}
		n := min(remain, len(src)-i)
		c.write(src[i : i+n])
		remain -= n
		i += n
	}
	c.write("\x04")
	for {
		if c.readN(1, 5*time.Second)[0] == 0x04 {
			return grants
		}
		remain += rawPasteWindow
		grants++
	}
}

func TestRawPasteRejectedByV113(t *testing.T) {
	t.Parallel()
	b := startReal(t, func(o *simboard.Options) { o.Firmware = "1.13" })
	c := openConn(t, b)
	c.enterRaw()

	// MicroPython v1.13 has no raw-paste: 0x05 and "A" join the line and
	// 0x01 restarts the raw REPL, which prints its banner again.
	c.write("\x05A\x01")
	if got := c.readUntil(rawPrompt, 5*time.Second); got != rawPrompt {
		t.Errorf("reply to raw-paste request = %q, want %q", got, rawPrompt)
	}
	if stdout, stderr := c.execRaw("print('plain raw')"); stdout != "plain raw\r\n" || stderr != "" {
		t.Errorf("raw command after the request: stdout %q, stderr %q, want \"plain raw\\r\\n\" and none", stdout, stderr)
	}
}

func TestOverrunCountsBytesDroppedByBusyBoard(t *testing.T) {
	t.Parallel()
	b := startReal(t)
	c := openConn(t, b)
	c.enterRaw()

	c.write("import time\ntime.sleep(1)\x04")
	c.readUntil("OK", 5*time.Second)
	const flood = 1000
	c.write(strings.Repeat("#", flood))

	s := waitStats(t, b, "overrun", func(s simboard.Stats) bool { return s.Overrun > 0 })
	time.Sleep(1200 * time.Millisecond) // the sleep ends and coalesced events arrive
	s = b.Stats()
	// The receive buffer holds at most RxBuffer bytes; the rest are dropped.
	if lo := int64(flood - simboard.DefaultRxBuffer); s.Overrun < lo || s.Overrun >= flood {
		t.Errorf("Overrun = %d, want from %d to %d for %d bytes into a %d-byte buffer",
			s.Overrun, lo, flood-1, flood, simboard.DefaultRxBuffer)
	}

	c.readUntil("\x04\x04>", 5*time.Second)
	c.write("\x04") // the buffered '#' bytes form a comment
	c.readUntil("OK\x04\x04>", 5*time.Second)
}

func TestPowerCutKeepsClosedFilesOnly(t *testing.T) {
	t.Parallel()
	flash := t.TempDir()
	b := startReal(t, func(o *simboard.Options) { o.FlashDir = flash })
	c := openConn(t, b)
	c.enterRaw()

	c.execRaw("f = open('closed.txt', 'w'); f.write('kept'); f.close()")
	c.execRaw("f = open('open.txt', 'w'); f.write('old'); f.close()")
	c.execRaw("g = open('open.txt', 'w'); g.write('new')")
	c.execRaw("h = open('new.txt', 'w'); h.write('never closed')")
	if err := b.PowerCut(); err != nil {
		t.Fatal(err)
	}
	waitBoot(t, b, 2)

	tests := []struct {
		name     string
		file     string
		want     string
		wantGone bool
	}{
		{name: "closed file survives", file: "closed.txt", want: "kept"},
		{name: "file open for writing keeps old content", file: "open.txt", want: "old"},
		{name: "new file open for writing is absent", file: "new.txt", wantGone: true},
	}
	c.enterRaw()
	for _, tt := range tests {
		data, err := os.ReadFile(filepath.Join(flash, tt.file))
		switch {
		case tt.wantGone && err == nil:
			t.Errorf("%s: %s on the host has %q, want no file", tt.name, tt.file, data)
		case !tt.wantGone && err != nil:
			t.Errorf("%s: reading %s on the host: %v", tt.name, tt.file, err)
		case !tt.wantGone && string(data) != tt.want:
			t.Errorf("%s: %s on the host = %q, want %q", tt.name, tt.file, data, tt.want)
		}
		if tt.wantGone {
			continue
		}
		stdout, stderr := c.execRaw(fmt.Sprintf("print(open(%q).read())", tt.file))
		if stdout != tt.want+"\r\n" || stderr != "" {
			t.Errorf("%s: board reads %s as %q (error %q), want %q", tt.name, tt.file, stdout, stderr, tt.want)
		}
	}
	if s := b.Stats(); s.PowerCuts != 1 {
		t.Errorf("PowerCuts = %d, want 1", s.PowerCuts)
	}
}

func TestCutAtStopsBoardAfterEvent(t *testing.T) {
	t.Parallel()
	flash := t.TempDir()
	b := startReal(t, func(o *simboard.Options) { o.FlashDir = flash })
	c := openConn(t, b)
	c.enterRaw()

	if err := b.CutAt("close", 1); err != nil {
		t.Fatal(err)
	}
	c.write("f = open('a.txt', 'w'); f.write('1'); f.close()\n" +
		"f = open('b.txt', 'w'); f.write('2'); f.close()\x04")
	waitBoot(t, b, 2)

	if data, err := os.ReadFile(filepath.Join(flash, "a.txt")); err != nil || string(data) != "1" {
		t.Errorf("a.txt = %q, %v; want \"1\", closed before the cut", data, err)
	}
	if _, err := os.Stat(filepath.Join(flash, "b.txt")); err == nil {
		t.Errorf("b.txt exists, want it absent: the cut came before it was opened")
	}
	if s := b.Stats(); s.PowerCuts != 1 {
		t.Errorf("PowerCuts = %d, want 1", s.PowerCuts)
	}
}

func TestCutAfterHostBytesStopsCommand(t *testing.T) {
	t.Parallel()
	flash := t.TempDir()
	b := startReal(t, func(o *simboard.Options) { o.FlashDir = flash })
	c := openConn(t, b)
	c.enterRaw()
	c.execRaw("f = open('f.txt', 'w'); f.write('old'); f.close()")

	// The cut falls right before the 0x04 that would run the command.
	src := "f = open('f.txt', 'w'); f.write('new'); f.close()"
	b.CutAfterHostBytes(int64(len(src)))
	c.write(src + "\x04")
	waitBoot(t, b, 2)

	if data, err := os.ReadFile(filepath.Join(flash, "f.txt")); err != nil || string(data) != "old" {
		t.Errorf("f.txt = %q, %v; want \"old\"", data, err)
	}
	if s := b.Stats(); s.LostPoweredOff != 1 {
		t.Errorf("LostPoweredOff = %d, want 1 (the 0x04)", s.LostPoweredOff)
	}
}

func TestSoftResetReboots(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		raw      bool
		want     string
		wantMain bool
	}{
		{name: "friendly REPL", want: "MPY: soft reboot\r\n", wantMain: true},
		{name: "raw REPL", raw: true, want: "OK\r\nMPY: soft reboot\r\n" + rawPrompt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			flash := t.TempDir()
			writeFile(t, filepath.Join(flash, "main.py"), "print('main ran')\n")
			b := startReal(t, func(o *simboard.Options) { o.FlashDir = flash })
			c := openConn(t, b)
			if tt.raw {
				c.enterRaw()
			} else {
				c.readUntil(">>> ", 10*time.Second)
			}

			c.write("\x04")
			waitBoot(t, b, 2)
			out := string(c.drain(300 * time.Millisecond))
			if tt.raw && out != tt.want {
				t.Errorf("output after Ctrl-D = %q, want %q", out, tt.want)
			}
			if !tt.raw && !strings.Contains(out, tt.want) {
				t.Errorf("output after Ctrl-D = %q, want it to contain %q", out, tt.want)
			}
			if ran := strings.Contains(out, "main ran"); ran != tt.wantMain {
				t.Errorf("main.py ran = %v, want %v; output %q", ran, tt.wantMain, out)
			}
		})
	}
}

func TestBoardWireIsPaced(t *testing.T) {
	t.Parallel()
	b := startReal(t, func(o *simboard.Options) { o.MaxCommand = 64 << 10 })
	c := openConn(t, b)
	c.enterRaw()

	// 11,520 bytes at 115200 baud and 10 bits per byte take 1 s each way.
	const n = 11520
	src := "x = 1 #" + strings.Repeat("a", n-7)
	start := time.Now()
	c.write(src + "\x04")
	c.readUntil("OK", 20*time.Second)
	elapsed := time.Since(start)
	if elapsed < 900*time.Millisecond {
		t.Errorf("%d-byte command reached the board in %v, want at least 0.9 s", n, elapsed)
	}
	t.Logf("%d-byte command reached the board in %v", n, elapsed)
	c.readUntil("\x04\x04>", 5*time.Second)

	start = time.Now()
	stdout, _ := c.execRaw(fmt.Sprintf("print('y' * %d)", n))
	elapsed = time.Since(start)
	if elapsed < 900*time.Millisecond {
		t.Errorf("%d bytes of output arrived in %v, want at least 0.9 s", len(stdout), elapsed)
	}
	t.Logf("%d bytes of output arrived in %v", len(stdout), elapsed)
	if len(stdout) != n+2 {
		t.Errorf("stdout has %d bytes, want %d", len(stdout), n+2)
	}
	if s := b.Stats(); s.Overrun != 0 {
		t.Errorf("Overrun = %d, want 0 for a board that reads as fast as the line", s.Overrun)
	}
}

// replyWithFaults types a line into the friendly REPL of a board with line
// faults and returns everything the board sends back.
func replyWithFaults(t *testing.T, seed int64) ([]byte, simboard.Stats) {
	b := startReal(t, func(o *simboard.Options) { o.Seed = seed })
	c := openConn(t, b)
	c.readUntil(">>> ", 10*time.Second)
	if err := b.SetFaults(0.03, 0.03); err != nil {
		t.Fatal(err)
	}
	c.write("print('the quick brown fox jumps over the lazy dog ' * 8)\r")
	return c.drain(500 * time.Millisecond), b.Stats()
}

func TestLineFaultsReproduceOnBoard(t *testing.T) {
	t.Parallel()
	first, stats := replyWithFaults(t, 11)
	again, _ := replyWithFaults(t, 11)
	other, _ := replyWithFaults(t, 12)

	if !bytes.Equal(first, again) {
		t.Errorf("seed 11 gave different replies:\n%q\n%q", first, again)
	}
	if bytes.Equal(first, other) {
		t.Errorf("seeds 11 and 12 gave the same reply %q", first)
	}
	if stats.LineDropped+stats.LineCorrupted == 0 {
		t.Errorf("no line faults at 3%%: %+v", stats)
	}
}

// cpuTicks returns the user plus system CPU time of a process in clock ticks
// of 1/100 s (USER_HZ, 100 on Linux for all common architectures).
func cpuTicks(t *testing.T, pid string) int64 {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("/proc", pid, "stat"))
	if err != nil {
		t.Skipf("reading CPU time needs Linux /proc: %v", err)
	}
	// Fields after the command name, which is in parentheses: state is
	// field 3, utime field 14 and stime field 15.
	fields := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	var utime, stime int64
	fmt.Sscan(fields[11], &utime)
	fmt.Sscan(fields[12], &stime)
	return utime + stime
}

// TestIdleBoardCostsNoCPU is not parallel: it measures the CPU time of the
// whole test binary.
func TestIdleBoardCostsNoCPU(t *testing.T) {
	b := startReal(t)
	c := openConn(t, b)
	c.readUntil(">>> ", 10*time.Second)
	time.Sleep(300 * time.Millisecond)

	node := fmt.Sprint(b.NodePID())
	selfBefore, nodeBefore := cpuTicks(t, "self"), cpuTicks(t, node)
	const window = 2 * time.Second
	time.Sleep(window)
	self, nodeTicks := cpuTicks(t, "self")-selfBefore, cpuTicks(t, node)-nodeBefore

	// 10 ticks are 0.1 s of CPU in 2 s: 5% of one core.
	const limit = 10
	if self > limit {
		t.Errorf("Go side used %d ticks of CPU in %v while idle, want at most %d", self, window, limit)
	}
	if nodeTicks > limit {
		t.Errorf("Node process used %d ticks of CPU in %v while idle, want at most %d", nodeTicks, window, limit)
	}
	t.Logf("idle CPU over %v: Go %d ticks, Node %d ticks (1 tick = 10 ms)", window, self, nodeTicks)
}
