package staging

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/otaflash/otaflash/pkg/release"
	"github.com/otaflash/otaflash/pkg/repl"
)

const (
	// blockSize is the payload of one binary block: two blocks with their
	// 2-byte headers fit in the receive window.
	blockSize = 125
	// fileAttempts bounds the tries for one file before staging fails.
	fileAttempts = 5
)

// errBinaryAborted means the binary receiver's reply did not match the
// block that was sent: a byte was dropped or changed on the line.
var errBinaryAborted = errors.New("binary transfer aborted")

// putFile writes one file into /next and verifies it, retrying a transfer
// that the line spoiled. After a binary transfer fails, the rest of the
// session sends base64.
func (b *Board) putFile(ctx context.Context, f release.File, progress Progress) error {
	var err error
	for attempt := 1; attempt <= fileAttempts; attempt++ {
		if attempt > 1 {
			if noisy := b.spoiledOnce(err); noisy != nil {
				return noisy
			}
			b.logf("stage: retrying %s (attempt %d of %d) after: %v", f.Path, attempt, fileAttempts, err)
		}
		// A path too long for the binary receiver goes as base64 alone.
		if b.binary && len(f.Path) <= maxReceivedPath {
			err = b.sendBinary(ctx, f, progress)
			if err != nil && !fatal(err) {
				b.logf("stage: binary transfer of %s failed, using base64 from now on: %v", f.Path, err)
				b.binaryFailed = true
				b.binary = false
			}
		} else {
			err = b.sendBase64(ctx, f, progress)
		}
		if err == nil || fatal(err) {
			return err
		}
	}
	return err
}

// fatal reports whether an error would recur on a retry: a cancelled
// context, a board that stopped responding, a closed port, or a full flash.
func fatal(err error) bool {
	var remote *repl.RemoteError
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return true
	case errors.Is(err, repl.ErrNoResponse), errors.Is(err, ErrNoisyLine), errors.Is(err, repl.ErrClosed):
		return true
	case errors.As(err, &remote):
		exc := remote.Exception()
		return strings.HasPrefix(exc, "OSError: 28") || strings.Contains(exc, "ENOSPC") || strings.HasPrefix(exc, "MemoryError")
	}
	return false
}

// sendBase64 writes one file in base64 chunks that keep each command under
// maxCommand, then has the board hash it and compares the digest.
func (b *Board) sendBase64(ctx context.Context, f release.File, progress Progress) error {
	if err := b.need(ctx, groupBase64); err != nil {
		return err
	}
	target := pyStr(boardPath(nextDir, f.Path))
	closing := fmt.Sprintf("_cl(%s)", target)
	room := maxCommand - len("_wr('')\n") - len(closing)
	chunk := min(b.opts.ChunkSize, room/4*3)
	if chunk <= 0 {
		return fmt.Errorf("file name %q is too long to send in a command of %d bytes", f.Path, maxCommand)
	}

	r, err := f.Open()
	if err != nil {
		return fmt.Errorf("reading %s from the release: %w", f.Path, err)
	}
	defer r.Close()

	if _, err := b.execOnce(ctx, fmt.Sprintf("_op(%s)", target), b.conn.Timeout()); err != nil {
		return fmt.Errorf("opening /next/%s on the board: %w", f.Path, err)
	}
	next, nextSize, err := nextWrite(r, chunk)
	if err != nil {
		return fmt.Errorf("reading %s from the release: %w", f.Path, err)
	}
	var sent int64
	for next != "" {
		cmd, n := next, int64(nextSize)
		if next, nextSize, err = nextWrite(r, chunk); err != nil {
			return fmt.Errorf("reading %s from the release: %w", f.Path, err)
		}
		// The start of the next write, or of the close, travels while the
		// board decodes and writes this chunk.
		following := next
		if following == "" {
			following = verified(closing)
		}
		if werr := b.writeChunk(ctx, cmd, following); werr != nil {
			return fmt.Errorf("writing /next/%s at byte %d: %w", f.Path, sent, werr)
		}
		sent += n
		progress.Done += n
		b.report(progress)
	}
	out, err := b.execOnce(ctx, closing, b.conn.Timeout())
	if err != nil {
		return fmt.Errorf("closing /next/%s: %w", f.Path, err)
	}
	return checkDigest(f, strings.TrimSpace(out))
}

