#!/usr/bin/env node
// A simulated ESP8266 running MicroPython, driven through frames on stdin and
// stdout (see lib/frames.mjs). This main thread owns the UART receive ring,
// power and the worker that runs the VM (vm-worker.mjs).

import v8 from 'node:v8';
import { Worker } from 'node:worker_threads';

import { FRAME_CONTROL, FRAME_EVENT, FRAME_UART, FrameDecoder, encodeFrame } from './lib/frames.mjs';
import { parseOptions, usage } from './lib/options.mjs';
import {
  BOARD_BUSY,
  BOARD_READING,
  CUT_EVENTS,
  READING_BACKLOG_MAX,
  SLOT,
  SLOT_COUNT,
  cutEventCode,
} from './lib/shared-state.mjs';

// Overrun events are coalesced to at most one per this many milliseconds.
const OVERRUN_REPORT_MS = 10;

class Board {
  constructor(options) {
    this.options = options;
    this.ctrlBuffer = new SharedArrayBuffer(SLOT_COUNT * 4);
    this.ctrl = new Int32Array(this.ctrlBuffer);
    // The ring's storage is sized for the backlog allowed while the board
    // reads, and receiveLimit applies --rx-buffer while it is busy.
    this.ringBuffer = new SharedArrayBuffer(Math.max(options.rxBuffer, READING_BACKLOG_MAX));
    this.ring = new Uint8Array(this.ringBuffer);
    this.worker = null;
    this.powered = false;
    this.pendingDropped = 0;
    this.overrunTimer = null;
    this.stats = {
      boots: 0,
      power_cycles: 0,
      rx_bytes: 0,
      rx_dropped: 0,
      rx_while_off: 0,
      interrupts: 0,
      tx_bytes: 0,
      commands: 0,
      overrun_events: 0,
    };
    Atomics.store(this.ctrl, SLOT.INTERRUPT_CHAR, -1);
  }

  sendFrame(type, payload) {
    process.stdout.write(encodeFrame(type, payload));
  }

  sendEvent(event) {
    this.sendFrame(FRAME_EVENT, JSON.stringify(event));
  }

  // Starts a worker that boots the board from the flash folder.
  startWorker(bootKind, startRaw) {
    this.stats.boots++;
    this.powered = true;
    Atomics.store(this.ctrl, SLOT.BOARD_STATE, BOARD_BUSY);
    const worker = new Worker(new URL('./vm-worker.mjs', import.meta.url), {
      workerData: {
        options: this.options,
        ctrlBuffer: this.ctrlBuffer,
        ringBuffer: this.ringBuffer,
        bootKind,
        startRaw,
        boots: this.stats.boots,
      },
    });
    worker.on('message', (message) => this.onWorkerMessage(worker, message));
    worker.on('error', (err) => {
      if (worker === this.worker) {
        this.fatal(`board worker failed: ${err && err.stack ? err.stack : err}`);
      }
    });
    this.worker = worker;
  }

  // Terminates the current worker; messages it still sends are ignored.
  stopWorker() {
    const worker = this.worker;
    this.worker = null;
    Atomics.store(this.ctrl, SLOT.INTERRUPT_CHAR, -1);
    Atomics.store(this.ctrl, SLOT.INTERRUPT_PENDING, 0);
    if (worker) {
      worker.terminate();
    }
  }

  onWorkerMessage(worker, message) {
    if (worker !== this.worker) {
      return;
    }
    switch (message.type) {
      case 'tx':
        this.stats.tx_bytes += message.data.length;
        this.sendFrame(FRAME_UART, message.data);
        break;
      case 'event':
        if (message.event.ev === 'command') {
          this.stats.commands++;
        }
        this.sendEvent(message.event);
        break;
      case 'soft_reset':
        this.stopWorker();
        this.startWorker('soft', message.raw);
        break;
      case 'cut':
        this.powerOff('cut_at');
        break;
      case 'fatal':
        this.fatal(message.message);
        break;
      default:
        this.fatal(`unknown message from the board worker: ${JSON.stringify(message.type)}`);
    }
  }

  powerOff(reason) {
    if (!this.powered) {
      return;
    }
    this.stopWorker();
    this.powered = false;
    this.stats.power_cycles++;
    Atomics.store(this.ctrl, SLOT.RX_TAIL, Atomics.load(this.ctrl, SLOT.RX_HEAD));
    this.sendEvent({ ev: 'power', on: false, reason });
  }

  powerOn() {
    if (this.powered) {
      return;
    }
    this.startWorker('power', false);
  }

  // Applies the ESP8266 UART receive rule (ports/esp8266/uart.c
  // uart0_rx_intr_handler). The interrupt character schedules
  // KeyboardInterrupt and is not buffered. Any other byte goes into the RX
  // ring (ringbuf_put on stdin_ringbuf), which drops it when full.
  receive(bytes) {
    if (!this.powered) {
      this.stats.rx_while_off += bytes.length;
      return;
    }
    let dropped = 0;
    for (const byte of bytes) {
      this.stats.rx_bytes++;
      if (byte === Atomics.load(this.ctrl, SLOT.INTERRUPT_CHAR)) {
        this.stats.interrupts++;
        Atomics.store(this.ctrl, SLOT.INTERRUPT_PENDING, 1);
        continue;
      }
      if (!this.store(byte)) {
        dropped++;
      }
    }
    Atomics.add(this.ctrl, SLOT.SIGNAL, 1);
    Atomics.notify(this.ctrl, SLOT.SIGNAL);
    if (dropped > 0) {
      this.reportOverrun(dropped);
    }
  }

