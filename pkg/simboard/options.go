package simboard

import (
	"fmt"
	"io"
	"strconv"
	"time"
)

// Default figures of the simulated board. Each names its source; the ones
// marked as estimates are not measured on hardware.
const (
	// DefaultFirmware is the MicroPython version the board reports. "1.27" is
	// the version of the WebAssembly VM that runs the board.
	DefaultFirmware = "1.27"

	// DefaultBaud is the REPL baud rate of the ESP8266 port
	// (ports/esp8266/esp_mphal.c calls uart_init with UART_BIT_RATE_115200).
	DefaultBaud = 115200

	// DefaultLatency is the delay a USB-serial bridge adds before the host
	// receives the board's bytes, because it hands them over in USB frames.
	// CP210x and CH340 bridges, common on ESP8266 boards, deliver within
	// about 1-2 ms. FTDI chips hold bytes up to their 16 ms latency timer.
	DefaultLatency = 2 * time.Millisecond

	// DefaultRxBuffer is the size in bytes of the board's UART receive ring
	// buffer. While UART0 is the REPL, uart0_rx_intr_handler in
	// ports/esp8266/uart.c puts received bytes into stdin_ringbuf, which
	// ports/esp8266/esp_mphal.c declares as stdin_ringbuf_array[256]. The
	// ring holds 255 of them: ringbuf_put in py/ringbuf.h keeps one slot
	// empty.
	DefaultRxBuffer = 256

	// DefaultCommandCost is the time the board spends on each executed REPL
	// command before it reads input again. It is an estimate for compiling
	// and running a small command on an 80 MHz ESP8266.
	DefaultCommandCost = 3 * time.Millisecond

	// DefaultFlashWriteRate is the rate in bytes per second at which the
	// board writes files. It is an estimate for SPI flash programming plus
	// file system overhead on an ESP8266.
	DefaultFlashWriteRate = 60_000

	// DefaultFlashSize is the file system capacity in bytes. It is an
	// estimate of the file system on a 2 MiB ESP8266 module.
	DefaultFlashSize = 1 << 20

	// DefaultMaxCommand is the largest raw REPL command in bytes the board
	// can hold and compile. It is an estimate: with about 30 KB of free heap
	// the source and its parse tree and bytecode (2-3 times the source) fit
	// up to about 8 KB.
	DefaultMaxCommand = 8192

	// DefaultHeap is the modelled free heap in bytes, about what
	// gc.mem_free() reports on an ESP8266 after boot.
	DefaultHeap = 30_720

	// DefaultCutDowntime is how long the board stays off after a power cut
	// armed with CutAt or CutAfterHostBytes, before Board powers it on.
	DefaultCutDowntime = 100 * time.Millisecond

	// bitsPerByte is the UART frame of 8N1: a start bit, 8 data bits and a
	// stop bit.
	bitsPerByte = 10
)

// Options configures a simulated board. The zero value of each field selects
// its default.
type Options struct {
	// FlashDir is the host folder that is the board's file system root.
	// It must exist. Required.
	FlashDir string
	// Firmware is the MicroPython version the board models: "1.27"
	// (DefaultFirmware) or "1.13", which has no raw-paste mode.
	Firmware string
	// Baud is the line rate in bits per second, with 10 bits per byte.
	Baud int
	// Latency is the USB-serial bridge delay on board-to-host bytes.
	Latency time.Duration
	// RxBuffer is the board's UART receive buffer in bytes.
	RxBuffer int
	// CommandCost is the board's time per executed REPL command, rounded
	// to whole milliseconds.
	CommandCost time.Duration
	// FlashWriteRate is the board's file write rate in bytes per second.
	FlashWriteRate int
	// FlashSize is the file system capacity in bytes.
	FlashSize int64
	// MaxCommand is the largest raw REPL command in bytes the board compiles;
	// a larger one raises MemoryError.
	MaxCommand int
	// Heap is the modelled free heap in bytes.
	Heap int
	// Seed seeds the line faults and the board's own random choices.
	Seed int64
	// DropRate is the probability in [0, 1] that a byte on the wire is lost,
	// in either direction.
	DropRate float64
	// CorruptRate is the probability in [0, 1] that a byte on the wire has
	// one bit flipped, in either direction.
	CorruptRate float64
	// CutDowntime is how long the board stays off after a cut armed with
	// CutAt or CutAfterHostBytes. A negative value keeps it off until PowerOn.
	CutDowntime time.Duration
	// NodePath is the Node.js executable, looked up on PATH; default "node".
	NodePath string
	// SimDir is the folder containing board.mjs. The default is
	// $OTAFLASH_SIM_DIR, or else the sim folder of the first parent of the
	// working directory that contains sim/board.mjs.
	SimDir string
	// Log receives start and stop messages, board events and the Node
	// process's stderr. The default discards them.
	Log io.Writer
	// LogTraffic adds every batch of bytes on the wire to Log.
	LogTraffic bool
}

