package repl

import (
	"errors"
	"fmt"
	"strings"
)

// ErrNoResponse means the board did not show a REPL prompt after repeated
// interrupts.
var ErrNoResponse = errors.New("board does not answer: no REPL prompt after Ctrl-C " +
	"(check the port is the board's, that no other program uses it, and that main.py " +
	"does not disable Ctrl-C with micropython.kbd_intr(-1) or loop without calling into the runtime)")

// ErrTimeout means a read from the board passed its deadline.
var ErrTimeout = errors.New("timed out waiting for the board")

// ErrClosed means the port closed while the session used it: the board was
// unplugged, or the USB serial device went away.
var ErrClosed = errors.New("the serial port closed (was the board unplugged?): connect it and run the command again")

// RemoteError is an exception raised on the board by a command.
type RemoteError struct {
	// Command is the first line of the command that raised.
	Command string
	// Traceback is the traceback the board printed, with "\r\n" line ends
	// turned into "\n".
	Traceback string
}

// Exception returns the last line of the traceback, such as
// "OSError: [Errno 28] ENOSPC".
func (e *RemoteError) Exception() string {
	lines := strings.Split(strings.TrimSpace(e.Traceback), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// Type returns the exception's type name, such as "OSError".
func (e *RemoteError) Type() string {
	exc := e.Exception()
	if i := strings.IndexByte(exc, ':'); i >= 0 {
		return exc[:i]
	}
	return exc
}

func (e *RemoteError) Error() string {
	return fmt.Sprintf("board raised %s (command: %s)", e.Exception(), e.Command)
}

// ProtocolError is a response that does not follow the raw REPL protocol.
type ProtocolError struct {
	Step string
	Got  []byte
}

func (e *ProtocolError) Error() string {
	got := e.Got
	if len(got) > 80 {
		got = got[len(got)-80:]
	}
	return fmt.Sprintf("unexpected answer from the board %s: %q", e.Step, got)
}
