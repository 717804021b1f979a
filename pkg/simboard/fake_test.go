package simboard_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/otaflash/otaflash/pkg/simboard"
	"github.com/otaflash/otaflash/pkg/simboard/simtest"
)

// startFake starts a board run by testdata/fakesim/board.mjs, a loopback
// stand-in that echoes what it receives, to test the wire without the VM.
func startFake(t *testing.T, opts ...func(*simboard.Options)) *simboard.Board {
	t.Helper()
	fake := func(o *simboard.Options) { o.SimDir = filepath.Join("testdata", "fakesim") }
	return simtest.Start(t, append([]func(*simboard.Options){fake}, opts...)...)
}

func TestWirePacesHostAndBoardBytes(t *testing.T) {
	t.Parallel()
	b := startFake(t)
	c := openConn(t, b)

	// 11,520 bytes at 115200 baud and 10 bits per byte take 1 s on the wire.
	sent := bytes.Repeat([]byte("0123456789abcdef"), 720)
	start := time.Now()
	c.write(string(sent))
	got := c.readN(len(sent), 10*time.Second)
	elapsed := time.Since(start)

	if !bytes.Equal(got, sent) {
		t.Errorf("echo differs from the %d bytes sent", len(sent))
	}
	if elapsed < 900*time.Millisecond {
		t.Errorf("echo of %d bytes took %v, want at least 0.9 s at 115200 baud", len(sent), elapsed)
	}
	t.Logf("echo of %d bytes took %v", len(sent), elapsed)
	s := b.Stats()
	if s.HostToBoard != int64(len(sent)) {
		t.Errorf("HostToBoard = %d, want %d", s.HostToBoard, len(sent))
	}
	if s.BoardToHost != int64(len(sent)) {
		t.Errorf("BoardToHost = %d, want %d", s.BoardToHost, len(sent))
	}
}

func TestWireAddsLatency(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		baud    int
		latency time.Duration
	}{
		{name: "default", latency: simboard.DefaultLatency},
		{name: "ftdi timer", latency: 16 * time.Millisecond},
		{name: "slow line", baud: 1200, latency: simboard.DefaultLatency},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := startFake(t, func(o *simboard.Options) { o.Baud, o.Latency = tt.baud, tt.latency })
			c := openConn(t, b)
			baud := tt.baud
			if baud == 0 {
				baud = simboard.DefaultBaud
			}
			byteTime := time.Second * 10 / time.Duration(baud)

			start := time.Now()
			c.write("x")
			c.readN(1, 5*time.Second)
			elapsed := time.Since(start)

			want := 2*byteTime + tt.latency
			if elapsed < want {
				t.Errorf("round trip of one byte took %v, want at least %v", elapsed, want)
			}
		})
	}
}

func TestCutAfterHostBytesIsExact(t *testing.T) {
	t.Parallel()
	log := &syncBuffer{}
	b := startFake(t, func(o *simboard.Options) { o.Log = log })
	c := openConn(t, b)

	b.CutAfterHostBytes(40)
	c.write(strings.Repeat("a", 100))
	waitBoot(t, b, 2)

	waitLog(t, log, "received 40 bytes before power off")
	s := waitStats(t, b, "100 host bytes", func(s simboard.Stats) bool { return s.HostToBoard == 100 })
	if s.LostPoweredOff != 60 {
		t.Errorf("LostPoweredOff = %d, want 60", s.LostPoweredOff)
	}
	if s.PowerCuts != 1 {
		t.Errorf("PowerCuts = %d, want 1", s.PowerCuts)
	}
	if echo := c.drain(100 * time.Millisecond); len(echo) > 40 {
		t.Errorf("echo has %d bytes, want at most the 40 sent before the cut", len(echo))
	}
}

func TestPowerOffLosesHostBytes(t *testing.T) {
	t.Parallel()
	b := startFake(t)
	c := openConn(t, b)

	if err := b.PowerOff(); err != nil {
		t.Fatal(err)
	}
	c.write("0123456789")
	s := waitStats(t, b, "10 lost bytes", func(s simboard.Stats) bool { return s.LostPoweredOff == 10 })
	if s.HostToBoard != 10 {
		t.Errorf("HostToBoard = %d, want 10", s.HostToBoard)
	}
	if echo := c.drain(50 * time.Millisecond); len(echo) != 0 {
		t.Errorf("board echoed %q while off", echo)
	}

	if err := b.PowerOn(); err != nil {
		t.Fatal(err)
	}
	waitBoot(t, b, 2)
	c.write("z")
	if got := c.readN(1, 5*time.Second); string(got) != "z" {
		t.Errorf("echo after power-on = %q, want \"z\"", got)
	}
}

