// The board's REPL. The VM's event-driven friendly and raw REPL
// (shared/runtime/pyexec.c, MicroPython v1.27.0) gets one received byte at a
// time. This module adds raw-paste (the VM's own reader cannot wait for
// input), the v1.13 raw REPL, the command size limit, command events and the
// per-command cost.

const CTRL_A = 0x01;
const CTRL_B = 0x02;
const CTRL_C = 0x03;
const CTRL_D = 0x04;
const CTRL_E = 0x05;
const LETTER_A = 0x41;

const RAW_REPL_BANNER = 'raw REPL; CTRL-B to exit\r\n';
// Raw-paste flow-control window: MICROPY_REPL_STDIN_BUFFER_MAX (256, the
// default in pyexec.c) / 2, as mp_reader_new_stdin computes it.
const PASTE_WINDOW = 128;
// NOTE: raw-paste streams the source into the compiler instead of holding it
// in a vstr, so the board fits a larger source; 1.5 x --max-command is an
// estimate (the parse tree and bytecode without the source copy).
const PASTE_LIMIT_FACTOR = 1.5;
const OUTPUT_TAIL_CHARS = 256;

export class Repl {
  constructor({ mp, vm, rx, tx, flash, options, hooks }) {
    this.mp = mp;
    this.vm = vm;
    this.rx = rx;
    this.tx = tx;
    this.flash = flash;
    this.options = options;
    this.hooks = hooks;
    this.mode = 'friendly';
    this.friendlyBytes = 0;
    this.resetRawLine();
  }

  resetRawLine() {
    this.rawLength = 0;
    this.rawHead = [0, 0];
  }

  // Records gc.mem_alloc() after boot; the modelled free heap is --heap minus
  // what Python code allocated since then.
  measureBaseline() {
    this.gcMemAlloc = this.mp.pyimport('gc').mem_alloc;
    this.baselineAlloc = this.gcMemAlloc();
  }

  // Prints the REPL's first prompt. A soft reset from the raw REPL returns to
  // the raw REPL because ports/esp8266/main.c keeps pyexec_mode_kind. The
  // friendly banner follows "\r\n" only after a power-on (init_done in main.c).
  start({ raw, soft }) {
    if (raw) {
      this.vm.discardOutput = true;
      this.mp.replInit();
      this.mp.replProcessChar(CTRL_A);
      this.vm.discardOutput = false;
      this.tx.write(Buffer.from(`${RAW_REPL_BANNER}>`, 'latin1'));
      this.mode = 'raw';
      return;
    }
    if (soft) {
      this.vm.dropPrefix = 2;
    }
    this.mp.replInit();
    this.mode = 'friendly';
  }

  run() {
    for (;;) {
      const byte = this.hooks.readReplByte();
      if (this.mode === 'raw') {
        this.handleRawByte(byte);
      } else {
        this.handleFriendlyByte(byte);
      }
    }
  }

  // Feeds one byte to the VM's REPL. A function that uses nlr_push calls
  // through the invoke_* imports, and in the REPL only parse_compile_execute
  // does, so invoke_* calls during the byte mean a command was executed.
  feed(byte) {
    this.vm.invokeCalls = 0;
    const result = this.mp.replProcessChar(byte);
    return { result, executed: this.vm.invokeCalls > 0 };
  }

  // Feeds one byte and returns the output it produced (last 256 chars).
  feedCapturing(byte) {
    let output = '';
    this.vm.outputTap = (bytes) => {
      output = (output + Buffer.from(bytes).toString('latin1')).slice(-OUTPUT_TAIL_CHARS);
    };
    try {
      return { ...this.feed(byte), output };
    } finally {
      this.vm.outputTap = null;
    }
  }

  handleFriendlyByte(byte) {
    this.friendlyBytes++;
    const step = this.feedCapturing(byte);
    if (step.executed) {
      this.finishCommand('friendly', this.friendlyBytes - 1, errorName(step.output));
      this.friendlyBytes = 0;
    }
    if (byte === CTRL_A && step.output.includes(RAW_REPL_BANNER)) {
      this.mode = 'raw';
      this.resetRawLine();
    }
    if (step.result !== 0) {
      this.hooks.softReset(this.mode === 'raw');
    }
  }

  handleRawByte(byte) {
    switch (byte) {
      case CTRL_A:
        this.rawCtrlA();
        return;
      case CTRL_B:
        this.feed(byte);
        this.mode = 'friendly';
        this.friendlyBytes = 0;
        this.resetRawLine();
        return;
      case CTRL_C:
        this.feed(byte);
        this.resetRawLine();
        return;
      case CTRL_D:
        this.rawCtrlD();
        return;
      default:
        if (this.rawLength < 2) {
          this.rawHead[this.rawLength] = byte;
        }
        this.rawLength++;
        // Bytes beyond the limit are not stored: the command fails anyway.
        if (this.rawLength <= this.options.maxCommand) {
          this.feed(byte);
        }
    }
  }

