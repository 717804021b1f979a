import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';

import { TestBoard, makeFlashDir } from './harness.mjs';

const LOOPS = {
  'sleep 0.1': 'import time\nwhile True:\n    time.sleep(0.1)\n',
  'sleep 0.01': 'import time\nwhile True:\n    time.sleep(0.01)\n',
  'function calls': 'def f(n):\n    return n + 1\nn = 0\nwhile True:\n    n = f(n)\n',
};

for (const [name, source] of Object.entries(LOOPS)) {
  test(`Ctrl-C interrupts looping main.py (${name})`, async () => {
    const board = new TestBoard({ flash: makeFlashDir({ 'main.py': source }) });
    try {
      await board.waitForEvent({ ev: 'boot' });
      await delay(300);
      board.send('\x03');
      const output = await board.readUntil('>>> ');
      assert.match(output, /^Traceback \(most recent call last\):\r\n  File "main.py", line \d+, in /);
      assert.match(output, /\r\nKeyboardInterrupt: \r\n\r\nMicroPython v1\.27\.0/);
    } finally {
      await board.close();
    }
  });
}

test('kbd_intr(-1) passes 0x03 to stdin', async () => {
  const board = new TestBoard();
  try {
    await board.enterRawRepl();
    board.send('import micropython, sys\nmicropython.kbd_intr(-1)\nprint(sys.stdin.buffer.read(3))\x04');
    await board.readUntil('OK');
    await delay(100);
    board.send('a\x03b');
    assert.equal(await board.readUntil('\x04>'), "b'a\\x03b'\r\n\x04\x04>");
  } finally {
    await board.close();
  }
});

test('Ctrl-C ends a blocking stdin read', async () => {
  const board = new TestBoard();
  try {
    await board.enterRawRepl();
    board.send('import sys\nsys.stdin.buffer.read(1)\x04');
    await board.readUntil('OK');
    await delay(100);
    board.send('\x03');
    assert.match(await board.readUntil('\x04>'), /KeyboardInterrupt: \r\n\x04>$/);
  } finally {
    await board.close();
  }
});

test('overrun drops bytes sent to a busy board', async () => {
  const board = new TestBoard();
  try {
    await board.enterRawRepl();
    board.send('import time\ntime.sleep(1)\x04');
    await board.readUntil('OK');
    board.send('x'.repeat(1000));
    const overrun = await board.waitForEvent({ ev: 'overrun' });
    // The 256-byte RX ring keeps the first 256 bytes.
    assert.equal(overrun.dropped, 1000 - 256);
    await board.readUntil('\x04>', 3000);
  } finally {
    await board.close();
  }
});

// Returns the CPU time in seconds that a Linux process has used.
function cpuSeconds(pid) {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime in clock ticks (USER_HZ = 100)
}

test('idle board uses almost no CPU', { skip: process.platform !== 'linux' }, async () => {
  const board = new TestBoard();
  try {
    await board.readUntil('>>> ');
    await delay(200);
    const before = cpuSeconds(board.process.pid);
    await delay(3000);
    const used = cpuSeconds(board.process.pid) - before;
    assert.ok(used < 0.15, `idle board used ${used} s of CPU in 3 s`);
  } finally {
    await board.close();
  }
});

test('sleeping main.py does not spin a core', { skip: process.platform !== 'linux' }, async () => {
  const board = new TestBoard({ flash: makeFlashDir({ 'main.py': LOOPS['sleep 0.1'] }) });
  try {
    await board.waitForEvent({ ev: 'boot' });
    await delay(200);
    const before = cpuSeconds(board.process.pid);
    await delay(3000);
    const used = cpuSeconds(board.process.pid) - before;
    assert.ok(used < 0.9, `sleeping board used ${used} s of CPU in 3 s`);
  } finally {
    await board.close();
  }
});
