// Layout of the SharedArrayBuffer that board.mjs (main thread, UART receive side)
// and vm-worker.mjs (the board's CPU) share. Slots are Int32 indices.

export const SLOT = {
  RX_HEAD: 0, // bytes written into the RX ring by the main thread (monotonic counter)
  RX_TAIL: 1, // bytes read from the RX ring by the worker (monotonic counter)
  SIGNAL: 2, // incremented and notified on each new RX byte or interrupt
  INTERRUPT_CHAR: 3, // mp_hal_get_interrupt_char() as last published by the worker, -1 if none
  INTERRUPT_PENDING: 4, // 1 when an interrupt character arrived and was not yet delivered
  CUT_EVENT: 5, // index + 1 into CUT_EVENTS of the armed power-cut event, 0 when disarmed
  CUT_COUNT: 6, // events of that kind still to happen before the cut
  SLEEP: 7, // never notified: Atomics.wait on it is a plain sleep
  HALT: 8, // never notified: a worker that cut its own power waits here until terminated
  BOARD_STATE: 9, // BOARD_BUSY or BOARD_READING, stored by the worker and by board.mjs at boot
};
export const SLOT_COUNT = 16;

// Values of SLOT.BOARD_STATE. BOARD_BUSY is 0, so a new buffer starts busy, as a booting board is.
// The board is reading while it waits for REPL input or is inside a sys.stdin read, and busy
// otherwise (running Python code, the modelled command cost or flash write time, booting).
export const BOARD_BUSY = 0;
export const BOARD_READING = 1;

// Bytes the RX ring keeps while the board is reading (or --rx-buffer, if larger). A real board
// consumes bytes as they arrive then, so only a worker thread that the host has not scheduled
// lets a backlog build. Beyond this cap bytes are dropped and counted as an overrun.
export const READING_BACKLOG_MAX = 64 * 1024;

// Events after which the board can cut its own power (the "cut_at" control message).
export const CUT_EVENTS = ['open_write', 'write', 'close', 'rename', 'remove', 'mkdir', 'rmdir', 'command'];

export function cutEventCode(name) {
  return CUT_EVENTS.indexOf(name) + 1;
}
