// Command-line flags of board.mjs. Each default states where its value comes from.

import { parseArgs } from 'node:util';

const FLAGS = [
  {
    name: 'flash',
    key: 'flash',
    type: 'string',
    help: 'host folder that is the board\'s "/" (created if missing); required',
  },
  {
    name: 'firmware',
    key: 'firmware',
    type: 'string',
    default: '1.27',
    help:
      'firmware profile: 1.27 (the VM\'s own MicroPython v1.27.0, with raw-paste) or 1.13 ' +
      '(v1.13 banner and sys.implementation.version, and a raw REPL without raw-paste)',
  },
  {
    name: 'rx-buffer',
    key: 'rxBuffer',
    type: 'int',
    default: 256,
    min: 1,
    help:
      'UART RX ring buffer in bytes, which holds one byte less (ringbuf_put in py/ringbuf.h ' +
      'keeps one slot empty); bytes that find it full while the board is busy are ' +
      'dropped. While the board waits for input the ring keeps up to 65536 bytes (or N, if ' +
      'larger), because a real board then reads faster than 115200 baud delivers (default ' +
      '256: while UART0 is the REPL, uart0_rx_intr_handler in ports/esp8266/uart.c puts ' +
      'received bytes into stdin_ringbuf, 256 bytes in ports/esp8266/esp_mphal.c)',
  },
  {
    name: 'command-cost-ms',
    key: 'commandCostMs',
    type: 'int',
    default: 3,
    min: 0,
    help:
      'milliseconds the board spends after each executed REPL command before it reads input ' +
      'again (default 3: an estimate for compiling and running a small command at 80 MHz)',
  },
  {
    name: 'flash-write-rate',
    key: 'flashWriteRate',
    type: 'int',
    default: 60000,
    min: 0,
    help:
      'bytes per second that file writes reach the flash; the board is busy meanwhile, 0 is ' +
      'instant (default 60000: an estimate for SPI flash programming plus littlefs overhead)',
  },
  {
    name: 'flash-size',
    key: 'flashSize',
    type: 'int',
    default: 1048576,
    min: 4096,
    help:
      'file system capacity in bytes, in 4096-byte blocks; statvfs and ENOSPC follow it ' +
      '(default 1048576: an estimate of the file system left on a 2 MB ESP8266 module)',
  },
  {
    name: 'max-command',
    key: 'maxCommand',
    type: 'int',
    default: 8192,
    min: 1,
    help:
      'largest raw REPL command in bytes the board can hold and compile; a larger one ' +
      'fails with MemoryError (default 8192: an estimate from ~30 KB free heap, the source ' +
      'held in a vstr plus 2-3x its size for parse tree and bytecode)',
  },
  {
    name: 'heap',
    key: 'heap',
    type: 'int',
    default: 30720,
    min: 0,
    help:
      'modelled free heap in bytes after boot, reported as mem_free in command events ' +
      '(default 30720: typical gc.mem_free() on an ESP8266 after boot)',
  },
  {
    name: 'seed',
    key: 'seed',
    type: 'int',
    default: 1,
    min: 0,
    help: 'seed for random choices of the board; the current model makes none (default 1)',
  },
  {
    name: 'test-read-stall-ms',
    key: 'testReadStallMs',
    type: 'int',
    default: 0,
    min: 0,
    help:
      'test hook: the worker thread sleeps N ms each time input wakes it while the board waits ' +
      'for REPL or sys.stdin input, as on a loaded host; the board still counts as reading ' +
      'meanwhile (default 0: off)',
  },
  {
    name: 'fs-events',
    key: 'fsEvents',
    type: 'boolean',
    default: true,
    help: 'send an "fs" event for each flash operation (default true; --no-fs-events turns it off)',
  },
];

export function usage() {
  const lines = ['Usage: node sim/board.mjs --flash DIR [flags]', '', 'Flags:'];
  for (const flag of FLAGS) {
    const value = flag.type === 'boolean' ? '' : ` ${flag.type === 'int' ? 'N' : 'VALUE'}`;
    lines.push(`  --${flag.name}${value}`);
    lines.push(`      ${flag.help}`);
  }
  lines.push('  --help', '      print this help');
  return `${lines.join('\n')}\n`;
}

// Parses argv into an options object with camelCase keys. Throws on invalid values.
export function parseOptions(argv) {
  const config = { help: { type: 'boolean' }, 'no-fs-events': { type: 'boolean' } };
  for (const flag of FLAGS) {
    config[flag.name] = { type: flag.type === 'boolean' ? 'boolean' : 'string' };
  }
  const { values } = parseArgs({ args: argv, options: config, strict: true });
  const options = { help: Boolean(values.help) };
  for (const flag of FLAGS) {
    options[flag.key] = parseFlag(flag, values[flag.name]);
  }
  if (values['no-fs-events']) {
    options.fsEvents = false;
  }
  if (options.help) {
    return options;
  }
  if (!options.flash) {
    throw new Error('missing --flash DIR: give the host folder that holds the board\'s files');
  }
  if (options.firmware !== '1.27' && options.firmware !== '1.13') {
    throw new Error(`invalid --firmware ${JSON.stringify(options.firmware)}: use 1.27 or 1.13`);
  }
  return options;
}

function parseFlag(flag, raw) {
  if (raw === undefined) {
    return flag.default;
  }
  if (flag.type !== 'int') {
    return raw;
  }
  const value = Number(raw);
  if (!Number.isInteger(value) || value < flag.min) {
    throw new Error(`invalid --${flag.name} ${JSON.stringify(raw)}: use an integer of at least ${flag.min}`);
  }
  return value;
}
