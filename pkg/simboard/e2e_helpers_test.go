package simboard_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/otaflash/otaflash/pkg/simboard"
	"github.com/otaflash/otaflash/pkg/simboard/simtest"
)

// realSimDir is the repository's sim folder, which runs the MicroPython VM.
var realSimDir = filepath.Join("..", "..", "sim")

// startReal starts a board run by sim/board.mjs. It skips the test when the
// Node.js packages of the board are not installed.
func startReal(t *testing.T, opts ...func(*simboard.Options)) *simboard.Board {
	t.Helper()
	if _, err := os.Stat(filepath.Join(realSimDir, "node_modules")); err != nil {
		t.Skipf("simulated board packages not installed (run `npm ci --prefix sim`): %v", err)
	}
	real := func(o *simboard.Options) { o.SimDir = realSimDir }
	return simtest.Start(t, append([]func(*simboard.Options){real}, opts...)...)
}

// rawPrompt is what the raw REPL prints on entry (shared/runtime/pyexec.c).
const rawPrompt = "raw REPL; CTRL-B to exit\r\n>"

// enterRaw waits for the friendly prompt and enters the raw REPL.
func (c *conn) enterRaw() {
	c.t.Helper()
	c.readUntil(">>> ", 20*time.Second)
	c.write("\x01")
	c.readUntil(rawPrompt, 5*time.Second)
}

// execRaw runs src in the raw REPL and returns its stdout and its error
// output, as pyexec.c sends them: "OK", stdout, 0x04, error output, 0x04, ">".
func (c *conn) execRaw(src string) (stdout, stderr string) {
	c.t.Helper()
	c.write(src + "\x04")
	c.readUntil("OK", 10*time.Second)
	stdout = c.readUntil("\x04", 10*time.Second)
	stderr = c.readUntil("\x04", 10*time.Second)
	c.readUntil(">", 5*time.Second)
	return stdout[:len(stdout)-1], stderr[:len(stderr)-1]
}
