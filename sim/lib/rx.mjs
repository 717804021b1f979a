// The worker's side of the UART receive ring and of interrupt delivery.
// board.mjs fills the ring (see lib/shared-state.mjs); the worker drains it.

import { BOARD_BUSY, BOARD_READING, SLOT } from './shared-state.mjs';

export class Receiver {
  constructor(ctrlBuffer, ringBuffer) {
    this.ctrl = new Int32Array(ctrlBuffer);
    this.ring = new Uint8Array(ringBuffer);
    // board.mjs stores BOARD_BUSY before it starts the worker.
    this.boardState = BOARD_BUSY;
  }

  // Publishes that the board waits for REPL input or reads sys.stdin, so
  // board.mjs keeps every arriving byte (see receiveLimit in board.mjs).
  markReading() {
    this.publishState(BOARD_READING);
  }

  // Publishes that the board runs code and does not consume input, so
  // board.mjs drops bytes that find --rx-buffer bytes waiting.
  markBusy() {
    this.publishState(BOARD_BUSY);
  }

  publishState(state) {
    if (this.boardState !== state) {
      this.boardState = state;
      Atomics.store(this.ctrl, SLOT.BOARD_STATE, state);
    }
  }

  available() {
    return (Atomics.load(this.ctrl, SLOT.RX_HEAD) - Atomics.load(this.ctrl, SLOT.RX_TAIL)) | 0;
  }

  // Returns the next received byte, or -1 when the ring is empty.
  pop() {
    const tail = Atomics.load(this.ctrl, SLOT.RX_TAIL);
    if (((Atomics.load(this.ctrl, SLOT.RX_HEAD) - tail) | 0) <= 0) {
      return -1;
    }
    const byte = this.ring[tail % this.ring.length];
    Atomics.store(this.ctrl, SLOT.RX_TAIL, (tail + 1) | 0);
    return byte;
  }

  signal() {
    return Atomics.load(this.ctrl, SLOT.SIGNAL);
  }

  // Blocks until the main thread signals a new byte or interrupt after the
  // value `seen` was read, or until timeoutMs passes.
  waitForSignal(seen, timeoutMs = Infinity) {
    Atomics.wait(this.ctrl, SLOT.SIGNAL, seen, timeoutMs);
  }

  publishInterruptChar(value) {
    Atomics.store(this.ctrl, SLOT.INTERRUPT_CHAR, value);
  }

  // Returns true once per interrupt character that the main thread received.
  takeInterrupt() {
    return Atomics.exchange(this.ctrl, SLOT.INTERRUPT_PENDING, 0) === 1;
  }

  // Spends ms of modelled board time (command cost, flash writes), during
  // which the board is busy. Output written before it leaves first: the
  // ESP8266's UART sends from its FIFO while the CPU works on
  // (ports/esp8266/uart.c uart_tx_one_char returns once a byte is queued).
  sleep(ms) {
    this.markBusy();
    this.beforeSleep?.();
    this.stall(ms);
  }

  // Blocks the worker thread for ms without changing the board's state.
  stall(ms) {
    if (ms > 0) {
      Atomics.wait(this.ctrl, SLOT.SLEEP, 0, ms);
    }
  }

  halt() {
    for (;;) {
      Atomics.wait(this.ctrl, SLOT.HALT, 0);
    }
  }

  // Counts one event of kind `code` against an armed power cut and returns
  // true when this event is the one after which power is cut.
  countCutEvent(code) {
    if (Atomics.load(this.ctrl, SLOT.CUT_EVENT) !== code) {
      return false;
    }
    if (Atomics.sub(this.ctrl, SLOT.CUT_COUNT, 1) !== 1) {
      return false;
    }
    Atomics.store(this.ctrl, SLOT.CUT_EVENT, 0);
    return true;
  }
}
