// Command benchmain measures otaflash against the simulated ESP8266 board:
// for each firmware profile and transfer mode it runs a full install of a
// generated app and then an update that changes one file, and prints a
// markdown table of time, wire bytes, throughput and resource use.
// scripts/bench runs it after scripts/setup.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run parses args, runs the benchmark and prints the report on stdout. It
// returns the exit code: 0 on success, 1 when a run failed, 2 on invalid flags.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseConfig(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 2
	}
	report, err := benchmark(ctx, cfg, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 1
	}
	report.write(stdout)
	return 0
}
