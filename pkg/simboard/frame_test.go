package simboard

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestFrameRoundTrip(t *testing.T) {
	tests := []struct {
		name    string
		kind    byte
		payload []byte
	}{
		{name: "uart bytes", kind: frameUART, payload: []byte("\x01print(1)\x04")},
		{name: "empty payload", kind: frameUART, payload: []byte{}},
		{name: "event", kind: frameEvent, payload: []byte(`{"ev":"boot","boots":1}`)},
		{name: "control", kind: frameControl, payload: []byte(`{"op":"stats"}`)},
		{name: "all byte values", kind: frameUART, payload: allBytes()},
	}
	var stream []byte
	for _, tt := range tests {
		stream = appendFrame(stream, tt.kind, tt.payload)
	}
	r := bytes.NewReader(stream)
	for _, tt := range tests {
		f, err := readFrame(r)
		if err != nil {
			t.Fatalf("%s: readFrame: %v", tt.name, err)
		}
		if f.kind != tt.kind {
			t.Errorf("%s: kind = %q, want %q", tt.name, f.kind, tt.kind)
		}
		if !bytes.Equal(f.payload, tt.payload) {
			t.Errorf("%s: payload = %q, want %q", tt.name, f.payload, tt.payload)
		}
	}
	if _, err := readFrame(r); err != io.EOF {
		t.Errorf("readFrame at end = %v, want io.EOF", err)
	}
}

func TestFrameHeaderIsLittleEndian(t *testing.T) {
	got := appendFrame(nil, frameUART, make([]byte, 0x0102))
	if want := []byte{'U', 0x02, 0x01, 0, 0}; !bytes.Equal(got[:5], want) {
		t.Errorf("header = % x, want % x", got[:5], want)
	}
}

func TestReadFrameRejectsBrokenStreams(t *testing.T) {
	tests := []struct {
		name    string
		stream  []byte
		wantErr string
		wantIs  error
	}{
		{name: "cut header", stream: []byte{'U', 3, 0}, wantIs: io.ErrUnexpectedEOF},
		{name: "cut payload", stream: []byte{'E', 4, 0, 0, 0, '{', '}'}, wantIs: io.ErrUnexpectedEOF},
		{name: "unknown type", stream: []byte{'X', 0, 0, 0, 0}, wantErr: "invalid frame type 0x58"},
		{name: "oversized", stream: []byte{'U', 0, 0, 0, 0x10}, wantErr: "exceeds the limit"},
	}
	for _, tt := range tests {
		_, err := readFrame(bytes.NewReader(tt.stream))
		if err == nil {
			t.Errorf("%s: readFrame succeeded, want an error", tt.name)
			continue
		}
		if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
			t.Errorf("%s: error = %v, want %v", tt.name, err, tt.wantIs)
		}
		if tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: error = %v, want it to contain %q", tt.name, err, tt.wantErr)
		}
	}
}

func allBytes() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}
