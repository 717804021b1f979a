package staging

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/otaflash/otaflash/pkg/repl"
)

// recoverSource is the module that install-recovery writes to the board and
// the first part of the helpers every session defines.
//
//go:embed board/otaflash_recover.py
var recoverSource string

//go:embed board/helpers.py
var helpersSource string

//go:embed board/state.py
var stateSource string

//go:embed board/keep.py
var keepSource string

//go:embed board/transfer.py
var transferSource string

//go:embed board/base64.py
var base64Source string

//go:embed board/listing.py
var listingSource string

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
	// defined contains the digests of the helper parts defined since then.
	defined map[string]bool
	// canBinary reports whether the last state showed what the binary
	// receiver needs. stateRead is set once a state was read.
	canBinary, stateRead bool
	// transferChosen is set once chooseTransfer has set binary.
	transferChosen bool
	// binary reports whether files go through the binary receiver.
	binary bool
	// binaryFailed is set when a binary transfer failed; the rest of the
	// session uses base64.
	binaryFailed bool
	// spoiled counts the retries of spoiled commands and files.
	spoiled int
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

// commandAttempts bounds the tries of one command that the line spoiled.
const commandAttempts = 5

// maxSpoiled bounds the commands and files that the line may spoil in one
// session before staging gives up: a line that bad does not get better by
// retrying, and every retry costs time.
const maxSpoiled = 30

// ErrNoisyLine means the serial line spoiled more commands than retries can
// make up for.
var ErrNoisyLine = errors.New("the serial line spoiled too many commands (check the cable and USB hub, or lower --baud on both ends)")

// spoiledOnce counts a retry and returns ErrNoisyLine, wrapping err, once the
// session has used up maxSpoiled retries.
func (b *Board) spoiledOnce(err error) error {
	b.spoiled++
	if b.spoiled > maxSpoiled {
		return fmt.Errorf("%w: the last one: %v", ErrNoisyLine, err)
	}
	return nil
}

// exec runs code after making sure the helper functions are defined, and
// runs it again when the line spoiled it. Every command given to exec must
// therefore be idempotent: running it twice leaves the board as running it
// once does.
func (b *Board) exec(ctx context.Context, code string) (string, error) {
	return b.execWithin(ctx, code, b.conn.Timeout())
}

// execWithin is exec with its own bound on how long the command may run.
func (b *Board) execWithin(ctx context.Context, code string, timeout time.Duration) (string, error) {
	var out string
	var err error
	for attempt := 1; attempt <= commandAttempts; attempt++ {
		if out, err = b.execOnce(ctx, code, timeout); err == nil || !(b.lostHelpers(err) || transient(err)) {
			return out, err
		}
		if noisy := b.spoiledOnce(err); noisy != nil {
			return out, noisy
		}
		b.logf("command spoiled on the line (attempt %d of %d): %v", attempt, commandAttempts, err)
	}
	return out, err
}

// execOnce runs code once, verified, after making sure the helper functions
// are defined.
func (b *Board) execOnce(ctx context.Context, code string, timeout time.Duration) (string, error) {
	if err := b.ensureHelpers(ctx); err != nil {
		return "", err
	}
	out, err := b.conn.ExecTimeout(ctx, verified(code), timeout)
	return strings.ReplaceAll(string(out), "\r\n", "\n"), err
}

// execData runs a command that only carries file data, unverified: a
// spoiled one writes wrong bytes, which the file's SHA-256 check finds.
func (b *Board) execData(ctx context.Context, code string) (string, error) {
	if err := b.ensureHelpers(ctx); err != nil {
		return "", err
	}
	out, err := b.conn.Exec(ctx, code)
	return strings.ReplaceAll(string(out), "\r\n", "\n"), err
}

// execDataAhead is execData that also writes the start of next, the
// command that follows, while the board runs code (see repl.Conn.ExecAhead).
func (b *Board) execDataAhead(ctx context.Context, code, next string) (string, error) {
	if err := b.ensureHelpers(ctx); err != nil {
		return "", err
	}
	out, err := b.conn.ExecAhead(ctx, code, next)
	return strings.ReplaceAll(string(out), "\r\n", "\n"), err
}

