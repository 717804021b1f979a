package repl

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"time"
)

const (
	// rawChunk is how many bytes the paced raw REPL writes at once, and
	// rawAhead how far it may run ahead of the line. Together they keep at
	// most 96 bytes queued, which leaves 160 bytes of the ESP8266's 256-byte
	// receive buffer (ports/esp8266/esp_mphal.c stdin_ringbuf), about 14 ms
	// at 115200 baud, for moments when the board is busy.
	rawChunk = 64
	rawAhead = 32
	// smallCommand is the largest command sent unpaced in the plain raw
	// REPL: with its Ctrl-D it fits the 256-byte receive buffer even if the
	// board reads none of it until it is all there.
	smallCommand = 250
	// aheadBytes is how much of the next command ExecAhead writes while the
	// board runs the current one: it waits in the receive buffer, with room
	// to spare.
	aheadBytes = 192
)

// checkSource rejects control characters that the raw REPL would act on
// instead of compiling: Ctrl-A to Ctrl-E end, reset or cancel a command.
func checkSource(code []byte) error {
	for i, b := range code {
		if b < 0x20 && b != '\n' && b != '\r' && b != '\t' {
			return fmt.Errorf("command has control byte 0x%02x at offset %d; the raw REPL would act on it", b, i)
		}
	}
	return nil
}

// sendPaste sends code in raw-paste mode and reports whether the board took
// it that way. On firmware without raw-paste it returns false with the raw
// REPL ready for a plain command.
func (c *Conn) sendPaste(ctx context.Context, code []byte) (bool, error) {
	if err := checkSource(code); err != nil {
		return false, err
	}
	if err := c.write([]byte{ctrlE, 'A', ctrlA}); err != nil {
		return false, err
	}
	resp, err := c.rd.readN(ctx, c.opts.Timeout, 2)
	if err != nil {
		return false, fmt.Errorf("waiting for the raw-paste response: %w", err)
	}
	switch {
	case bytes.Equal(resp, []byte("R\x01")):
	case bytes.Equal(resp, []byte("R\x00")):
		// The board supports raw-paste but has it disabled.
		c.pasteOK = new(bool)
		return false, nil
	default:
		// v1.13 and older put Ctrl-E and "A" in the line and take Ctrl-A as
		// a request to enter the raw REPL again: they print the banner.
		rest, err := c.rd.readUntil(ctx, c.opts.Timeout, rawBanner[len(rawBanner)-4:])
		if err != nil || !bytes.HasSuffix(append(resp, rest...), rawBanner) {
			return false, &ProtocolError{Step: "to a raw-paste request", Got: append(resp, rest...)}
		}
		c.pasteOK = new(bool)
		return false, nil
	}
	ok := true
	c.pasteOK = &ok
	hdr, err := c.rd.readN(ctx, c.opts.Timeout, 2)
	if err != nil {
		return false, fmt.Errorf("reading the raw-paste window: %w", err)
	}
	c.window = int(binary.LittleEndian.Uint16(hdr))
	if c.window == 0 {
		return false, &ProtocolError{Step: "as the raw-paste window", Got: hdr}
	}
	if err := c.pasteBody(ctx, code); err != nil {
		return true, err
	}
	return true, nil
}

// pasteBody writes code within the windows the board grants: the board sends
// the window size once and then one Ctrl-A for each further window it can
// take (MicroPython shared/runtime/stdin reader, mp_reader_stdin_readbyte).
func (c *Conn) pasteBody(ctx context.Context, code []byte) error {
	remain := c.window
	for i := 0; i < len(code); {
		for remain == 0 || c.rd.pending() > 0 {
			b, err := c.rd.readN(ctx, c.opts.Timeout, 1)
			if err != nil {
				return fmt.Errorf("waiting for a raw-paste window: %w", err)
			}
			switch b[0] {
			case ctrlA:
				remain += c.window
			case ctrlD:
				// The board ended the paste early; acknowledge as mpremote does.
				_ = c.write([]byte{ctrlD})
				return &ProtocolError{Step: "during raw-paste (the board ended it early)", Got: b}
			default:
				return &ProtocolError{Step: "during raw-paste", Got: b}
			}
		}
		n := min(remain, len(code)-i)
		if err := c.write(code[i : i+n]); err != nil {
			return err
		}
		remain -= n
		i += n
	}
	if err := c.write([]byte{ctrlD}); err != nil {
		return err
	}
	// Window grants may still arrive before the board acknowledges the end.
	ack, err := c.rd.readUntil(ctx, c.opts.Timeout, []byte{ctrlD})
	if err != nil {
		return fmt.Errorf("waiting for the end of raw-paste: %w", err)
	}
	if len(bytes.Trim(ack[:len(ack)-1], "\x01")) != 0 {
		return &ProtocolError{Step: "at the end of raw-paste", Got: ack}
	}
	return nil
}

// sendRaw writes code in the plain raw REPL, paced to the line rate so that
// the board's 256-byte receive buffer never holds more than a chunk, since
// firmware without raw-paste has no flow control. Bytes pipelined after the
// previous command are not written again; bytes to pipeline are written
// after the OK.
func (c *Conn) sendRaw(ctx context.Context, code []byte) error {
	if err := checkSource(code); err != nil {
		return err
	}
	code = code[len(c.pipelined):]
	c.pipelined = nil
	if err := c.writePaced(ctx, append(append([]byte(nil), code...), ctrlD)); err != nil {
		return err
	}
	if err := c.readOK(ctx); err != nil {
		return err
	}
	if c.ahead != nil {
		ahead := c.ahead
		c.ahead = nil
		if err := checkSource(ahead); err != nil {
			return err
		}
		if err := c.write(ahead); err != nil {
			return err
		}
		c.pipelined = ahead
	}
	return nil
}

// writePaced writes p at no more than the line rate: whole when the receive
// buffer holds it, else in chunks that keep at most rawChunk+rawAhead bytes
// ahead of the line.
func (c *Conn) writePaced(ctx context.Context, p []byte) error {
	if len(p) <= smallCommand+1 {
		return c.write(p)
	}
	byteTime := time.Duration(10 * float64(time.Second) / float64(c.opts.Baud))
	start := time.Now()
	for i := 0; i < len(p); i += rawChunk {
		j := min(i+rawChunk, len(p))
		if err := c.write(p[i:j]); err != nil {
			return err
		}
		due := start.Add(time.Duration(j-rawAhead) * byteTime)
		if wait := time.Until(due); wait > 0 {
			if err := sleepCtx(ctx, wait); err != nil {
				return err
			}
		}
	}
	return nil
}

// readOK waits for the "OK" with which the raw REPL accepts a command.
func (c *Conn) readOK(ctx context.Context) error {
	resp, err := c.rd.readN(ctx, c.opts.Timeout, 2)
	if err != nil {
		return fmt.Errorf("waiting for OK: %w", err)
	}
	if !bytes.Equal(resp, []byte("OK")) {
		return &ProtocolError{Step: "instead of OK", Got: resp}
	}
	return nil
}
