package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/Masterminds/semver/v3"
	"github.com/spf13/cobra"

	"github.com/otaflash/otaflash/pkg/github"
	"github.com/otaflash/otaflash/pkg/staging"
)

type statusOptions struct {
	board   boardFlags
	release releaseFlags
	json    bool
}

// statusReport is the output of status, printed as text or, with --json, as JSON.
type statusReport struct {
	staging.State
	// Latest is the newest release of --repo, when given.
	Latest string `json:"latest,omitempty"`
	// UpdateAvailable reports whether Latest is newer than Installed.
	UpdateAvailable bool `json:"update_available,omitempty"`
	// Recovery reports whether boot.py runs the boot-time recovery.
	Recovery bool `json:"recovery"`
}

func newStatusCmd(stdout, stderr io.Writer) *cobra.Command {
	opts := &statusOptions{}
	cmd := &cobra.Command{
		Use:   "status --port PORT [--repo OWNER/NAME] [--json]",
		Short: "Show what the board runs, what is staged and what revert would restore",
		Long: `status shows the board's firmware, the installed app version, an update
staged or interrupted in /next, the previous version kept in /prev, and free
flash and RAM in bytes. With --repo it also shows the newest release and
whether it is newer. It changes nothing on the board.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runStatus(cmd, opts, stdout, stderr)
		},
	}
	opts.board.register(cmd)
	fl := cmd.Flags()
	fl.StringVar(&opts.release.repo, "repo", "", "GitHub repository of the app, as owner/name, to compare with its newest release")
	fl.BoolVar(&opts.release.pre, "pre", false, "with --repo, consider prereleases too")
	fl.StringVar(&opts.release.token, "token", "", "GitHub token (default $GITHUB_TOKEN); never printed")
	fl.StringVar(&opts.release.apiURL, "api-url", "", "GitHub API URL (default https://api.github.com/)")
	fl.BoolVar(&opts.json, "json", false, "print the status as one JSON object")
	return cmd
}

func runStatus(cmd *cobra.Command, opts *statusOptions, stdout, stderr io.Writer) error {
	ctx := cmd.Context()
	sess, err := opts.board.connect(ctx, stderr, nil)
	if err != nil {
		return err
	}
	defer sess.Close()
	st, err := sess.board.Inspect(ctx)
	if err != nil {
		return err
	}
	rep := statusReport{State: st}
	if rep.Recovery, err = sess.board.RecoveryInstalled(ctx); err != nil {
		return err
	}
	if opts.release.repo != "" {
		owner, name, err := github.ParseRepo(opts.release.repo)
		if err != nil {
			return err
		}
		client, err := opts.release.githubClient()
		if err != nil {
			return err
		}
		rel, err := client.Resolve(ctx, owner, name, github.Query{Pre: opts.release.pre})
		if err != nil {
			return err
		}
		rep.Latest = rel.Tag
		rep.UpdateAvailable = newer(rel.Tag, st.Installed)
	}
	if opts.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	printStatus(stdout, rep)
	return nil
}

// newer reports whether latest is a newer semantic version than installed;
// any version is newer than none or than one that does not parse.
func newer(latest, installed string) bool {
	l, err := semver.NewVersion(latest)
	if err != nil {
		return false
	}
	i, err := semver.NewVersion(installed)
	if err != nil {
		return true
	}
	return l.GreaterThan(i)
}

func printStatus(w io.Writer, r statusReport) {
	fmt.Fprintf(w, "firmware:   MicroPython %s on %s\n", r.Firmware, r.Platform)
	switch {
	case !r.AppPresent:
		fmt.Fprintf(w, "installed:  none (%s is missing)\n", r.MainDir)
	case r.Installed == "":
		fmt.Fprintf(w, "installed:  unknown version (%s/.version is missing)\n", r.MainDir)
	default:
		fmt.Fprintf(w, "installed:  %s in %s\n", r.Installed, r.MainDir)
	}
	switch {
	case r.Staged != "":
		fmt.Fprintf(w, "staged:     %s, verified in /next; the next update or boot-time recovery swaps it in\n", r.Staged)
	case r.Staging != "":
		fmt.Fprintf(w, "staging:    %s, partial in /next; the next update of that version resumes it\n", r.Staging)
	case r.NextPresent:
		fmt.Fprintf(w, "staging:    /next exists with no version; the next update replaces it\n")
	default:
		fmt.Fprintf(w, "staged:     nothing\n")
	}
	switch {
	case r.Previous != "":
		fmt.Fprintf(w, "previous:   %s in /prev (otaflash revert restores it)\n", r.Previous)
	case r.PrevPresent:
		fmt.Fprintf(w, "previous:   /prev partly removed; the next update removes the rest\n")
	default:
		fmt.Fprintf(w, "previous:   none\n")
	}
	if r.Recovery {
		fmt.Fprintf(w, "recovery:   installed in /boot.py\n")
	} else {
		fmt.Fprintf(w, "recovery:   not installed (otaflash install-recovery makes the board finish a cut swap at boot)\n")
	}
	fmt.Fprintf(w, "flash:      %d bytes free of %d\n", r.FreeFlash, r.TotalFlash)
	fmt.Fprintf(w, "ram:        %d bytes free\n", r.FreeRAM)
	if r.Latest != "" {
		verdict := "the board is up to date"
		if r.UpdateAvailable {
			verdict = "newer than the installed version: run otaflash update"
		}
		fmt.Fprintf(w, "latest:     %s (%s)\n", r.Latest, verdict)
	}
}