// withDefaults returns a copy of o with zero fields set to their defaults.
func (o Options) withDefaults() Options {
	if o.Firmware == "" {
		o.Firmware = DefaultFirmware
	}
	if o.Baud == 0 {
		o.Baud = DefaultBaud
	}
	if o.Latency == 0 {
		o.Latency = DefaultLatency
	}
	if o.CutDowntime == 0 {
		o.CutDowntime = DefaultCutDowntime
	}

	if o.RxBuffer == 0 {
		o.RxBuffer = DefaultRxBuffer
	}
	if o.CommandCost == 0 {
		o.CommandCost = DefaultCommandCost
	}
	if o.FlashWriteRate == 0 {
		o.FlashWriteRate = DefaultFlashWriteRate
	}
	if o.FlashSize == 0 {
		o.FlashSize = DefaultFlashSize
	}
	if o.MaxCommand == 0 {
		o.MaxCommand = DefaultMaxCommand
	}
	if o.Heap == 0 {
		o.Heap = DefaultHeap
	}

	if o.NodePath == "" {
		o.NodePath = "node"
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	return o
}

// validate checks an Options value that already has its defaults.
func (o Options) validate() error {
	if o.FlashDir == "" {
		return fmt.Errorf("missing flash folder: set Options.FlashDir to the host folder that is the board's file system")
	}
	if o.Firmware != "1.27" && o.Firmware != "1.13" {
		return fmt.Errorf("invalid firmware %q: use \"1.27\" or \"1.13\"", o.Firmware)
	}
	positive := []struct {
		name  string
		value int64
	}{
		{"baud rate", int64(o.Baud)},
		{"latency", int64(o.Latency)},
		{"receive buffer size", int64(o.RxBuffer)},
		{"command cost", int64(o.CommandCost)},
		{"flash write rate", int64(o.FlashWriteRate)},
		{"flash size", o.FlashSize},
		{"maximum command size", int64(o.MaxCommand)},
		{"heap size", int64(o.Heap)},
	}
	for _, p := range positive {
		if p.value < 0 {
			return fmt.Errorf("invalid %s %d: it must not be negative", p.name, p.value)
		}
	}
	if err := checkRate("drop rate", o.DropRate); err != nil {
		return err
	}
	return checkRate("corrupt rate", o.CorruptRate)
}

// checkRate checks that a fault probability lies in [0, 1].
func checkRate(name string, rate float64) error {
	if rate < 0 || rate > 1 || rate != rate {
		return fmt.Errorf("invalid %s %v: use a probability from 0 to 1", name, rate)
	}
	return nil
}

// byteTime is the time one byte takes on the wire.
func (o Options) byteTime() time.Duration {
	return time.Second * bitsPerByte / time.Duration(o.Baud)
}

// nodeArgs returns the command-line flags of sim/board.mjs for o.
func (o Options) nodeArgs() []string {
	return []string{
		"--flash", o.FlashDir,
		"--firmware", o.Firmware,
		"--rx-buffer", strconv.Itoa(o.RxBuffer),
		"--command-cost-ms", strconv.FormatInt(o.CommandCost.Round(time.Millisecond).Milliseconds(), 10),
		"--flash-write-rate", strconv.Itoa(o.FlashWriteRate),
		"--flash-size", strconv.FormatInt(o.FlashSize, 10),
		"--max-command", strconv.Itoa(o.MaxCommand),
		"--heap", strconv.Itoa(o.Heap),
		"--seed", strconv.FormatInt(o.Seed, 10),
	}
}
