package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/otaflash/otaflash/pkg/staging"
)

type updateOptions struct {
	board           boardFlags
	release         releaseFlags
	force           bool
	noReset         bool
	discardPrevious bool
}

func newUpdateCmd(stdout, stderr io.Writer) *cobra.Command {
	opts := &updateOptions{}
	cmd := &cobra.Command{
		Use:   "update --port PORT (--repo OWNER/NAME | --source PATH)",
		Short: "Install the newest (or a chosen) release of the app on the board",
		Long: `update installs a release of the app on the board.

It resolves the release (the newest stable GitHub release by semantic version,
or --version, or a local --source), interrupts the board and enters its raw
REPL, finishes or rolls back an update that an earlier power cut interrupted,
and compares the installed version (/<main-dir>/.version). When it differs, it
stages the release into /next: files whose SHA-256 matches an installed file
are copied on the board, the others are sent (in 126-byte binary blocks, or in
base64 commands of under 1 KB), and each is verified by SHA-256 on the board.
Then it marks /next complete and swaps it into /<main-dir>, keeping the
replaced version in /prev for "otaflash revert", and soft-resets the board so
that the new app runs.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runUpdate(cmd, opts, stdout, stderr)
		},
	}
	opts.board.register(cmd)
	opts.board.registerTransfer(cmd)
	opts.release.register(cmd)
	fl := cmd.Flags()
	fl.BoolVar(&opts.force, "force", false, "reinstall even if the board already runs this version")
	fl.BoolVar(&opts.noReset, "no-reset", false, "leave the board in the REPL instead of soft-resetting it into the new app")
	fl.BoolVar(&opts.discardPrevious, "discard-previous", false, "remove the kept previous version (/prev) when the flash is too full to keep it")
	return cmd
}

func runUpdate(cmd *cobra.Command, opts *updateOptions, stdout, stderr io.Writer) error {
	ctx := cmd.Context()
	if err := opts.board.validate(); err != nil {
		return err
	}
	rel, err := opts.release.load(ctx, opts.board.mainDir, stderr)
	if err != nil {
		return err
	}
	defer rel.tree.Close()
	fmt.Fprintf(stdout, "release: %s (%s, %s)\n", rel.origin, plural(len(rel.tree.Files), "file"), kb(rel.tree.TotalSize()))

	progress := newProgressPrinter(stderr)
	sess, err := opts.board.connect(ctx, stderr, progress.update)
	if err != nil {
		return err
	}
	defer sess.Close()

	before, err := sess.board.Inspect(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "board: MicroPython %s on %s, %s\n", before.Firmware, before.Platform, installedText(before))

	start := time.Now()
	rep, err := sess.board.Update(ctx, staging.UpdateRequest{
		Tree:            rel.tree,
		Version:         rel.version,
		Force:           opts.force,
		DiscardPrevious: opts.discardPrevious,
		Before:          &before,
	})
	progress.finish()
	if rep.Recovered != "" {
		fmt.Fprintf(stdout, "recovered: %s\n", rep.Recovered)
	}
	if err != nil {
		return err
	}
	if rep.UpToDate {
		fmt.Fprintf(stdout, "up to date: the board already runs %s (use --force to reinstall)\n", rel.version)
		return nil
	}
	s := rep.Stage
	fmt.Fprintf(stdout, "staged: %s sent (%s), %d copied on the board from the installed version, %d kept from an earlier run, in %s\n",
		plural(s.Sent, "file"), kb(s.BytesSent), s.Copied, s.Kept, time.Since(start).Round(100*time.Millisecond))
	if rep.After.Previous != "" {
		fmt.Fprintf(stdout, "installed: %s (version %s kept in /prev for otaflash revert)\n", rep.After.Installed, rep.After.Previous)
	} else {
		fmt.Fprintf(stdout, "installed: %s\n", rep.After.Installed)
	}
	if opts.noReset {
		return nil
	}
	if err := sess.conn.SoftReset(ctx); err != nil {
		return fmt.Errorf("soft-resetting the board into the new app: %w", err)
	}
	fmt.Fprintln(stdout, "reset: the board restarted into the new app")
	return nil
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// installedText describes the installed app for the "board:" line, in the
// words status uses.
func installedText(st staging.State) string {
	switch {
	case !st.AppPresent:
		return "no app installed"
	case st.Installed == "":
		return "an app of unknown version installed (" + st.MainDir + "/.version is missing)"
	}
	return "version " + st.Installed + " installed"
}
