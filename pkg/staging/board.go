package staging

import (
	"context"
	_ "embed"
	"fmt"
	"strings"
	"time"

	"github.com/otaflash/otaflash/pkg/repl"
)

// recoverSource is the module that install-recovery writes to the board and
// the first half of the helpers every session defines.
//
//go:embed board/otaflash_recover.py
var recoverSource string

//go:embed board/helpers.py
var helpersSource string

// transferSource defines the binary receiver and the on-board copy.
//
//go:embed board/transfer.py
var transferSource string

// Transfer modes for Options.Transfer.
const (
	// TransferAuto uses binary where the board offers sys.stdin.buffer and
	// micropython.kbd_intr, and base64 otherwise or after binary failed.
	TransferAuto = "auto"
	// TransferBinary sends raw bytes to a receiver on the board.
	TransferBinary = "binary"
	// TransferBase64 sends base64 text inside raw REPL commands.
	TransferBase64 = "base64"
)

// Folders of the on-board layout; see the package comment.
const (
	nextDir = "/next"
	prevDir = "/prev"
)

// Options configures a Board.
type Options struct {
	// MainDir is the app folder on the board, without slashes. Default "project".
	MainDir string
	// ChunkSize is how many file bytes one write command carries. Default
	// 720, which base64 turns into a command of under 1 KB.
	ChunkSize int
	// Transfer is TransferAuto (the default), TransferBinary or TransferBase64.
	Transfer string
	// Progress, when set, is called as staging advances.
	Progress func(Progress)
	// Logf, when set, receives one line for each step taken on the board.
	Logf func(format string, args ...any)
}

// Board runs staging steps on one raw REPL session.
type Board struct {
	conn *repl.Conn
	opts Options
	// helpersAt is the conn entry count at which the helpers were defined.
	helpersAt int
	// binary reports whether files go through the binary receiver.
	binary bool
	// binaryFailed is set when a binary transfer failed; the rest of the
	// session uses base64.
	binaryFailed bool
}

// New returns a Board that works through conn.
func New(conn *repl.Conn, opts Options) *Board {
	if opts.MainDir == "" {
		opts.MainDir = "project"
	}
	opts.MainDir = strings.Trim(opts.MainDir, "/")
	if opts.ChunkSize <= 0 {
		opts.ChunkSize = 720
	}
	if opts.Transfer == "" {
		opts.Transfer = TransferAuto
	}
	return &Board{conn: conn, opts: opts, helpersAt: -1}
}

// appDir returns the absolute path of the app folder.
func (b *Board) appDir() string {
	return "/" + b.opts.MainDir
}

func (b *Board) logf(format string, args ...any) {
	if b.opts.Logf != nil {
		b.opts.Logf(format, args...)
	}
}

// exec runs code after making sure the helper functions are defined.
func (b *Board) exec(ctx context.Context, code string) (string, error) {
	return b.execTimeout(ctx, code, 0)
}

func (b *Board) execTimeout(ctx context.Context, code string, timeout time.Duration) (string, error) {
	if err := b.ensureHelpers(ctx); err != nil {
		return "", err
	}
	var out []byte
	var err error
	if timeout > 0 {
		out, err = b.conn.ExecTimeout(ctx, code, timeout)
	} else {
		out, err = b.conn.Exec(ctx, code)
	}
	return strings.ReplaceAll(string(out), "\r\n", "\n"), err
}

// ensureHelpers defines the on-board helpers once per raw REPL entry, since a
// reset between entries clears them. Each part is sent as its own command to
// keep commands under 1 KB.
func (b *Board) ensureHelpers(ctx context.Context) error {
	if b.helpersAt >= 0 && b.helpersAt == b.conn.Entries() {
		return nil
	}
	if b.conn.Entries() == 0 {
		if err := b.conn.EnterRaw(ctx); err != nil {
			return err
		}
	}
	for _, src := range []string{recoverSource, helpersSource, transferSource} {
		if _, err := b.conn.Exec(ctx, compact(src)); err != nil {
			return fmt.Errorf("defining the otaflash helpers on the board: %w", err)
		}
	}
	b.helpersAt = b.conn.Entries()
	return b.chooseTransfer(ctx)
}

// chooseTransfer settles the transfer mode for this session. Binary needs
// sys.stdin.buffer.readinto and micropython.kbd_intr, which MicroPython has
// on the ESP8266 from v1.13 on but not on every port.
func (b *Board) chooseTransfer(ctx context.Context) error {
	switch b.opts.Transfer {
	case TransferBase64:
		b.binary = false
		return nil
	case TransferBinary, TransferAuto:
	default:
		return fmt.Errorf("invalid transfer mode %q: use auto, binary or base64", b.opts.Transfer)
	}
	out, err := b.conn.Exec(ctx, "print(hasattr(sys.stdin,'buffer') and hasattr(sys.stdin.buffer,'readinto') and hasattr(micropython,'kbd_intr'))")
	if err != nil {
		return fmt.Errorf("checking for binary transfer: %w", err)
	}
	b.binary = strings.TrimSpace(string(out)) == "True" && !b.binaryFailed
	if !b.binary && b.opts.Transfer == TransferBinary {
		return fmt.Errorf("binary transfer needs sys.stdin.buffer.readinto and micropython.kbd_intr, which this board lacks: use --transfer base64")
	}
	b.logf("transfer: binary=%v", b.binary)
	return nil
}

// compact drops comment lines and turns each four-space indent into one
// space, which makes the helpers about a third smaller on the wire.
func compact(src string) string {
	var sb strings.Builder
	for _, line := range strings.Split(src, "\n") {
		trimmed := strings.TrimLeft(line, " ")
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		indent := (len(line) - len(trimmed)) / 4
		sb.WriteString(strings.Repeat(" ", indent))
		sb.WriteString(trimmed)
		sb.WriteByte('\n')
	}
	return sb.String()
}

// pyStr returns a Python expression for s that is safe to paste into code
// whatever s contains: the UTF-8 bytes as an escaped bytes literal, decoded
// on the board. Quotes, backslashes, newlines and non-ASCII letters in file
// names therefore never reach the board's compiler as source text.
func pyStr(s string) string {
	var sb strings.Builder
	sb.WriteString("b'")
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c < 0x7f && c != '\'' && c != '\\' {
			sb.WriteByte(c)
		} else {
			fmt.Fprintf(&sb, "\\x%02x", c)
		}
	}
	sb.WriteString("'.decode()")
	return sb.String()
}

// boardPath joins an absolute board folder and a slash-separated relative path.
func boardPath(dir, rel string) string {
	return strings.TrimRight(dir, "/") + "/" + rel
}
