package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.bug.st/serial"

	"github.com/otaflash/otaflash/pkg/repl"
	"github.com/otaflash/otaflash/pkg/staging"
)

// boardFlags are the flags of every command that talks to a board.
type boardFlags struct {
	port     string
	baud     int
	timeout  time.Duration
	mainDir  string
	noPaste  bool
	transfer string
	verbose  bool
}

func (f *boardFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVarP(&f.port, "port", "p", "",
		"serial port of the board, such as /dev/ttyUSB0 (default $OTAFLASH_PORT)")
	fl.IntVar(&f.baud, "baud", 115200, "line rate in bits per second; MicroPython's UART REPL runs at 115200")
	fl.DurationVar(&f.timeout, "timeout", 10*time.Second, "longest wait for one answer from the board")
	fl.StringVar(&f.mainDir, "main-dir", "project", "app folder: in the release, and on the board as /<main-dir>")
	fl.BoolVar(&f.noPaste, "no-raw-paste", false, "send commands in the paced raw REPL even where the firmware offers raw-paste")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "trace raw REPL traffic and each step on stderr")
	_ = cmd.RegisterFlagCompletionFunc("port", completePorts)
}

// registerTransfer adds --transfer, for the commands that send files.
func (f *boardFlags) registerTransfer(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.transfer, "transfer", staging.TransferAuto, "how file data travels: auto (binary where the board allows, else base64), binary, or base64")
}

func completePorts(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	ports, err := serial.GetPortsList()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return ports, cobra.ShellCompDirectiveNoFileComp
}

func (f *boardFlags) validate() error {
	if f.port == "" {
		f.port = os.Getenv("OTAFLASH_PORT")
	}
	if f.port == "" {
		return errors.New("missing --port: name the board's serial port, such as --port /dev/ttyUSB0 (or set OTAFLASH_PORT)")
	}
	if f.baud <= 0 {
		return fmt.Errorf("invalid --baud %d: must be a positive number of bits per second", f.baud)
	}
	if f.timeout <= 0 {
		return fmt.Errorf("invalid --timeout %s: must be positive, such as 10s", f.timeout)
	}
	switch f.transfer {
	case "", staging.TransferAuto, staging.TransferBinary, staging.TransferBase64:
	default:
		return fmt.Errorf("invalid --transfer %q: use auto, binary or base64", f.transfer)
	}
	dir := strings.Trim(f.mainDir, "/")
	if dir == "" || dir == "." || dir == ".." || strings.ContainsAny(dir, "/\\\x00\n") {
		return fmt.Errorf("invalid --main-dir %q: must be one folder name, such as project", f.mainDir)
	}
	if dir == "next" || dir == "prev" {
		return fmt.Errorf("invalid --main-dir %q: otaflash keeps staged and previous versions in /next and /prev; choose another name", f.mainDir)
	}
	return nil
}

// session is an open connection to a board in the raw REPL.
type session struct {
	conn  *repl.Conn
	board *staging.Board
}

func (s *session) Close() error {
	return s.conn.Close()
}

// connect opens the port, interrupts whatever runs and enters the raw REPL.
func (f *boardFlags) connect(ctx context.Context, stderr io.Writer, progress func(staging.Progress)) (*session, error) {
	if err := f.validate(); err != nil {
		return nil, err
	}
	port, err := repl.OpenSerial(f.port, f.baud)
	if err != nil {
		return nil, err
	}
	opts := repl.Options{Baud: f.baud, Timeout: f.timeout}
	if f.noPaste {
		opts.Paste = repl.PasteOff
	}
	var logf func(string, ...any)
	if f.verbose {
		opts.Trace = stderr
		logf = func(format string, args ...any) { fmt.Fprintf(stderr, "step: "+format+"\n", args...) }
	}
	conn := repl.New(port, opts)
	if err := conn.EnterRaw(ctx); err != nil {
		conn.Close()
		if errors.Is(err, repl.ErrNoResponse) {
			return nil, fmt.Errorf("%w (port %s)", err, f.port)
		}
		return nil, err
	}
	board := staging.New(conn, staging.Options{MainDir: f.mainDir, Transfer: f.transfer, Progress: progress, Logf: logf})
	return &session{conn: conn, board: board}, nil
}