// helperCache is the file on the board's flash that keeps the bootstrap and
// the helper parts between sessions, so a session sends only what it lacks.
// Each record is "#", 8 hex digits of the SHA-256, a space, the length in
// bytes and a newline, followed by the source. The bootstrap is the first.
// A record runs only when its digest matches one that this version of
// otaflash defines. An unknown or truncated record makes the loader remove
// the whole file, and the session writes it again.
const helperCache = "/otaflash_helpers.py"

// bootstrapSource defines _x, _w and _ld.
//
// _x runs a command only if its SHA-256 matches the one the host computed.
// A byte lost on the line can turn a command into another valid one
// (dropping "next" from "_rm('/next')" leaves "_rm('/')"), so every command
// travels inside a call to _x with the first 4 bytes of its digest.
// Firmware without raw-paste (v1.13) has no flow control, so such a loss
// can happen whenever the board is busy. The command is a raw string
// literal, or base64 bytes when its text cannot be one. When k is set, _x
// also appends the command to the helper cache with _w.
//
// _ld runs the cache records whose digests are in w and prints each digest
// it ran. When a record is unknown, repeated, spoiled or truncated, it
// removes the file and prints "!".
const bootstrapSource = `import ubinascii as _B,uhashlib as _U,os
_K='` + helperCache + `'
def _X(c):return _B.hexlify(_U.sha256(c).digest()[:4])
def _w(c,h,m):
 try:
  f=open(_K,m)
  try:f.write(b'#'+h+b' '+str(len(c)).encode()+b'\n'+c)
  finally:f.close()
 except OSError:
  pass
def _x(s,h,k=0):
 c=s.encode() if type(s) is str else _B.a2b_base64(s)
 if _X(c)!=h:raise ValueError('otaflash: command spoiled on the line')
 exec(c,globals())
 if k:_w(c,h,'ab')
def _ld(w):
 try:
  f=open(_K,'rb')
 except OSError:
  return
 d=[]
 try:
  while 1:
   l=f.readline()
   if not l:break
   h=l[1:9];c=f.read(int(l[10:].decode()))
   if h in d or h not in w or _X(c)!=h:raise ValueError
   exec(c,globals());d.append(h);print(h.decode(),end=' ')
  f.close()
 except Exception:
  f.close();os.remove(_K);print('!')
`

// bootstrapReady is the line the bootstrap prints once _x is defined.
const bootstrapReady = "otaflash-ok"

// bootstrapDigest is the bootstrap's digest, in the form _x and the cache use.
var bootstrapDigest = func() string {
	sum := sha256.Sum256([]byte(bootstrapSource))
	return hex.EncodeToString(sum[:4])
}()

// cachedBootstrapCommand returns the command that runs the bootstrap from
// the helper cache when the first record is this version's bootstrap, and
// then prints bootstrapReady. Every session sends it, so it is short. It is
// not verified because _x does not exist yet. A spoiled copy fails to
// compile, or runs only a record whose digest matches.
func cachedBootstrapCommand() string {
	return "try:\n import uhashlib as u,ubinascii as b\n f=open('" + helperCache + "','rb');l=f.readline();c=f.read(int(l[10:].decode()));f.close()\n" +
		" if l[1:9]==b'" + bootstrapDigest + "' and b.hexlify(u.sha256(c).digest()[:4])==b'" + bootstrapDigest + "':exec(c,globals());print('" + bootstrapReady + "')\n" +
		"except Exception:\n pass\nu=b=f=l=c=None"
}

// bootstrapCommand returns the command that defines the bootstrap and
// writes it as the first record of a new helper cache. The definition runs
// only if its SHA-256 matches, so a copy spoiled on the line never runs.
// The host continues only when it reads bootstrapReady.
func bootstrapCommand() string {
	return "s=r'''" + bootstrapSource + "'''\nimport uhashlib as u,ubinascii as b\n" +
		"if b.hexlify(u.sha256(s.encode()).digest()[:4])==b'" + bootstrapDigest + "':" +
		"exec(s,globals());_w(s.encode(),b'" + bootstrapDigest + "','wb');print('" + bootstrapReady + "')\n" +
		"del s,u,b"
}

