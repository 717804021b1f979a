package simboard

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
)

// SimDirEnv names the environment variable that overrides the folder
// containing board.mjs.
const SimDirEnv = "OTAFLASH_SIM_DIR"

// boardScript is the Node.js entry point of the simulated board.
const boardScript = "board.mjs"

// findNode returns the path of the Node.js executable.
func findNode(nodePath string) (string, error) {
	path, err := exec.LookPath(nodePath)
	if err != nil {
		return "", fmt.Errorf("node.js executable %q not found: install Node.js 18 or later "+
			"(https://nodejs.org/en/download) and put node on PATH: %w", nodePath, err)
	}
	return path, nil
}

// findSimDir returns the folder containing board.mjs: dir when set, else
// $OTAFLASH_SIM_DIR, else the sim folder found by walking up from the
// working directory.
func findSimDir(dir string) (string, error) {
	if dir == "" {
		dir = os.Getenv(SimDirEnv)
	}
	if dir == "" {
		found, err := searchSimDir()
		if err != nil {
			return "", err
		}
		dir = found
	}
	if _, err := os.Stat(filepath.Join(dir, boardScript)); err != nil {
		return "", fmt.Errorf("simulated board script not found in %q: set Options.SimDir or $%s "+
			"to the repository's sim folder: %w", dir, SimDirEnv, err)
	}
	return filepath.Abs(dir)
}

// searchSimDir walks up from the working directory to the first folder that
// contains sim/board.mjs and returns its sim folder.
func searchSimDir() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding the sim folder: %w", err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		sim := filepath.Join(dir, "sim")
		if _, err := os.Stat(filepath.Join(sim, boardScript)); err == nil {
			return sim, nil
		}
		if filepath.Dir(dir) == dir {
			break
		}
	}
	return "", fmt.Errorf("sim/%s not found in %q or any parent folder: run from inside the "+
		"otaflash repository or set $%s to its sim folder", boardScript, wd, SimDirEnv)
}

// checkNodeModules reports a sim folder whose package.json dependencies are
// not installed.
func checkNodeModules(simDir string) error {
	if _, err := os.Stat(filepath.Join(simDir, "package.json")); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if _, err := os.Stat(filepath.Join(simDir, "node_modules")); err != nil {
		return fmt.Errorf("node.js packages of the simulated board are not installed in %q: "+
			"run `npm ci --prefix %s`: %w", simDir, simDir, err)
	}
	return nil
}
