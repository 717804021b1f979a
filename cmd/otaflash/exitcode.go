package main

import (
	"context"
	"errors"

	"github.com/otaflash/otaflash/pkg/github"
	"github.com/otaflash/otaflash/pkg/repl"
	"github.com/otaflash/otaflash/pkg/staging"
)

// Exit codes, listed in the root command's help and in the README.
const (
	exitOK        = 0
	exitError     = 1
	exitCancelled = 2
	exitPort      = 3
	exitNoAnswer  = 4
	exitRelease   = 5
	exitNoSpace   = 6
)

const exitCodesHelp = `Exit codes:
  0  success (also: the board already runs the requested version)
  1  any other error
  2  cancelled (Ctrl-C)
  3  serial port not found, busy, or closed during the run
  4  the board does not answer on the port
  5  release, version or repository not found, or GitHub rate limit
  6  not enough free flash on the board`

// exitCode maps an error to the exit code documented in exitCodesHelp.
func exitCode(err error) int {
	var notFound *github.VersionNotFoundError
	var rate *github.RateLimitError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, context.Canceled):
		return exitCancelled
	case errors.Is(err, repl.ErrPortNotFound), errors.Is(err, repl.ErrPortBusy), errors.Is(err, repl.ErrClosed):
		return exitPort
	case errors.Is(err, repl.ErrNoResponse):
		return exitNoAnswer
	case errors.As(err, &notFound), errors.As(err, &rate),
		errors.Is(err, github.ErrRepoNotFound), errors.Is(err, github.ErrNoRelease):
		return exitRelease
	case errors.Is(err, staging.ErrNoSpace):
		return exitNoSpace
	}
	return exitError
}
