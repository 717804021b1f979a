package staging

import (
	"context"
	"errors"
	"fmt"
	"path"

	"github.com/otaflash/otaflash/pkg/release"
)

// ErrNoSpace means the board's flash cannot hold the staged release.
var ErrNoSpace = errors.New("not enough free flash on the board")

// UpdateRequest describes one update.
type UpdateRequest struct {
	// Tree is the release's content; Version its version.
	Tree    *release.Tree
	Version string
	// Force reinstalls a version that is already installed.
	Force bool
	// DiscardPrevious removes the kept previous version (/prev) before
	// staging when the flash is too full to keep it.
	DiscardPrevious bool
	// Before, when set, is the state that Inspect returned on this Board
	// just before, with nothing run on the board since; Update then does not
	// read it again.
	Before *State
}

// UpdateReport is the account of an update: what it found and what it did.
type UpdateReport struct {
	Before, After State
	// Recovered describes an interrupted update that was finished or
	// rolled back first, or is "".
	Recovered string
	// UpToDate reports that the version was installed already and nothing
	// was written.
	UpToDate bool
	Stage    StageReport
}

// Update brings the board to req.Version: it recovers an interrupted
// update, stages and verifies the release in /next, marks it complete and
// swaps it in. It leaves the board's code running state to the caller (no
// reset).
func (b *Board) Update(ctx context.Context, req UpdateRequest) (UpdateReport, error) {
	var rep UpdateReport
	if req.Version == "" {
		return rep, errors.New("release has no version (name it with --version or a .version file)")
	}
	var st State
	var err error
	if req.Before != nil {
		st = *req.Before
	} else if st, err = b.Inspect(ctx); err != nil {
		return rep, err
	}
	rep.Before = st
	if rep.Recovered, err = b.Recover(ctx, st); err != nil {
		return rep, err
	}
	if rep.Recovered != "" {
		if st, err = b.Inspect(ctx); err != nil {
			return rep, err
		}
	}
	if st.Installed == req.Version && !req.Force && !(st.NextPresent && st.Staging == req.Version) {
		rep.UpToDate = true
		rep.After = st
		return rep, nil
	}
	if err := b.checkSpace(ctx, &st, req); err != nil {
		return rep, err
	}
	if rep.Stage, err = b.stage(ctx, st, req.Tree, req.Version); err != nil {
		return rep, err
	}
	if err := b.commit(ctx); err != nil {
		return rep, err
	}
	if err := b.swap(ctx); err != nil {
		return rep, err
	}
	if rep.After, err = b.Inspect(ctx); err != nil {
		return rep, err
	}
	if rep.After.Installed != req.Version {
		return rep, fmt.Errorf("after the swap %s/.version is %q, expected %q", rep.After.MainDir, rep.After.Installed, req.Version)
	}
	return rep, nil
}

// NeededSpace estimates the flash a release takes in bytes: each file rounded
// up to whole blocks, one block per folder and one for the version file.
func NeededSpace(tree *release.Tree, blockSize int64) int64 {
	if blockSize <= 0 {
		blockSize = 4096
	}
	var need int64
	for _, f := range tree.Files {
		need += (f.Size + blockSize - 1) / blockSize * blockSize
	}
	need += int64(len(releaseDirs(tree))+2) * blockSize
	return need
}

// checkSpace fails before anything is written when the release does not fit
// next to the installed version. A partial /next of another version is
// counted as free, since staging removes it first.
func (b *Board) checkSpace(ctx context.Context, st *State, req UpdateRequest) error {
	if st.NextPresent && st.Staging == req.Version {
		// A resumed staging was checked when it started and part of it is
		// already on the flash.
		return nil
	}
	need := NeededSpace(req.Tree, st.BlockSize)
	free := st.FreeFlash
	if st.NextPresent && st.Staging != req.Version {
		b.logf("stage: removing /next (partial staging of version %q)", st.Staging)
		if _, err := b.exec(ctx, "_rm('/next')"); err != nil {
			return fmt.Errorf("removing a partial /next: %w", err)
		}
		fresh, err := b.Inspect(ctx)
		if err != nil {
			return err
		}
		*st = fresh
		free = st.FreeFlash
	}
	if free >= need {
		return nil
	}
	if st.PrevPresent && req.DiscardPrevious {
		b.logf("stage: removing /prev (version %q) to make room", st.Previous)
		if _, err := b.exec(ctx, "_rm('/prev')"); err != nil {
			return fmt.Errorf("removing /prev: %w", err)
		}
		fresh, err := b.Inspect(ctx)
		if err != nil {
			return err
		}
		*st = fresh
		if st.FreeFlash >= need {
			return nil
		}
		free = st.FreeFlash
	}
	hint := "free space on the board or use a smaller release"
	if st.PrevPresent && !req.DiscardPrevious {
		hint = "pass --discard-previous to remove the kept previous version " + path.Clean(prevDir) + ", or free space on the board"
	}
	return fmt.Errorf("%w: the release needs %d bytes, the board has %d bytes free; %s", ErrNoSpace, need, free, hint)
}