// spoiledMessage is the text of the ValueError that _x raises.
const spoiledMessage = "command spoiled on the line"

// verified wraps code in a call to _x.
func verified(code string) string {
	return verifiedCall(code, "")
}

// verifiedCall wraps code in a call to _x with more arguments after the
// digest, each starting with a comma.
func verifiedCall(code, more string) string {
	sum := sha256.Sum256([]byte(code))
	digest := hex.EncodeToString(sum[:4])
	if !strings.Contains(code, `"""`) && !strings.HasSuffix(code, `\`) && !strings.HasSuffix(code, `"`) {
		return `_x(r"""` + code + `""",b'` + digest + `'` + more + `)`
	}
	return fmt.Sprintf("_x(b'%s',b'%s'%s)", base64.StdEncoding.EncodeToString([]byte(code)), digest, more)
}

// transient reports whether err may come from bytes lost or changed on the
// line, so that the same command can succeed when sent again: no response in
// time, a response out of protocol, a command that _x rejected, or an
// exception raised outside the command that _x runs (its traceback names no
// "<string>" frame), which means the call around it was spoiled. Firmware
// without raw-paste (v1.13) has no flow control, so a board busy with its
// flash can drop bytes of a command. The traceback itself may be spoiled on
// the way back, so _x's rejection is recognized by its frame or its message.
func transient(err error) bool {
	var remote *repl.RemoteError
	var protocol *repl.ProtocolError
	switch {
	case errors.Is(err, repl.ErrTimeout), errors.As(err, &protocol):
		return true
	case errors.As(err, &remote):
		return strings.Contains(remote.Exception(), spoiledMessage) || raisedByVerifier(remote) ||
			!strings.Contains(remote.Traceback, `"<string>"`)
	}
	return false
}

// raisedByVerifier reports whether _x itself raised the exception: its
// frame is the innermost one. An error in the command that _x runs has the
// command's own frame below it.
func raisedByVerifier(remote *repl.RemoteError) bool {
	lines := strings.Split(strings.TrimSpace(remote.Traceback), "\n")
	return len(lines) >= 2 && strings.HasSuffix(strings.TrimSpace(lines[len(lines)-2]), ", in _x")
}

// lostHelpers reports whether err is a NameError for an otaflash helper,
// which means the board reset since the helpers were defined. A byte
// changed on the line can turn Ctrl-E (0x05, raw-paste) into Ctrl-D (0x04),
// which soft-resets a board in the raw REPL. lostHelpers then marks the
// helpers for defining again, so the command can be retried.
func (b *Board) lostHelpers(err error) bool {
	var remote *repl.RemoteError
	if !errors.As(err, &remote) || remote.Type() != "NameError" || !strings.Contains(remote.Exception(), "'_") {
		return false
	}
	b.logf("helpers: the board no longer has them (%s); defining them again", remote.Exception())
	b.helpersAt = -1
	return true
}

// helperGroup names a set of helper parts that are defined together.
type helperGroup int

const (
	// groupCore contains the parts every update uses: recovery, state, the
	// on-board copy and the binary receiver. A session defines all of them,
	// so the cache has them for the next session.
	groupCore helperGroup = iota
	// groupBase64 writes files from base64 commands.
	groupBase64
	// groupListing lists a folder with digests, to resume a staging.
	groupListing
	numGroups
)

// helperPart is the helper source that one command defines, with the
// digest that _x checks and the helper cache records.
type helperPart struct {
	code, digest string
}

// helperParts contains each group's parts, in the order they are defined.
var helperParts = func() [numGroups][]helperPart {
	sources := [numGroups][]string{
		groupCore:    {recoverSource, helpersSource, stateSource, keepSource, transferSource},
		groupBase64:  {base64Source},
		groupListing: {listingSource},
	}
	var parts [numGroups][]helperPart
	for g, srcs := range sources {
		for _, src := range srcs {
			for _, code := range splitDefinitions(compact(src), maxDefinition) {
				sum := sha256.Sum256([]byte(code))
				parts[g] = append(parts[g], helperPart{code: code, digest: hex.EncodeToString(sum[:4])})
			}
		}
	}
	return parts
}()