// writeChunk runs one _wr command, again when the board refused it before
// writing anything: a SyntaxError or NameError means the command did not
// compile or call _wr, and a ValueError means its base64 did not decode.
// Any other failure leaves the file to the whole-file retry.
func (b *Board) writeChunk(ctx context.Context, cmd, following string) error {
	var err error
	for attempt := 1; attempt <= commandAttempts; attempt++ {
		if _, err = b.execDataAhead(ctx, cmd, following); err == nil || !refusedBeforeWrite(err) {
			return err
		}
		if noisy := b.spoiledOnce(err); noisy != nil {
			return noisy
		}
	}
	return err
}

func refusedBeforeWrite(err error) bool {
	var remote *repl.RemoteError
	if !errors.As(err, &remote) {
		return false
	}
	switch remote.Type() {
	case "SyntaxError", "IndentationError", "NameError", "ValueError":
		return true
	}
	return false
}

// nextWrite reads up to chunk bytes and returns the _wr command that
// writes them and their count, or "" at the end of r.
func nextWrite(r io.Reader, chunk int) (string, int, error) {
	buf := make([]byte, chunk)
	n, err := io.ReadFull(r, buf)
	if err == io.EOF {
		return "", 0, nil
	}
	if err != nil && err != io.ErrUnexpectedEOF {
		return "", 0, err
	}
	return "_wr('" + base64.StdEncoding.EncodeToString(buf[:n]) + "')", n, nil
}

func checkDigest(f release.File, got string) error {
	if want := hex.EncodeToString(f.SHA256[:]); got != want {
		return &VerifyError{Path: f.Path, Want: want, Got: got}
	}
	return nil
}

// sendBinary streams one file to the _rxm receiver on the board, as
// sendBatch does for several. putFile sends a path longer than
// maxReceivedPath as base64 instead.
func (b *Board) sendBinary(ctx context.Context, f release.File, progress Progress) error {
	n, err := b.receive(ctx, []release.File{f}, []int{progress.Index}, &progress)
	if err == nil && n != 1 {
		err = fmt.Errorf("%w: /next/%s was not verified", errBinaryAborted, f.Path)
	}
	if err != nil {
		return fmt.Errorf("sending /next/%s: %w", f.Path, err)
	}
	return nil
}

// sendBatch streams several files to the _rxm receiver in one command, which
// saves a command's round trips per file. It returns the indexes of the
// files it did not verify, in order, to be sent one by one. After a failure
// it switches the session to base64, as putFile does.
func (b *Board) sendBatch(ctx context.Context, tree *release.Tree, indexes []int, progress *Progress) ([]int, error) {
	if !b.binary || len(indexes) < 2 {
		return indexes, nil
	}
	var batch, rest, numbers []int
	var files []release.File
	for _, i := range indexes {
		if len(tree.Files[i].Path) > maxReceivedPath {
			rest = append(rest, i) // left for putFile
			continue
		}
		batch = append(batch, i)
		files = append(files, tree.Files[i])
		numbers = append(numbers, i+1)
	}
	n, err := b.receive(ctx, files, numbers, progress)
	if err != nil {
		if fatal(err) {
			return nil, err
		}
		b.logf("stage: binary transfer failed after %d of %d files, using base64 from now on: %v", n, len(files), err)
		b.binaryFailed = true
		b.binary = false
	}
	rest = append(rest, batch[n:]...)
	sort.Ints(rest)
	return rest, nil
}

// maxReceivedPath is the longest path in bytes that the binary receiver
// accepts, so the path with its 2-byte length and 2-byte digest fits in the
// window.
const maxReceivedPath = window - 4

// window is how many bytes the host sends before the board replies to them.
// It is the capacity of the ESP8266's UART receive buffer: stdin_ringbuf in
// ports/esp8266/esp_mphal.c has 256 bytes, and ringbuf_put in py/ringbuf.h
// keeps one empty. So the board drops no bytes while it is busy.
const window = 255

// receive runs the _rxm receiver on the board and streams files to it. It
// returns how many files, counted from the first, were written and verified.
// numbers are the files' Progress.Index values.
func (b *Board) receive(ctx context.Context, files []release.File, numbers []int, progress *Progress) (int, error) {
	if err := b.ensureHelpers(ctx); err != nil {
		return 0, err
	}
	timeout := b.answerTimeout()
	done := 0
	talk := func(s *repl.Stream) error {
		if ready, err := s.ReadN(1, timeout); err != nil || string(ready) != "r" {
			return fmt.Errorf("%w: the receiver did not start (%q, %v)", errBinaryAborted, ready, err)
		}
		w := &windowed{s: s, timeout: timeout, verified: func(f release.File) {
			// The next file may be streaming already, so this report
			// names the verified file on a copy.
			p := *progress
			p.File, p.Index, p.FileDone = f.Path, numbers[done], true
			b.report(p)
			done++
		}}
		for k, f := range files {
			progress.File, progress.Index = f.Path, numbers[k]
			if err := w.file(f, progress, b.report); err != nil {
				unstick(s)
				return err
			}
		}
		if err := w.send([]byte{0, 0}, nil); err != nil {
			return err
		}
		return w.drain()
	}
	_, err := b.conn.ExecStream(ctx, verified(receiveCommand), timeout, talk)
	return done, err
}