  // Ctrl-A resets the raw REPL, unless the line is Ctrl-E plus one byte,
  // which is a raw-paste request in v1.27 (pyexec_raw_repl_process_char).
  // MicroPython v1.13's raw REPL has no raw-paste: Ctrl-A after "\x05A" only
  // resets the raw REPL and prints its banner again.
  rawCtrlA() {
    const pasteRequest = this.rawLength === 2 && this.rawHead[0] === CTRL_E;
    const command = this.rawHead[1];
    this.resetRawLine();
    if (!pasteRequest) {
      this.feed(CTRL_A);
      return;
    }
    // Ctrl-C clears the VM's line silently, so its broken reader never runs.
    this.feed(CTRL_C);
    if (this.options.firmware === '1.13') {
      this.feed(CTRL_A);
      return;
    }
    if (command !== LETTER_A) {
      // do_reader_stdin: unsupported command, then the raw REPL prompt.
      this.tx.write(Buffer.from('R\x00>', 'latin1'));
      return;
    }
    this.rawPaste();
  }

  rawCtrlD() {
    const length = this.rawLength;
    this.resetRawLine();
    if (length === 0) {
      // Soft reset: the VM prints "OK\r\n" and returns PYEXEC_FORCED_EXIT.
      const step = this.feed(CTRL_D);
      if (step.result !== 0) {
        this.hooks.softReset(true);
      }
      return;
    }
    if (length > this.options.maxCommand) {
      this.feed(CTRL_C);
      this.tx.write(Buffer.from(`OK\x04${memoryErrorText(length)}\x04>`, 'latin1'));
      this.finishCommand('raw', length, 'MemoryError');
      return;
    }
    this.runCommand('raw', length, () => this.feedCapturing(CTRL_D));
  }

  // Raw-paste as do_reader_stdin and mp_reader_stdin_readbyte
  // (shared/runtime/pyexec.c): "R\x01", the window size (2 bytes, little
  // endian) and "\x01", then one "\x01" each time another window of source
  // bytes was consumed; Ctrl-D ends the source and the board sends "\x04".
  rawPaste() {
    this.tx.write(Uint8Array.of(0x52, 0x01, PASTE_WINDOW & 0xff, PASTE_WINDOW >> 8, 0x01));
    const source = new GrowableBytes();
    let windowRemain = PASTE_WINDOW;
    for (;;) {
      const byte = this.hooks.readReplByte();
      if (byte === CTRL_C) {
        // The reader raises KeyboardInterrupt with no traceback.
        this.tx.write(Buffer.from('\x04\x04KeyboardInterrupt: \r\n\x04>', 'latin1'));
        return;
      }
      if (byte === CTRL_D) {
        this.tx.write(Uint8Array.of(CTRL_D));
        this.rx.markBusy();
        break;
      }
      source.push(byte);
      if (--windowRemain === 0) {
        this.tx.write(Uint8Array.of(0x01));
        windowRemain = PASTE_WINDOW;
      }
    }
    const length = source.length;
    if (length > Math.floor(this.options.maxCommand * PASTE_LIMIT_FACTOR)) {
      this.tx.write(Buffer.from(`\x04${memoryErrorText(length)}\x04>`, 'latin1'));
      this.finishCommand('paste', length, 'MemoryError');
      return;
    }
    for (const byte of escapeRawControl(source.bytes())) {
      this.feed(byte);
    }
    // The VM's raw REPL sends "OK" before running, but raw-paste does not.
    this.vm.dropPrefix = 2;
    this.runCommand('paste', length, () => this.feedCapturing(CTRL_D));
  }

  runCommand(kind, length, execute) {
    this.rx.markBusy();
    const step = execute();
    this.finishCommand(kind, length, errorName(step.output));
    if (step.result !== 0) {
      this.hooks.softReset(this.mode === 'raw');
    }
  }

  finishCommand(kind, length, error) {
    const memAlloc = this.gcMemAlloc();
    const used = Math.max(0, memAlloc - this.baselineAlloc);
    this.hooks.postEvent({
      ev: 'command',
      kind,
      bytes: length,
      mem_alloc: memAlloc,
      mem_free: Math.max(0, this.options.heap - used),
      error,
    });
    this.hooks.afterEvent('command');
    this.rx.sleep(this.options.commandCostMs);
  }
}

// The exception text pyexec prints for a MemoryError raised while compiling,
// which has no traceback (py/gc.c: m_malloc_fail). The size is modelled as
// the source length.
function memoryErrorText(length) {
  return `MemoryError: memory allocation failed, allocating ${length} bytes\r\n`;
}

// Returns "MemoryError" when the command's output ends with a MemoryError.
function errorName(output) {
  return /(^|\n|\x04)MemoryError\b[^\n]*\n[\x04>\s]*$/.test(output) ? 'MemoryError' : '';
}

// Bytes 0x01 and 0x02 in a raw-paste source would be raw REPL commands when
// fed to the VM's raw REPL; they are fed as the 4-character escapes "\x01"
// and "\x02", which is exact inside ordinary string literals.
function escapeRawControl(bytes) {
  if (!bytes.some((b) => b === CTRL_A || b === CTRL_B)) {
    return bytes;
  }
  const escaped = [];
  for (const b of bytes) {
    if (b === CTRL_A || b === CTRL_B) {
      escaped.push(...Buffer.from(`\\x0${b}`, 'latin1'));
    } else {
      escaped.push(b);
    }
  }
  return Uint8Array.from(escaped);
}

class GrowableBytes {
  constructor() {
    this.buffer = new Uint8Array(1024);
    this.length = 0;
  }

  push(byte) {
    if (this.length === this.buffer.length) {
      const larger = new Uint8Array(this.buffer.length * 2);
      larger.set(this.buffer);
      this.buffer = larger;
    }
    this.buffer[this.length++] = byte;
  }

  bytes() {
    return this.buffer.subarray(0, this.length);
  }
}