// ensureHelpers defines the command verifier and the core helpers once per
// raw REPL entry, because a reset between entries clears them. It loads
// what the helper cache contains and sends the rest, one command per part,
// so commands stay under 1 KB.
func (b *Board) ensureHelpers(ctx context.Context) error {
	if b.helpersAt >= 0 && b.helpersAt == b.conn.Entries() {
		return nil
	}
	if b.conn.Entries() == 0 {
		if err := b.conn.EnterRaw(ctx); err != nil {
			return err
		}
	}
	loaded, err := b.bootstrap(ctx)
	if err != nil {
		return fmt.Errorf("defining the otaflash command verifier on the board: %w", err)
	}
	b.defined = loaded
	b.helpersAt = b.conn.Entries()
	return b.defineGroup(ctx, groupCore)
}

// need defines the helpers of group g unless they are defined already.
func (b *Board) need(ctx context.Context, g helperGroup) error {
	if err := b.ensureHelpers(ctx); err != nil {
		return err
	}
	return b.defineGroup(ctx, g)
}

// defineGroup defines the parts of group g that are not defined yet and
// appends each to the helper cache.
func (b *Board) defineGroup(ctx context.Context, g helperGroup) error {
	for _, part := range helperParts[g] {
		if b.defined[part.digest] {
			continue
		}
		if err := b.define(ctx, part); err != nil {
			return fmt.Errorf("defining the otaflash helpers on the board: %w", err)
		}
		b.defined[part.digest] = true
	}
	return nil
}

// bootstrap defines _x, _w and _ld, from the helper cache when possible,
// and returns the digests of the helper parts loaded from the cache.
func (b *Board) bootstrap(ctx context.Context) (map[string]bool, error) {
	// An empty output means no usable cache. Anything other than that or
	// bootstrapReady was spoiled on the way back, so the command runs again.
	out, err := b.retryUntil(ctx, cachedBootstrapCommand(), func(out string) bool {
		return out == "" || out == bootstrapReady
	})
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(string(out)) == bootstrapReady {
		digests := []string{bootstrapDigest}
		for _, parts := range helperParts {
			for _, part := range parts {
				digests = append(digests, part.digest)
			}
		}
		known := map[string]bool{"!": true}
		for _, d := range digests {
			known[d] = true
		}
		// Running _ld again only defines the same functions again.
		out, err = b.retryUntil(ctx, verified("_ld(b'"+strings.Join(digests, " ")+"')"), func(out string) bool {
			for _, f := range strings.Fields(out) {
				if !known[f] {
					return false
				}
			}
			return true
		})
		if err != nil {
			return nil, fmt.Errorf("loading %s: %w", helperCache, err)
		}
		if loaded, ok := b.loadedParts(strings.Fields(string(out)), len(digests)); ok {
			return loaded, nil
		}
	}
	_, err = b.retryUntil(ctx, bootstrapCommand(), func(out string) bool { return out == bootstrapReady })
	if err != nil {
		return nil, err
	}
	b.logf("helpers: writing a new cache %s", helperCache)
	return map[string]bool{}, nil
}

// retry runs code without defining the helpers first, and runs it again
// when the line spoiled it.
func (b *Board) retry(ctx context.Context, code string) ([]byte, error) {
	return b.retryUntil(ctx, code, func(string) bool { return true })
}

// retryUntil is retry that also runs code again when valid rejects its
// trimmed output, which means the output was spoiled on the way back.
func (b *Board) retryUntil(ctx context.Context, code string, valid func(string) bool) ([]byte, error) {
	var out []byte
	var err error
	for attempt := 1; attempt <= commandAttempts; attempt++ {
		out, err = b.conn.Exec(ctx, code)
		if err == nil && !valid(strings.TrimSpace(string(out))) {
			err = &repl.ProtocolError{Step: "in a reply spoiled on the line", Got: out}
		}
		if err == nil || !transient(err) {
			return out, err
		}
		if noisy := b.spoiledOnce(err); noisy != nil {
			return out, noisy
		}
	}
	return out, err
}

