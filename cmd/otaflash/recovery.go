package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

func newInstallRecoveryCmd(stdout, stderr io.Writer) *cobra.Command {
	var board boardFlags
	var uninstall bool
	cmd := &cobra.Command{
		Use:   "install-recovery --port PORT [--uninstall]",
		Short: "Make the board finish or roll back an interrupted update at boot",
		Long: `install-recovery writes /otaflash_recover.py to the board and adds a guarded
block at the top of /boot.py that runs it before main.py: a board that lost
power during a swap then boots the old or the new version with no host
attached. The user's own boot.py lines are kept; running it again changes
nothing. The module runs on MicroPython v1.13 and needs a few hundred bytes
of RAM. --uninstall removes the block and the module.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			sess, err := board.connect(ctx, stderr, nil)
			if err != nil {
				return err
			}
			defer sess.Close()
			if uninstall {
				if err := sess.board.UninstallRecovery(ctx); err != nil {
					return err
				}
				fmt.Fprintln(stdout, "removed the recovery block from /boot.py and /otaflash_recover.py")
				return nil
			}
			if err := sess.board.InstallRecovery(ctx); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "installed /otaflash_recover.py; /boot.py runs it for /%s before main.py\n", board.mainDir)
			return nil
		},
	}
	board.register(cmd)
	cmd.Flags().BoolVar(&uninstall, "uninstall", false, "remove the boot-time recovery instead")
	return cmd
}
