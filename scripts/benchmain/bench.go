package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
)

// benchmark builds otaflash, generates the app and measures both runs for
// every profile and mode, each pair on its own board.
func benchmark(ctx context.Context, cfg config, progress io.Writer) (report, error) {
	root, err := moduleRoot()
	if err != nil {
		return report{}, err
	}
	work, err := os.MkdirTemp("", "otaflash-bench-")
	if err != nil {
		return report{}, fmt.Errorf("creating a temporary folder: %w", err)
	}
	if cfg.keep {
		fmt.Fprintf(progress, "bench: keeping the generated app, flash folders and otaflash output in %s\n", work)
	} else {
		defer os.RemoveAll(work)
	}

	fmt.Fprintln(progress, "bench: building otaflash")
	bin, err := buildOtaflash(ctx, root, work)
	if err != nil {
		return report{}, err
	}
	first := generateApp(cfg.seed, cfg.size, cfg.files)
	second := first.nextVersion()
	sources := [2]string{filepath.Join(work, "app-1.0.0"), filepath.Join(work, "app-1.0.1")}
	if err := first.write(sources[0]); err != nil {
		return report{}, err
	}
	if err := second.write(sources[1]); err != nil {
		return report{}, err
	}

	rep := report{config: cfg, machine: describeMachine(ctx), app: first.describe()}
	for _, profile := range cfg.profiles {
		for _, mode := range cfg.modes {
			flash, err := os.MkdirTemp(work, "flash-")
			if err != nil {
				return rep, fmt.Errorf("creating a flash folder: %w", err)
			}
			specs := []runSpec{
				{kind: fullInstall, source: sources[0], version: "1.0.0", payload: first.size(), wantSent: len(first.files)},
				{kind: oneChanged, source: sources[1], version: "1.0.1", payload: int64(len(second.files[second.changed].data)), wantSent: 1},
			}
			for _, spec := range specs {
				spec.profile, spec.mode, spec.flashDir, spec.trace = profile, mode, flash, cfg.trace
				spec.logPath = filepath.Join(work, fmt.Sprintf("otaflash-%s-%s-%s.log", profile, mode, spec.version))
				fmt.Fprintf(progress, "bench: firmware %s, --transfer %s, %s\n", profile, mode, spec.kind)
				m, err := measureRun(ctx, bin, spec)
				if err != nil {
					return rep, err
				}
				rep.rows = append(rep.rows, m)
			}
		}
	}
	return rep, nil
}

// moduleRoot returns the first parent of the working directory that
// contains go.mod and sim/board.mjs: the otaflash checkout.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("reading the working directory: %w", err)
	}
	for {
		if isFile(filepath.Join(dir, "go.mod")) && isFile(filepath.Join(dir, "sim", "board.mjs")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("otaflash checkout not found: run bench inside it, such as with scripts/bench")
		}
		dir = parent
	}
}

func isFile(p string) bool {
	info, err := os.Stat(p)
	return err == nil && info.Mode().IsRegular()
}

// buildOtaflash builds cmd/otaflash into dir and returns the binary's path.
func buildOtaflash(ctx context.Context, root, dir string) (string, error) {
	bin := filepath.Join(dir, "otaflash")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/otaflash")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/otaflash in %s failed: %w\n%s", root, err, out)
	}
	return bin, nil
}
