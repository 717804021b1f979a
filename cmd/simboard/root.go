package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/otaflash/otaflash/pkg/simboard"
	"github.com/spf13/cobra"
)

// Exit codes of simboard.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// errUsage marks an error in the command line.
var errUsage = errors.New("invalid command line")

// Main runs simboard with the process's arguments and returns its exit code.
func Main() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return run(ctx, os.Args[1:], os.Stdout, os.Stderr)
}

// run executes the command line args and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := newRootCmd(stdout, stderr)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "simboard: %v\n", err)
		fmt.Fprintln(stderr, "Run 'simboard --help' for usage.")
		return exitUsage
	default:
		fmt.Fprintf(stderr, "simboard: %v\n", err)
		return exitError
	}
}

// boardFlags holds the flag values of the root command.
type boardFlags struct {
	opts    simboard.Options
	verbose bool
}

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	f := &boardFlags{}
	cmd := &cobra.Command{
		Use:   "simboard --flash DIR [flags]",
		Short: "Run a simulated ESP8266 MicroPython board on a pseudo-terminal",
		Long: `simboard runs a simulated ESP8266 board with MicroPython behind a pseudo-terminal.
It prints the port path (such as /dev/pts/7) as the first line of stdout, then runs
until SIGINT or SIGTERM and prints a one-line summary of its counters on stderr.

The board is a MicroPython VM run by Node.js (sim/board.mjs; install its packages
with 'npm ci --prefix sim'). The folder given by --flash is the board's file system.

Exit codes: 0 after SIGINT or SIGTERM, 1 on an error, 2 on invalid flags.`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.opts.FlashDir == "" {
				return fmt.Errorf("%w: missing --flash DIR, the folder that is the board's file system", errUsage)
			}
			if f.verbose {
				f.opts.Log, f.opts.LogTraffic = stderr, true
			}
			return runBoard(cmd.Context(), f.opts, stdout, stderr)
		},
	}
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return fmt.Errorf("%w: %v", errUsage, err)
	})
	addBoardFlags(cmd, f)
	return cmd
}

func addBoardFlags(cmd *cobra.Command, f *boardFlags) {
	fl := cmd.Flags()
	o := &f.opts
	fl.StringVar(&o.FlashDir, "flash", "", "host folder that is the board's file system root; created if missing (required)")
	fl.StringVar(&o.Firmware, "firmware", simboard.DefaultFirmware,
		`MicroPython version to model: "1.27" (the VM's own version) or "1.13" (no raw-paste mode)`)
	fl.IntVar(&o.Baud, "baud", simboard.DefaultBaud,
		"line rate in bits per second, 10 bits per byte (ESP8266 REPL default, ports/esp8266/esp_mphal.c)")
	fl.DurationVar(&o.Latency, "latency", simboard.DefaultLatency,
		"USB-serial bridge delay on board-to-host bytes (CP210x and CH340 deliver within 1-2 ms; FTDI's latency timer is 16 ms)")
	fl.IntVar(&o.RxBuffer, "rx-buffer", simboard.DefaultRxBuffer,
		"board's UART receive buffer in bytes; bytes that find it full are dropped (stdin_ringbuf_array, ports/esp8266/esp_mphal.c)")
	fl.DurationVar(&o.CommandCost, "command-cost", simboard.DefaultCommandCost,
		"board's time per executed REPL command, in whole milliseconds (estimate for an 80 MHz ESP8266)")
	fl.IntVar(&o.FlashWriteRate, "flash-write-rate", simboard.DefaultFlashWriteRate,
		"board's file write rate in bytes per second (estimate for SPI flash plus file system overhead)")
	fl.Int64Var(&o.FlashSize, "flash-size", simboard.DefaultFlashSize,
		"file system capacity in bytes (estimate of the file system on a 2 MiB ESP8266 module)")
	fl.IntVar(&o.MaxCommand, "max-command", simboard.DefaultMaxCommand,
		"largest raw REPL command in bytes the board compiles; larger ones raise MemoryError (estimate from ~30 KB free heap)")
	fl.IntVar(&o.Heap, "heap", simboard.DefaultHeap,
		"modelled free heap in bytes (typical gc.mem_free() of an ESP8266 after boot)")
	fl.Int64Var(&o.Seed, "seed", 0, "seed of the line faults and of the board's random choices (default 0)")
	fl.Float64Var(&o.DropRate, "drop-rate", 0, "probability from 0 to 1 that a byte on the wire is lost, in each direction (default 0)")
	fl.Float64Var(&o.CorruptRate, "corrupt-rate", 0,
		"probability from 0 to 1 that a byte on the wire has one bit flipped, in each direction (default 0)")
	fl.StringVar(&o.NodePath, "node", "node", "Node.js executable (18 or later), looked up on PATH")
	fl.StringVar(&o.SimDir, "sim-dir", "",
		"folder containing board.mjs (default $"+simboard.SimDirEnv+", else the sim folder found above the working directory)")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "log wire traffic, board events and the board's log to stderr")
}