func TestPortReopens(t *testing.T) {
	t.Parallel()
	b := startFake(t)
	for i, msg := range []string{"first", "second", "third"} {
		c := openConn(t, b)
		c.write(msg)
		if got := c.readUntil(msg, 5*time.Second); got != msg {
			t.Errorf("open %d: echo = %q, want %q", i+1, got, msg)
		}
		if err := c.port.Close(); err != nil {
			t.Fatalf("open %d: closing port: %v", i+1, err)
		}
	}
}

func TestEventsUpdateStats(t *testing.T) {
	t.Parallel()
	b := startFake(t)
	c := openConn(t, b)

	events := []string{
		`{"ev":"command","kind":"raw","bytes":120,"mem_alloc":4000,"mem_free":26000,"error":""}`,
		`{"ev":"command","kind":"paste","bytes":9000,"mem_alloc":3000,"mem_free":0,"error":"MemoryError"}`,
		`{"ev":"overrun","dropped":7}`,
		`{"ev":"overrun","dropped":5}`,
		`{"ev":"fs","op":"rename","path":"/main.py"}`,
	}
	for _, ev := range events {
		c.write("!ev " + ev + "\n")
	}
	s := waitStats(t, b, "overrun events", func(s simboard.Stats) bool { return s.Overrun == 12 })

	if s.Commands != 2 {
		t.Errorf("Commands = %d, want 2", s.Commands)
	}
	if s.LargestCommand != 9000 {
		t.Errorf("LargestCommand = %d, want 9000", s.LargestCommand)
	}
	if s.MaxMemAlloc != 4000 {
		t.Errorf("MaxMemAlloc = %d, want 4000", s.MaxMemAlloc)
	}
	if s.MemoryErrors != 1 {
		t.Errorf("MemoryErrors = %d, want 1", s.MemoryErrors)
	}
	want := []simboard.Command{
		{Kind: "raw", Bytes: 120, MemAlloc: 4000, MemFree: 26000},
		{Kind: "paste", Bytes: 9000, MemAlloc: 3000, Error: "MemoryError"},
	}
	if fmt.Sprint(s.RecentCommands) != fmt.Sprint(want) {
		t.Errorf("RecentCommands = %+v, want %+v", s.RecentCommands, want)
	}
}

// echoWithFaults sends data through a fake board with line faults and
// returns the echo and the counters.
func echoWithFaults(t *testing.T, seed int64, data []byte) ([]byte, simboard.Stats) {
	b := startFake(t, func(o *simboard.Options) {
		o.Seed, o.DropRate, o.CorruptRate = seed, 0.05, 0.05
	})
	c := openConn(t, b)
	c.write(string(data))
	waitStats(t, b, "all host bytes", func(s simboard.Stats) bool { return s.HostToBoard == int64(len(data)) })
	return c.drain(200 * time.Millisecond), b.Stats()
}

func TestLineFaultsAreSeeded(t *testing.T) {
	t.Parallel()
	data := bytes.Repeat([]byte("The quick brown fox. "), 100)

	first, stats := echoWithFaults(t, 7, data)
	again, _ := echoWithFaults(t, 7, data)
	other, _ := echoWithFaults(t, 8, data)

	if !bytes.Equal(first, again) {
		t.Errorf("seed 7 gave different echoes:\n%q\n%q", first, again)
	}
	if bytes.Equal(first, other) {
		t.Errorf("seeds 7 and 8 gave the same echo")
	}
	if stats.LineDropped == 0 || stats.LineCorrupted == 0 {
		t.Errorf("LineDropped = %d, LineCorrupted = %d, want both above 0 at 5%%", stats.LineDropped, stats.LineCorrupted)
	}
	if want := int64(len(data)) - stats.LineDropped; int64(len(first)) != want {
		t.Errorf("echo has %d bytes, want %d sent minus %d dropped", len(first), len(data), stats.LineDropped)
	}
	// About 5% of 2,100 bytes in each of two directions: 210 expected.
	if stats.LineDropped < 100 || stats.LineDropped > 350 {
		t.Errorf("LineDropped = %d, want about 210 for 5%% of 2 x %d bytes", stats.LineDropped, len(data))
	}
}

func TestSetFaultsRejectsInvalidRates(t *testing.T) {
	t.Parallel()
	b := startFake(t)
	tests := []struct {
		name    string
		drop    float64
		corrupt float64
		wantErr string
	}{
		{name: "negative drop", drop: -0.1, wantErr: "invalid drop rate"},
		{name: "corrupt above one", corrupt: 1.5, wantErr: "invalid corrupt rate"},
		{name: "valid", drop: 0.5, corrupt: 1},
	}
	for _, tt := range tests {
		err := b.SetFaults(tt.drop, tt.corrupt)
		if tt.wantErr == "" && err != nil {
			t.Errorf("%s: SetFaults: %v", tt.name, err)
		}
		if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("%s: SetFaults error = %v, want %q", tt.name, err, tt.wantErr)
		}
	}
}

