package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// Main runs otaflash with args and returns the process exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	root := newRootCmd(stdout, stderr)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "otaflash: cancelled; the board keeps the version it had, and the next update resumes")
		return exitCancelled
	}
	fmt.Fprintf(stderr, "otaflash: %v\n", err)
	return exitCode(err)
}

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "otaflash",
		Short: "Update MicroPython apps on boards over USB serial, safely",
		Long: `otaflash installs a release of a MicroPython app on a board over USB serial.
It talks to the board's raw REPL, stages the release in /next, verifies every
file by SHA-256 on the board and swaps it into the app folder, so that a power
cut at any moment leaves a board with the old version or the new one.

` + exitCodesHelp,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newUpdateCmd(stdout, stderr),
		newStatusCmd(stdout, stderr),
		newRevertCmd(stdout, stderr),
		newRevertDebugCmd(stdout, stderr),
		newInstallRecoveryCmd(stdout, stderr),
	)
	return root
}
