package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

func newRevertCmd(stdout, stderr io.Writer) *cobra.Command {
	var board boardFlags
	var noReset bool
	cmd := &cobra.Command{
		Use:   "revert --port PORT",
		Short: "Swap the previous version (kept in /prev) back in",
		Long: `revert swaps the version that the last update replaced, kept in /prev,
back into /<main-dir>, and keeps the version it replaces in /prev, so that a
second revert undoes the first. The swap is power-safe in the same way as an
update. Then it soft-resets the board unless --no-reset.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			sess, err := board.connect(ctx, stderr, nil)
			if err != nil {
				return err
			}
			defer sess.Close()
			before, err := sess.board.Inspect(ctx)
			if err != nil {
				return err
			}
			after, err := sess.board.Revert(ctx)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "reverted: %s now runs %s; %s kept in /prev\n", after.MainDir, after.Installed, before.Installed)
			if noReset {
				return nil
			}
			if err := sess.conn.SoftReset(ctx); err != nil {
				return fmt.Errorf("soft-resetting the board: %w", err)
			}
			fmt.Fprintln(stdout, "reset: the board restarted")
			return nil
		},
	}
	board.register(cmd)
	cmd.Flags().BoolVar(&noReset, "no-reset", false, "leave the board in the REPL instead of soft-resetting it")
	return cmd
}

func newRevertDebugCmd(stdout, stderr io.Writer) *cobra.Command {
	var board boardFlags
	cmd := &cobra.Command{
		Use:   "revert-debug --port PORT",
		Short: "Re-stage the installed version as a download, to test an update again",
		Long: `revert-debug undoes the last step of an update by hand, for re-testing: it
creates /next and moves /<main-dir>/.version to /next/.version_on_reboot. The
app files stay in place; the next update of that version stages it again.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			sess, err := board.connect(ctx, stderr, nil)
			if err != nil {
				return err
			}
			defer sess.Close()
			version, err := sess.board.RevertDebug(ctx)
			if err != nil {
				return err
			}
			dir := "/" + board.mainDir
			fmt.Fprintf(stdout, "created /next\nmoved %s/.version (%s) to /next/.version_on_reboot\n", dir, version)
			return nil
		},
	}
	board.register(cmd)
	return cmd
}