func TestCutAtRejectsUnknownEvent(t *testing.T) {
	t.Parallel()
	log := &syncBuffer{}
	b := startFake(t, func(o *simboard.Options) { o.Log = log })
	if err := b.CutAt("format", 1); err == nil || !strings.Contains(err.Error(), `invalid cut event "format"`) {
		t.Errorf("CutAt(format) error = %v, want an invalid cut event", err)
	}
	if err := b.CutAt("close", 0); err == nil {
		t.Errorf("CutAt(close, 0) succeeded, want an invalid count")
	}
	if err := b.CutAt("close", 2); err != nil {
		t.Fatal(err)
	}
	waitLog(t, log, `control {\"count\":2,\"event\":\"close\",\"op\":\"cut_at\"}`)
}

func TestStartPassesFlagsToBoard(t *testing.T) {
	t.Parallel()
	log := &syncBuffer{}
	flash := t.TempDir()
	startFake(t, func(o *simboard.Options) {
		o.Log, o.FlashDir, o.Firmware, o.RxBuffer, o.Seed = log, flash, "1.13", 512, 42
	})
	want := fmt.Sprintf("fake board args: --flash %s --firmware 1.13 --rx-buffer 512 --command-cost-ms 3 "+
		"--flash-write-rate 60000 --flash-size 1048576 --max-command 8192 --heap 30720 --seed 42", flash)
	waitLog(t, log, want)
}

func TestStartReportsMissingPieces(t *testing.T) {
	t.Parallel()
	noModules := t.TempDir()
	writeFile(t, filepath.Join(noModules, "board.mjs"), "")
	writeFile(t, filepath.Join(noModules, "package.json"), "{}")
	fake := filepath.Join("testdata", "fakesim")

	tests := []struct {
		name    string
		opts    simboard.Options
		wantErr string
	}{
		{name: "no flash folder", opts: simboard.Options{SimDir: fake}, wantErr: "missing flash folder"},
		{name: "flash folder absent", opts: simboard.Options{SimDir: fake, FlashDir: "/nonexistent/flash"},
			wantErr: "not found: create it first"},
		{name: "bad firmware", opts: simboard.Options{SimDir: fake, FlashDir: t.TempDir(), Firmware: "1.9"},
			wantErr: `invalid firmware "1.9"`},
		{name: "no node", opts: simboard.Options{SimDir: fake, FlashDir: t.TempDir(), NodePath: "/nonexistent/node"},
			wantErr: "install Node.js 18 or later"},
		{name: "no board script", opts: simboard.Options{SimDir: t.TempDir(), FlashDir: t.TempDir()},
			wantErr: "simulated board script not found"},
		{name: "packages not installed", opts: simboard.Options{SimDir: noModules, FlashDir: t.TempDir()},
			wantErr: "npm ci --prefix " + noModules},
		{name: "drop rate", opts: simboard.Options{SimDir: fake, FlashDir: t.TempDir(), DropRate: 2},
			wantErr: "invalid drop rate 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := simboard.Start(context.Background(), tt.opts)
			if err == nil {
				b.Close()
				t.Fatalf("Start succeeded, want error containing %q", tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Start error = %q, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestWaitBootReportsExitedBoard(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "board.mjs"), "process.exit(3);\n")
	b, err := simboard.Start(context.Background(), simboard.Options{SimDir: dir, FlashDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = b.WaitBoot(ctx, 1)
	if err == nil || !strings.Contains(err.Error(), "exit status 3") {
		t.Errorf("WaitBoot error = %v, want the exit status 3 of the board process", err)
	}
	if err := b.Close(); err == nil || !strings.Contains(err.Error(), "exit status 3") {
		t.Errorf("Close error = %v, want the exit status 3 of the board process", err)
	}
}

func TestStartStopsWithContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	b, err := simboard.Start(ctx, simboard.Options{SimDir: filepath.Join("testdata", "fakesim"), FlashDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cancel()

	waitCtx, waitCancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer waitCancel()
	err = b.Wait(waitCtx, func(simboard.Stats) bool { return false })
	if err != simboard.ErrClosed {
		t.Errorf("Wait after cancel = %v, want ErrClosed", err)
	}
}

// TestCloseLeavesNoGoroutines is not parallel: it counts the goroutines of
// the whole test binary.
func TestCloseLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	b, err := simboard.Start(context.Background(), simboard.Options{
		SimDir: filepath.Join("testdata", "fakesim"), FlashDir: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	waitBoot(t, b, 1)
	c := openConn(t, b)
	c.write("ping")
	c.readUntil("ping", 5*time.Second)
	b.CutAfterHostBytes(1)
	c.write("!")
	if err := b.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
	if n, err := c.port.Read(make([]byte, 16)); err == nil {
		t.Errorf("Read after Close = %d bytes, nil error; want an error", n)
	}
	if err := b.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	c.port.Close()

	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines after Close, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
	if err := b.PowerOn(); err != simboard.ErrClosed && !strings.Contains(fmt.Sprint(err), "closed") {
		t.Errorf("PowerOn after Close = %v, want ErrClosed", err)
	}
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}
