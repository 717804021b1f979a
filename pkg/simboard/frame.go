package simboard

import (
	"encoding/binary"
	"fmt"
	"io"
)

// Frame types of the protocol between this package and sim/board.mjs.
const (
	frameUART    byte = 'U' // bytes on the board's UART pins, in either direction
	frameControl byte = 'C' // Go to Node: a JSON control message with field "op"
	frameEvent   byte = 'E' // Node to Go: a JSON event with field "ev"
)

// frameHeaderLen is the type byte plus the 4-byte little-endian payload length.
const frameHeaderLen = 5

// maxFramePayload bounds a frame read from Node. The board sends at most a few
// KB per frame, so a larger length means the stream is out of step.
const maxFramePayload = 16 << 20

// frame is one message of the protocol.
type frame struct {
	kind    byte
	payload []byte
}

// appendFrame appends the encoded frame to dst and returns the extended slice.
func appendFrame(dst []byte, kind byte, payload []byte) []byte {
	var header [frameHeaderLen]byte
	header[0] = kind
	binary.LittleEndian.PutUint32(header[1:], uint32(len(payload)))
	dst = append(dst, header[:]...)
	return append(dst, payload...)
}

// readFrame reads one frame from r. It returns io.EOF only when r ends
// cleanly between frames.
func readFrame(r io.Reader) (frame, error) {
	var header [frameHeaderLen]byte
	if _, err := io.ReadFull(r, header[:]); err != nil {
		if err == io.ErrUnexpectedEOF {
			return frame{}, fmt.Errorf("reading frame header: %w", err)
		}
		return frame{}, err
	}

	kind := header[0]
	if kind != frameUART && kind != frameEvent && kind != frameControl {
		return frame{}, fmt.Errorf("invalid frame type 0x%02x: the stream from the board is out of step", kind)
	}
	size := binary.LittleEndian.Uint32(header[1:])
	if size > maxFramePayload {
		return frame{}, fmt.Errorf("frame payload of %d bytes exceeds the limit of %d bytes", size, maxFramePayload)
	}

	payload := make([]byte, size)
	if _, err := io.ReadFull(r, payload); err != nil {
		return frame{}, fmt.Errorf("reading %d-byte frame payload of type %q: %w", size, kind, unexpected(err))
	}
	return frame{kind: kind, payload: payload}, nil
}

// unexpected turns io.EOF inside a frame into io.ErrUnexpectedEOF.
func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
