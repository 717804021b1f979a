// The board's UART transmit side inside the worker: output filters and batching
// towards the main thread, which sends each batch to Go as a 'U' frame.

const FLUSH_INTERVAL_MS = 1;
const FLUSH_BYTES = 1024;

// Batches bytes and posts them as {type: 'tx', data} messages. Bytes are held
// at most FLUSH_INTERVAL_MS while the VM runs; callers flush before blocking.
export class Transmitter {
  constructor(port) {
    this.port = port;
    this.chunks = [];
    this.length = 0;
    this.firstPendingAt = 0;
    this.total = 0;
  }

  write(bytes) {
    if (bytes.length === 0) {
      return;
    }
    if (this.length === 0) {
      this.firstPendingAt = performance.now();
    }
    this.chunks.push(Uint8Array.from(bytes));
    this.length += bytes.length;
    this.maybeFlush();
  }

  maybeFlush() {
    if (this.length === 0) {
      return;
    }
    if (this.length >= FLUSH_BYTES || performance.now() - this.firstPendingAt >= FLUSH_INTERVAL_MS) {
      this.flush();
    }
  }

  flush() {
    if (this.length === 0) {
      return;
    }
    const data = new Uint8Array(this.length);
    let offset = 0;
    for (const chunk of this.chunks) {
      data.set(chunk, offset);
      offset += chunk.length;
    }
    this.chunks = [];
    this.length = 0;
    this.total += data.length;
    this.port.postMessage({ type: 'tx', data }, [data.buffer]);
  }
}

// Converts each "\n" that is not already preceded by "\r" in the same write
// into "\r\n". On the ESP8266 port, sys.stdout writes go through
// mp_hal_stdout_tx_strn_cooked (shared/runtime/sys_stdio_mphal.c), while the
// webassembly port writes print() output to fd 1 unchanged. The REPL's own
// "\r\n" strings and the cooked "\r\n" writes of mp_plat_print pass unchanged.
export function cookNewlines(chunk) {
  let extra = 0;
  for (let i = 0; i < chunk.length; i++) {
    if (chunk[i] === 0x0a && (i === 0 || chunk[i - 1] !== 0x0d)) {
      extra++;
    }
  }
  if (extra === 0) {
    return chunk;
  }
  const cooked = new Uint8Array(chunk.length + extra);
  let j = 0;
  for (let i = 0; i < chunk.length; i++) {
    if (chunk[i] === 0x0a && (i === 0 || chunk[i - 1] !== 0x0d)) {
      cooked[j++] = 0x0d;
    }
    cooked[j++] = chunk[i];
  }
  return cooked;
}

// Replaces one byte string with another in a byte stream, holding back at most
// a partial match. The target's first byte must not occur again inside it.
export class StreamRewriter {
  constructor(target, replacement, sink) {
    this.target = Buffer.from(target, 'latin1');
    this.replacement = Buffer.from(replacement, 'latin1');
    this.sink = sink;
    this.matched = 0;
  }

  write(bytes) {
    let start = 0;
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i];
      if (b === this.target[this.matched]) {
        if (this.matched === 0) {
          this.sink(bytes.subarray(start, i));
        }
        this.matched++;
        start = i + 1;
        if (this.matched === this.target.length) {
          this.sink(this.replacement);
          this.matched = 0;
        }
        continue;
      }
      if (this.matched > 0) {
        this.sink(this.target.subarray(0, this.matched));
        this.matched = 0;
        start = i;
        if (b === this.target[0]) {
          i--;
        }
      }
    }
    if (this.matched === 0) {
      this.sink(bytes.subarray(start));
    }
  }

  // Releases a held partial match, for use before the board waits for input.
  flushPartial() {
    if (this.matched > 0) {
      this.sink(this.target.subarray(0, this.matched));
      this.matched = 0;
    }
  }
}
