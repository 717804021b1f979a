// Frame codec for the protocol between the Go side (pkg/simboard) and board.mjs.
// Each frame is 1 byte type, a 4-byte little-endian payload length, then the payload.

export const FRAME_UART = 0x55; // 'U': UART bytes (Go->Node: RX pin, Node->Go: TX pin)
export const FRAME_CONTROL = 0x43; // 'C': JSON control message from Go
export const FRAME_EVENT = 0x45; // 'E': JSON event from the board
export const HEADER_SIZE = 5;

// Encodes one frame. payload is a Uint8Array or a string (encoded as UTF-8).
export function encodeFrame(type, payload) {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : Buffer.from(payload);
  const frame = Buffer.allocUnsafe(HEADER_SIZE + body.length);
  frame[0] = type;
  frame.writeUInt32LE(body.length, 1);
  body.copy(frame, HEADER_SIZE);
  return frame;
}

// Splits a byte stream into frames. push() takes chunks as they arrive and
// calls onFrame(type, payload) for each complete frame.
export class FrameDecoder {
  constructor(onFrame) {
    this.onFrame = onFrame;
    this.pending = Buffer.alloc(0);
  }

  push(chunk) {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    while (this.pending.length >= HEADER_SIZE) {
      const length = this.pending.readUInt32LE(1);
      if (this.pending.length < HEADER_SIZE + length) {
        return;
      }
      const type = this.pending[0];
      const payload = this.pending.subarray(HEADER_SIZE, HEADER_SIZE + length);
      this.pending = this.pending.subarray(HEADER_SIZE + length);
      this.onFrame(type, payload);
    }
  }
}
