package staging

import (
	"context"
	"errors"
	"fmt"
)

// ErrNoPrevious means the board keeps no complete previous version.
var ErrNoPrevious = errors.New("no previous version on the board to revert to (/prev/.version is missing)")

// ErrNotInstalled means the app folder has no .version to re-stage.
var ErrNotInstalled = errors.New("no installed version on the board")

// Recover applies the recovery rules (see the package comment) to an
// interrupted update or revert and returns a sentence saying what it found
// and did, or "" when there was nothing to do. A partial /next is left for
// Stage, which resumes it or removes it.
func (b *Board) Recover(ctx context.Context, st State) (string, error) {
	if !st.Interrupted() {
		return "", nil
	}
	var found string
	switch {
	case st.Staged != "":
		found = fmt.Sprintf("version %s was staged and verified but not swapped in; finishing the swap", st.Staged)
	case !st.AppPresent && st.Previous != "":
		found = fmt.Sprintf("%s was missing; restoring version %s from %s", st.MainDir, st.Previous, prevDir)
	default:
		found = fmt.Sprintf("%s was partly removed; removing the rest", prevDir)
	}
	b.logf("recovery: %s", found)
	if _, err := b.exec(ctx, fmt.Sprintf("run(%s)", pyStr(b.appDir()))); err != nil {
		return found, fmt.Errorf("recovering an interrupted update: %w", err)
	}
	return found, nil
}

// commit marks /next as complete: every file is verified.
func (b *Board) commit(ctx context.Context) error {
	b.logf("commit: rename /next/.version_on_reboot to /next/.version")
	_, err := b.exec(ctx, "if not _st('/next/.version'):os.rename('/next/.version_on_reboot','/next/.version')")
	if err != nil {
		return fmt.Errorf("marking /next as complete: %w", err)
	}
	return nil
}

// swap moves the complete /next into the app folder and the app folder to
// /prev, by the same rules the boot-time recovery applies.
func (b *Board) swap(ctx context.Context) error {
	b.logf("swap: %s -> %s, /next -> %s", b.appDir(), prevDir, b.appDir())
	if _, err := b.exec(ctx, fmt.Sprintf("run(%s)", pyStr(b.appDir()))); err != nil {
		return fmt.Errorf("swapping /next into %s: %w", b.appDir(), err)
	}
	return nil
}

// Revert swaps the version kept in /prev back into the app folder and keeps
// the one it replaces in /prev, so that a second revert undoes the first. A
// partial /next is removed first.
func (b *Board) Revert(ctx context.Context) (State, error) {
	st, err := b.Inspect(ctx)
	if err != nil {
		return State{}, err
	}
	if _, err := b.Recover(ctx, st); err != nil {
		return State{}, err
	}
	if st, err = b.Inspect(ctx); err != nil {
		return State{}, err
	}
	if st.Previous == "" {
		return st, ErrNoPrevious
	}
	b.logf("revert: %s -> /next, then swap", prevDir)
	code := "if _st('/prev/.version'):\n _rm('/next')\n os.rename('/prev','/next')"
	if _, err := b.exec(ctx, code); err != nil {
		return st, fmt.Errorf("moving /prev to /next: %w", err)
	}
	if err := b.swap(ctx); err != nil {
		return st, err
	}
	return b.Inspect(ctx)
}

// RevertDebug re-stages the installed version as a download does, for
// re-testing an update: it creates /next and moves the app folder's .version
// to /next/.version_on_reboot. It returns the version it moved.
func (b *Board) RevertDebug(ctx context.Context) (string, error) {
	st, err := b.Inspect(ctx)
	if err != nil {
		return "", err
	}
	if st.Installed == "" {
		return "", fmt.Errorf("%w: %s/.version is missing", ErrNotInstalled, st.MainDir)
	}
	code := fmt.Sprintf("d=%s\n_mk('/next')\nif _st(d+'/.version'):\n if _st('/next/.version_on_reboot'):os.remove('/next/.version_on_reboot')\n os.rename(d+'/.version','/next/.version_on_reboot')", pyStr(b.appDir()))
	if _, err := b.exec(ctx, code); err != nil {
		return "", fmt.Errorf("moving %s/.version to /next/.version_on_reboot: %w", st.MainDir, err)
	}
	return st.Installed, nil
}