  // Appends byte to the RX ring and returns false when the ring is full.
  store(byte) {
    const head = Atomics.load(this.ctrl, SLOT.RX_HEAD);
    if (((head - Atomics.load(this.ctrl, SLOT.RX_TAIL)) | 0) >= this.receiveLimit()) {
      return false;
    }
    this.ring[head % this.ring.length] = byte;
    Atomics.store(this.ctrl, SLOT.RX_HEAD, (head + 1) | 0);
    return true;
  }

  // Returns how many bytes may wait in the RX ring. A board waiting in
  // mp_hal_stdin_rx_chr (ports/esp8266/esp_mphal.c) takes each byte out of
  // stdin_ringbuf within microseconds, far less than the 87 us a byte takes
  // at 115200 baud, so its 256-byte ring never fills while the board reads.
  // The worker thread that models the board can still be descheduled by the
  // host for tens of milliseconds, so while the worker reads, the ring keeps
  // every byte up to its full storage. While the board is busy the
  // --rx-buffer limit applies, also to a backlog that built while it read:
  // those bytes stay, and new ones are dropped until the backlog is smaller.
  // A ring of --rx-buffer bytes stores one byte less, because ringbuf_put in
  // MicroPython's py/ringbuf.h keeps one slot empty to tell a full ring from
  // an empty one.
  receiveLimit() {
    if (Atomics.load(this.ctrl, SLOT.BOARD_STATE) === BOARD_READING) {
      return this.ring.length;
    }
    return this.options.rxBuffer - 1;
  }

  reportOverrun(dropped) {
    this.stats.rx_dropped += dropped;
    this.pendingDropped += dropped;
    if (this.overrunTimer) {
      return;
    }
    this.overrunTimer = setTimeout(() => {
      this.overrunTimer = null;
      this.stats.overrun_events++;
      this.sendEvent({ ev: 'overrun', dropped: this.pendingDropped });
      this.pendingDropped = 0;
    }, OVERRUN_REPORT_MS);
  }

  control(message) {
    switch (message.op) {
      case 'power':
        if (message.on) {
          this.powerOn();
        } else {
          this.powerOff('host');
        }
        return;
      case 'cut_at':
        this.armCut(message.event, message.count);
        return;
      case 'stats':
        this.sendEvent({ ev: 'stats', ...this.stats, powered: this.powered });
        return;
      default:
        this.fatal(`invalid control message: unknown op ${JSON.stringify(message.op)}`);
    }
  }

  armCut(event, count) {
    if (!event) {
      Atomics.store(this.ctrl, SLOT.CUT_EVENT, 0);
      return;
    }
    const code = cutEventCode(event);
    if (code === 0 || !Number.isInteger(count) || count < 1) {
      this.fatal(
        `invalid cut_at: event ${JSON.stringify(event)} count ${JSON.stringify(count)}; ` +
          `use one of ${CUT_EVENTS.join(', ')} with a count of at least 1`,
      );
      return;
    }
    Atomics.store(this.ctrl, SLOT.CUT_EVENT, 0);
    Atomics.store(this.ctrl, SLOT.CUT_COUNT, count);
    Atomics.store(this.ctrl, SLOT.CUT_EVENT, code);
  }

  onFrame(type, payload) {
    if (type === FRAME_UART) {
      this.receive(payload);
      return;
    }
    if (type === FRAME_CONTROL) {
      let message;
      try {
        message = JSON.parse(payload.toString('utf8'));
      } catch (err) {
        this.fatal(`invalid control frame: ${err.message}`);
        return;
      }
      this.control(message);
      return;
    }
    this.fatal(`invalid frame type 0x${type.toString(16)}; expected 'U' (0x55) or 'C' (0x43)`);
  }

  fatal(message) {
    console.error(`simboard: fatal: ${message}`);
    this.sendEvent({ ev: 'fatal', message });
    this.stopWorker();
    process.exitCode = 1;
    process.stdout.end(() => process.exit(1));
  }
}

function main() {
  // NOTE: with Node.js v20.20.2, closing stdin right after a 4000-byte raw
  // REPL command sometimes left the worker thread blocked in a futex, so
  // process.exit waited for it forever (16 hangs in 90 runs). Keeping the
  // VM's wasm code in V8's baseline compiler (Liftoff) removed the hangs
  // (0 in 95 runs) at about 40 ms more boot time. The cause is a guess: a
  // background tier-up compile job that worker termination waits for.
  v8.setFlagsFromString('--no-wasm-tier-up');
  let options;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (err) {
    console.error(`simboard: ${err.message}`);
    console.error(usage());
    process.exit(2);
  }
  if (options.help) {
    process.stdout.write(usage());
    return;
  }
  const board = new Board(options);
  const decoder = new FrameDecoder((type, payload) => board.onFrame(type, payload));
  process.stdin.on('data', (chunk) => decoder.push(chunk));
  process.stdin.on('end', () => {
    board.stopWorker();
    process.exit(0);
  });
  console.error(`simboard: starting firmware ${options.firmware} with flash ${options.flash}`);
  board.startWorker('power', false);
}

main();