// receiveCommand runs the binary receiver into /next.
const receiveCommand = "_rxm('/next')"

// answerTimeout bounds the wait for the receiver's reply to a block: the
// line time of the blocks in flight, plus the board's own time to write
// them, with a wide margin.
func (b *Board) answerTimeout() time.Duration {
	return 2 * time.Second
}

// windowed sends the receiver's input with at most window bytes that the
// board has not replied to, across file boundaries. So while the board
// hashes a finished file, the next file's path and first block wait in its
// receive buffer.
type windowed struct {
	s       *repl.Stream
	timeout time.Duration
	// sent counts the bytes written, and replied the bytes up to the end
	// of the last unit that the board replied to.
	sent, replied int
	// replies are the replies due, oldest first.
	replies []reply
	// verified is called for each file whose digest matched.
	verified func(release.File)
}

// reply is the text the board prints after it reads a unit: 4 hex digits
// of a block's SHA-256, or "." and a file's whole SHA-256.
type reply struct {
	expect string
	// end is the count of bytes sent up to the end of the unit.
	end int
	// file is set for a file's digest.
	file *release.File
}

// file sends f's path, its blocks and the end mark.
func (w *windowed) file(f release.File, progress *Progress, report func(Progress)) error {
	r, err := f.Open()
	if err != nil {
		return fmt.Errorf("reading %s from the release: %w", f.Path, err)
	}
	defer r.Close()
	name := []byte(f.Path)
	sum := sha256.Sum256(name)
	header := append(binary.LittleEndian.AppendUint16(nil, uint16(len(name))), name...)
	if err := w.send(append(header, sum[:2]...), nil); err != nil {
		return err
	}
	buf := make([]byte, 2+blockSize)
	for {
		n, err := io.ReadFull(r, buf[2:])
		if n > 0 {
			binary.LittleEndian.PutUint16(buf, uint16(n))
			sum := sha256.Sum256(buf[2 : 2+n])
			if err := w.send(buf[:2+n], &reply{expect: hex.EncodeToString(sum[:2])}); err != nil {
				return err
			}
			progress.Done += int64(n)
			report(*progress)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return fmt.Errorf("reading %s from the release: %w", f.Path, err)
		}
	}
	return w.send([]byte{0, 0}, &reply{expect: "." + hex.EncodeToString(f.SHA256[:]), file: &f})
}

// send writes unit once the window has room for it, and reads replies
// until then. When a is set, it is the reply due after the unit.
func (w *windowed) send(unit []byte, a *reply) error {
	for w.sent+len(unit)-w.replied > window && len(w.replies) > 0 {
		if err := w.read(); err != nil {
			return err
		}
	}
	if err := w.s.Write(unit); err != nil {
		return err
	}
	w.sent += len(unit)
	if a != nil {
		a.end = w.sent
		w.replies = append(w.replies, *a)
	}
	return nil
}

// read reads the oldest reply due and checks it.
func (w *windowed) read() error {
	a := w.replies[0]
	got, err := w.s.ReadN(len(a.expect), w.timeout)
	if err != nil {
		return fmt.Errorf("%w: no reply from the receiver: %v", errBinaryAborted, err)
	}
	if string(got) != a.expect {
		if a.file != nil {
			return fmt.Errorf("%w: /next/%s: the board replied %q, expected %q", errBinaryAborted, a.file.Path, got, a.expect)
		}
		return fmt.Errorf("%w: block digest %q, expected %q", errBinaryAborted, got, a.expect)
	}
	w.replied = a.end
	w.replies = w.replies[1:]
	if a.file != nil {
		w.verified(*a.file)
	}
	return nil
}

// drain reads and checks every reply still due.
func (w *windowed) drain() error {
	for len(w.replies) > 0 {
		if err := w.read(); err != nil {
			return err
		}
	}
	return nil
}

// unstick ends a receiver that lost count of the bytes. Zero bytes complete
// the block it reads (at most a header and 256 bytes), then serve as the end
// marks of the file and of the transfer, so it turns Ctrl-C back on and
// returns.
func unstick(s *repl.Stream) {
	_ = s.Write(make([]byte, 2+256+2+2))
}