// loadedParts parses the digests that _ld printed. It returns false after
// "!", because the cache was removed and must be written again.
func (b *Board) loadedParts(fields []string, records int) (map[string]bool, bool) {
	loaded := map[string]bool{}
	for _, f := range fields {
		if f == "!" {
			b.logf("helpers: the cache %s did not match and was removed", helperCache)
			return nil, false
		}
		loaded[f] = true
	}
	b.logf("helpers: %d of %d records loaded from %s", len(loaded), records, helperCache)
	return loaded, true
}

// define runs the definition of part and appends it to the helper cache,
// and runs it again when the line spoiled it. Only the first try appends,
// because it may have run before its reply was spoiled, and a repeated
// record makes the loader discard the cache.
func (b *Board) define(ctx context.Context, part helperPart) error {
	code := verifiedCall(part.code, ",1")
	var err error
	for attempt := 1; attempt <= commandAttempts; attempt++ {
		if _, err = b.conn.Exec(ctx, code); err == nil || !transient(err) {
			return err
		}
		if noisy := b.spoiledOnce(err); noisy != nil {
			return noisy
		}
		code = verified(part.code)
	}
	return err
}

// chooseTransfer sets the transfer mode for the session. Binary needs
// sys.stdin.buffer.readinto and micropython.kbd_intr, which the ESP8266 port
// has from v1.13 on but not every build has. The board's state reports them.
func (b *Board) chooseTransfer(ctx context.Context) error {
	if b.transferChosen {
		return nil
	}
	switch b.opts.Transfer {
	case TransferBase64:
		b.binary = false
		b.transferChosen = true
		return nil
	case TransferBinary, TransferAuto:
	default:
		return fmt.Errorf("invalid transfer mode %q: use auto, binary or base64", b.opts.Transfer)
	}
	if !b.stateRead {
		if _, err := b.Inspect(ctx); err != nil {
			return err
		}
	}
	if !b.canBinary && b.opts.Transfer == TransferBinary {
		return fmt.Errorf("binary transfer needs sys.stdin.buffer.readinto and micropython.kbd_intr, which this board lacks: use --transfer base64")
	}
	b.binary = b.canBinary && !b.binaryFailed
	b.transferChosen = true
	b.logf("transfer: binary=%v", b.binary)
	return nil
}

// maxDefinition is the largest part of the helpers sent in one command, in
// bytes, so that the verified command stays under 1 KB.
const maxDefinition = 900

// splitDefinitions cuts compacted source into parts of at most max bytes at
// top-level lines, so that no function is split.
func splitDefinitions(src string, max int) []string {
	var parts []string
	var part strings.Builder
	for _, block := range topLevelBlocks(src) {
		if part.Len() > 0 && part.Len()+len(block) > max {
			parts = append(parts, part.String())
			part.Reset()
		}
		part.WriteString(block)
	}
	if part.Len() > 0 {
		parts = append(parts, part.String())
	}
	return parts
}

// topLevelBlocks splits source into runs that each start at an unindented line.
func topLevelBlocks(src string) []string {
	var blocks []string
	for _, line := range strings.SplitAfter(src, "\n") {
		if line == "" {
			continue
		}
		if len(blocks) == 0 || !strings.HasPrefix(line, " ") {
			blocks = append(blocks, line)
		} else {
			blocks[len(blocks)-1] += line
		}
	}
	return blocks
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
// whatever s contains: a plain literal when s is valid UTF-8 of printable
// characters without quotes or backslashes, else its bytes as an escaped
// bytes literal, decoded on the board. Quotes, backslashes, control
// characters and invalid UTF-8 in file names therefore never reach the
// board's compiler as source text, and a non-ASCII letter takes its 2-4
// bytes of UTF-8 instead of 4 characters per byte.
func pyStr(s string) string {
	plain := utf8.ValidString(s)
	for _, r := range s {
		if !plain || !unicode.IsPrint(r) || r == '\'' || r == '\\' {
			plain = false
			break
		}
	}
	if plain {
		return "'" + s + "'"
	}
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
