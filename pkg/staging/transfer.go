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
	"strings"
	"time"

	"github.com/otaflash/otaflash/pkg/release"
	"github.com/otaflash/otaflash/pkg/repl"
)

const (
	// blockSize is the payload of one binary block. Two blocks with their
	// headers stay within the ESP8266's 256-byte UART receive buffer
	// (ports/esp8266/esp_mphal.c stdin_ringbuf), so the board never drops
	// bytes while it writes a block to flash.
	blockSize = 126
	// blocksInFlight is how many blocks the host sends before it waits
	// for the board's reply to the oldest.
	blocksInFlight = 2
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
		if b.binary {
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
// context, a board that stopped responding, or a full flash.
func fatal(err error) bool {
	var remote *repl.RemoteError
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return true
	case errors.Is(err, repl.ErrNoResponse), errors.Is(err, ErrNoisyLine):
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

	if _, err := b.execOnce(ctx, fmt.Sprintf("_op(%s)", target)); err != nil {
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
	out, err := b.execOnce(ctx, closing)
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

// sendBinary streams one file to the _rx receiver on the board: blocks of
// blockSize bytes, each after its 2-byte length, with blocksInFlight blocks
// unanswered at most. The board answers each block with the first 4 hex
// digits of its SHA-256 and, at the end, "." and the whole file's digest.
func (b *Board) sendBinary(ctx context.Context, f release.File, progress Progress) error {
	r, err := f.Open()
	if err != nil {
		return fmt.Errorf("reading %s from the release: %w", f.Path, err)
	}
	defer r.Close()
	if err := b.ensureHelpers(ctx); err != nil {
		return err
	}

	timeout := b.answerTimeout()
	talk := func(s *repl.Stream) error {
		if ready, err := s.ReadN(1, timeout); err != nil || string(ready) != "r" {
			return fmt.Errorf("%w: the receiver did not start (%q, %v)", errBinaryAborted, ready, err)
		}
		if err := b.streamBlocks(s, r, &progress, timeout); err != nil {
			unstick(s)
			return err
		}
		return s.Write([]byte{0, 0})
	}
	out, err := b.conn.ExecStream(ctx, verified(fmt.Sprintf("_rx(%s)", pyStr(boardPath(nextDir, f.Path)))), timeout, talk)
	if err != nil {
		return fmt.Errorf("sending /next/%s: %w", f.Path, err)
	}
	got := strings.TrimSpace(string(out))
	if !strings.HasPrefix(got, ".") {
		return fmt.Errorf("%w: unexpected end of /next/%s: %q", errBinaryAborted, f.Path, got)
	}
	return checkDigest(f, got[1:])
}

// answerTimeout bounds the wait for the receiver's answer to a block: the
// line time of the blocks in flight, plus the board's own time to write
// them, with a wide margin.
func (b *Board) answerTimeout() time.Duration {
	return 2 * time.Second
}

// streamBlocks sends the file's blocks and checks the board's answers.
func (b *Board) streamBlocks(s *repl.Stream, r io.Reader, progress *Progress, timeout time.Duration) error {
	var pending []string
	buf := make([]byte, 2+blockSize)
	check := func() error {
		ack, err := s.ReadN(4, timeout)
		if err != nil {
			return fmt.Errorf("%w: no response to a block: %v", errBinaryAborted, err)
		}
		if string(ack) != pending[0] {
			return fmt.Errorf("%w: block digest %q, expected %q", errBinaryAborted, ack, pending[0])
		}
		pending = pending[1:]
		return nil
	}
	for {
		n, err := io.ReadFull(r, buf[2:])
		if n > 0 {
			for len(pending) >= blocksInFlight {
				if err := check(); err != nil {
					return err
				}
			}
			binary.LittleEndian.PutUint16(buf, uint16(n))
			sum := sha256.Sum256(buf[2 : 2+n])
			pending = append(pending, hex.EncodeToString(sum[:2]))
			if err := s.Write(buf[:2+n]); err != nil {
				return err
			}
			progress.Done += int64(n)
			b.report(*progress)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return fmt.Errorf("reading the release: %w", err)
		}
	}
	for len(pending) > 0 {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

// unstick ends a receiver that lost count of the bytes: zero bytes complete
// whatever block it reads (at most 256 bytes and a header) and then read as
// the end marker, so it restores Ctrl-C and returns.
func unstick(s *repl.Stream) {
	_ = s.Write(make([]byte, 2+256+2))
}

// sendBatch streams several files to the _rxm receiver in one command, which
// saves a command's round trips per file. It returns the indexes of the
// files it did not verify, to be sent one by one. After a failure it
// switches the session to base64, as putFile does.
func (b *Board) sendBatch(ctx context.Context, tree *release.Tree, indexes []int, progress *Progress) ([]int, error) {
	if !b.binary || len(indexes) < 2 {
		return indexes, nil
	}
	if err := b.ensureHelpers(ctx); err != nil {
		return nil, err
	}
	pending := indexes
	timeout := b.answerTimeout()
	talk := func(s *repl.Stream) error {
		if ready, err := s.ReadN(1, timeout); err != nil || string(ready) != "r" {
			return fmt.Errorf("%w: the receiver did not start (%q, %v)", errBinaryAborted, ready, err)
		}
		for len(pending) > 0 {
			f := tree.Files[pending[0]]
			name := []byte(f.Path)
			if len(name) > 256 {
				break // left for putFile
			}
			progress.File, progress.Index = f.Path, pending[0]+1
			if err := b.streamFile(ctx, s, f, name, progress, timeout); err != nil {
				unstick(s)
				return err
			}
			pending = pending[1:]
			progress.FileDone = true
			b.report(*progress)
			progress.FileDone = false
		}
		return s.Write([]byte{0, 0})
	}
	_, err := b.conn.ExecStream(ctx, verified("_rxm('/next')"), timeout, talk)
	if err != nil {
		if fatal(err) {
			return nil, err
		}
		b.logf("stage: binary transfer failed after %d of %d files, using base64 from now on: %v",
			len(indexes)-len(pending), len(indexes), err)
		b.binaryFailed = true
		b.binary = false
	}
	return pending, nil
}

// streamFile sends one file of a batch: its path, its blocks and the end
// mark, then checks the digest the board answers.
func (b *Board) streamFile(ctx context.Context, s *repl.Stream, f release.File, name []byte, progress *Progress, timeout time.Duration) error {
	r, err := f.Open()
	if err != nil {
		return fmt.Errorf("reading %s from the release: %w", f.Path, err)
	}
	defer r.Close()
	header := binary.LittleEndian.AppendUint16(nil, uint16(len(name)))
	if err := s.Write(append(header, name...)); err != nil {
		return err
	}
	if err := b.streamBlocks(s, r, progress, timeout); err != nil {
		return err
	}
	if err := s.Write([]byte{0, 0}); err != nil {
		return err
	}
	answer, err := s.ReadN(65, timeout)
	if err != nil {
		return fmt.Errorf("%w: no digest for /next/%s: %v", errBinaryAborted, f.Path, err)
	}
	if answer[0] != '.' {
		return fmt.Errorf("%w: unexpected response for /next/%s: %q", errBinaryAborted, f.Path, answer)
	}
	return checkDigest(f, string(answer[1:]))
}
