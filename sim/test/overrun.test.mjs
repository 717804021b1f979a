import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';

import { READING_BACKLOG_MAX } from '../lib/shared-state.mjs';
import { TestBoard } from './harness.mjs';

// Makes the worker sleep 100 ms each time input wakes it, as a loaded host
// that deschedules the thread would.
const STALLED = ['--test-read-stall-ms', '100'];

// Requests the board's counters and returns them.
async function readStats(board) {
  const from = board.events.length;
  board.control({ op: 'stats' });
  return board.waitForEvent({ ev: 'stats' }, { from });
}

// Returns a raw REPL command of exactly `length` bytes that prints the
// length of its string literal, and that length.
function commandOfLength(length) {
  const head = 's = "';
  const tail = '"\nprint(len(s))';
  const literal = length - head.length - tail.length;
  return { source: head + 'a'.repeat(literal) + tail, literal };
}

// Sends text in chunks of chunkBytes, gapMs apart.
async function sendPaced(board, text, chunkBytes, gapMs) {
  for (let i = 0; i < text.length; i += chunkBytes) {
    board.send(text.slice(i, i + chunkBytes));
    if (gapMs > 0) {
      await delay(gapMs);
    }
  }
}

// 64 bytes every 5 ms is close to 115200 baud (11.5 bytes per ms).
const SENDS = [
  { name: 'one write', chunkBytes: 4096, gapMs: 0 },
  { name: 'paced at line rate', chunkBytes: 64, gapMs: 5 },
];

for (const { name, chunkBytes, gapMs } of SENDS) {
  test(`stalled reading board keeps 4 KB raw command (${name})`, async () => {
    const board = new TestBoard({ args: STALLED });
    try {
      await board.enterRawRepl();
      const { source, literal } = commandOfLength(4096);
      await sendPaced(board, source, chunkBytes, gapMs);
      board.send('\x04');
      assert.equal(await board.readUntil('\x04>', 10000), `OK${literal}\r\n\x04\x04>`);
      const command = await board.waitForEvent({ ev: 'command' });
      assert.equal(command.bytes, 4096);
      const stats = await readStats(board);
      assert.equal(stats.rx_dropped, 0);
      assert.equal(stats.overrun_events, 0);
    } finally {
      await board.close();
    }
  });
}

test('stalled board keeps 4 KB read from sys.stdin', async () => {
  const board = new TestBoard({ args: STALLED });
  try {
    await board.enterRawRepl();
    board.send('import sys\nd = sys.stdin.buffer.read(4096)\nprint(len(d), d.count(b"x"))\x04');
    await board.readUntil('OK');
    await sendPaced(board, 'x'.repeat(4096), 512, 2);
    assert.equal(await board.readUntil('\x04>', 10000), '4096 4096\r\n\x04\x04>');
    const stats = await readStats(board);
    assert.equal(stats.rx_dropped, 0);
  } finally {
    await board.close();
  }
});

// Bytes that arrived while the board read stay in the ring when a command
// starts, and bytes that arrive while it runs find the ring full.
test('busy board keeps backlog and drops new bytes', async () => {
  const board = new TestBoard({ args: STALLED });
  try {
    await board.enterRawRepl();
    board.send(`import time\ntime.sleep(0.5)\x04${'#'.repeat(1000)}`);
    await board.readUntil('OK');
    board.send('#'.repeat(100));
    const overrun = await board.waitForEvent({ ev: 'overrun' });
    assert.equal(overrun.dropped, 100);
    assert.equal(await board.readUntil('\x04>', 3000), '\x04\x04>');

    // The board is busy for --command-cost-ms after the prompt, and a byte
    // that arrives then still finds the ring full.
    await delay(200);
    board.send('\x04');
    assert.equal(await board.readUntil('\x04>'), 'OK\x04\x04>');
    const comment = await board.waitForEvent({ ev: 'command', bytes: 1000 });
    assert.equal(comment.error, '');
    const stats = await readStats(board);
    assert.equal(stats.rx_dropped, 100);
  } finally {
    await board.close();
  }
});

test('reading board drops bytes beyond the backlog cap', async () => {
  const board = new TestBoard();
  try {
    await board.enterRawRepl();
    const flood = READING_BACKLOG_MAX + 4000;
    board.send('#'.repeat(flood));
    const overrun = await board.waitForEvent({ ev: 'overrun' });
    assert.equal(overrun.dropped, flood - READING_BACKLOG_MAX);
    // Gives the worker time to take bytes out of the full ring, so Ctrl-D finds room.
    await delay(300);
    board.send('\x04');
    assert.equal(
      await board.readUntil('\x04>'),
      `OK\x04MemoryError: memory allocation failed, allocating ${READING_BACKLOG_MAX} bytes\r\n\x04>`,
    );
  } finally {
    await board.close();
  }
});
