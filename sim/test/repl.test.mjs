import assert from 'node:assert/strict';
import { test } from 'node:test';

import { TestBoard, makeFlashDir } from './harness.mjs';

const BANNER_127 = 'MicroPython v1.27.0 on 2025-12-10; ESP module with ESP8266\r\nType "help()" for more information.\r\n>>> ';
const BANNER_113 = 'MicroPython v1.13 on 2020-09-02; ESP module with ESP8266\r\nType "help()" for more information.\r\n>>> ';

test('banner after boot names the ESP8266 board', async () => {
  const board = new TestBoard();
  try {
    assert.equal(await board.readUntil('>>> '), `\r\n${BANNER_127}`);
    const boot = await board.waitForEvent({ ev: 'boot' });
    assert.equal(boot.boots, 1);
    assert.equal(boot.firmware, '1.27');
  } finally {
    await board.close();
  }
});

test('banner and version in the 1.13 profile', async () => {
  const board = new TestBoard({ args: ['--firmware', '1.13'] });
  try {
    assert.equal(await board.readUntil('>>> '), `\r\n${BANNER_113}`);
    board.send('\x01');
    await board.readUntil('>');
    assert.equal(await board.rawCommand('import sys\nprint(sys.implementation.version[:3])'), 'OK(1, 13, 0)\r\n\x04\x04>');
  } finally {
    await board.close();
  }
});

test('boot.py and main.py run before the banner', async () => {
  const flash = makeFlashDir({
    'boot.py': 'print("boot ran")\n',
    'main.py': 'x = 42\nprint("main ran")\n',
  });
  const board = new TestBoard({ flash });
  try {
    assert.equal(await board.readUntil('>>> '), `boot ran\r\nmain ran\r\n\r\n${BANNER_127}`);
    board.send('\x01');
    await board.readUntil('>');
    // main.py runs in __main__'s globals, as pyexec_file does.
    assert.equal(await board.rawCommand('print(x)'), 'OK42\r\n\x04\x04>');
  } finally {
    await board.close();
  }
});

test('raw REPL round trip', async () => {
  const board = new TestBoard();
  try {
    await board.enterRawRepl();
    assert.equal(await board.rawCommand('print(1+1)'), 'OK2\r\n\x04\x04>');
    const command = await board.waitForEvent({ ev: 'command' });
    assert.equal(command.kind, 'raw');
    assert.equal(command.bytes, 'print(1+1)'.length);
    assert.equal(command.error, '');
    assert.ok(command.mem_alloc > 0);
    assert.ok(command.mem_free <= 30720);
  } finally {
    await board.close();
  }
});

test('raw REPL traceback on error', async () => {
  const board = new TestBoard();
  try {
    await board.enterRawRepl();
    assert.equal(
      await board.rawCommand('1/0'),
      'OK\x04Traceback (most recent call last):\r\n  File "<stdin>", line 1, in <module>\r\n' +
        'ZeroDivisionError: divide by zero\r\n\x04>',
    );
    assert.equal(
      await board.rawCommand('open("missing")'),
      'OK\x04Traceback (most recent call last):\r\n  File "<stdin>", line 1, in <module>\r\n' +
        'OSError: [Errno 2] ENOENT\r\n\x04>',
    );
  } finally {
    await board.close();
  }
});

test('soft reset from raw REPL skips main.py', async () => {
  const flash = makeFlashDir({ 'boot.py': 'print("boot")\n', 'main.py': 'print("main")\n' });
  const board = new TestBoard({ flash });
  try {
    await board.enterRawRepl();
    board.send('\x04');
    assert.equal(await board.readUntil('raw REPL; CTRL-B to exit\r\n>'), 'OK\r\nMPY: soft reboot\r\nboot\r\nraw REPL; CTRL-B to exit\r\n>');
    const boot = await board.waitForEvent({ ev: 'boot', boots: 2 });
    assert.equal(boot.kind, 'soft');
    // The soft reset created a fresh VM.
    assert.match(await board.rawCommand('print("x" in globals())'), /^OKFalse\r\n/);
  } finally {
    await board.close();
  }
});

test('soft reset from friendly REPL runs main.py', async () => {
  const flash = makeFlashDir({ 'boot.py': 'print("boot")\n', 'main.py': 'print("main")\n' });
  const board = new TestBoard({ flash });
  try {
    await board.readUntil('>>> ');
    board.send('\x04');
    assert.equal(await board.readUntil('>>> '), `\r\nMPY: soft reboot\r\nboot\r\nmain\r\n${BANNER_127}`);
  } finally {
    await board.close();
  }
});

test('raw-paste window and flow control for 1 KB', async () => {
  const board = new TestBoard();
  try {
    await board.enterRawRepl();
    board.send('\x05A\x01');
    assert.equal(await board.readUntil('\x01'), 'R\x01');
    assert.equal(await board.readUntil('\x01'), '\x80\x00\x01');
    const line = 's = "' + 'a'.repeat(90) + '"\n';
    let source = '';
    while (source.length <= 1000) {
      source += line;
    }
    source += 'print(len(s))\n';
    const length = Buffer.byteLength(source);
    assert.ok(length > 1000);

    // Send only what the board granted: two windows at first, then one
    // more window per "\x01".
    let sent = 0;
    let granted = 2 * 128;
    let grants = 0;
    while (sent < length) {
      const chunk = source.slice(sent, Math.min(length, granted));
      board.send(chunk);
      sent += chunk.length;
      if (sent < length) {
        assert.equal(await board.readUntil('\x01'), '\x01');
        grants++;
        granted += 128;
      }
    }
    board.send('\x04');
    const reply = await board.readUntil('>');
    assert.match(reply, /^\x01*\x0490\r\n\x04\x04>$/);
    grants += (reply.match(/\x01/g) || []).length;
    // mp_reader_stdin_readbyte grants a window per 128 bytes consumed.
    assert.equal(grants, Math.floor(length / 128));
    const command = await board.waitForEvent({ ev: 'command', kind: 'paste' });
    assert.equal(command.bytes, length);
  } finally {
    await board.close();
  }
});

test('raw-paste interrupted with Ctrl-C', async () => {
  const board = new TestBoard();
  try {
    await board.enterRawRepl();
    board.send('\x05A\x01');
    await board.readUntil('\x80\x00\x01');
    board.send('print(1)\x03');
    assert.equal(await board.readUntil('>'), '\x04\x04KeyboardInterrupt: \r\n\x04>');
  } finally {
    await board.close();
  }
});

test('raw-paste unknown command answers R\\x00', async () => {
  const board = new TestBoard();
  try {
    await board.enterRawRepl();
    board.send('\x05B\x01');
    assert.equal(await board.readUntil('>'), 'R\x00>');
  } finally {
    await board.close();
  }
});

test('v1.13 answers raw-paste with the raw REPL banner', async () => {
  const board = new TestBoard({ args: ['--firmware', '1.13'] });
  try {
    await board.enterRawRepl();
    board.send('\x05A\x01');
    assert.equal(await board.readUntil('>'), 'raw REPL; CTRL-B to exit\r\n>');
    assert.equal(await board.rawCommand('print(2)'), 'OK2\r\n\x04\x04>');
  } finally {
    await board.close();
  }
});

test('MemoryError beyond --max-command', async () => {
  const board = new TestBoard({ args: ['--max-command', '100'] });
  try {
    await board.enterRawRepl();
    const fits = `x = "${'a'.repeat(80)}"`;
    assert.equal(await board.rawCommand(fits), 'OK\x04\x04>');
    const tooLarge = `x = "${'a'.repeat(200)}"`;
    assert.equal(
      await board.rawCommand(tooLarge),
      `OK\x04MemoryError: memory allocation failed, allocating ${tooLarge.length} bytes\r\n\x04>`,
    );
    const command = await board.waitForEvent({ ev: 'command', bytes: tooLarge.length });
    assert.equal(command.error, 'MemoryError');
    // The board still works afterwards.
    assert.equal(await board.rawCommand('print(len(x))'), 'OK80\r\n\x04\x04>');
  } finally {
    await board.close();
  }
});

for (const firmware of ['1.27', '1.13']) {
  test(`sys.platform is esp8266 (firmware ${firmware})`, async () => {
    const board = new TestBoard({ args: ['--firmware', firmware] });
    try {
      await board.enterRawRepl();
      // The patch leaves no names behind in __main__.
      const leftovers = "print([k for k in globals() if k == 'sys' or k.startswith('_simboard')])";
      assert.equal(await board.rawCommand(leftovers), 'OK[]\r\n\x04\x04>');
      assert.equal(await board.rawCommand('import sys\nprint(sys.platform)'), 'OKesp8266\r\n\x04\x04>');
      assert.equal(await board.rawCommand("print(sys.platform == 'esp8266', len(sys.platform))"), 'OKTrue 7\r\n\x04\x04>');
      assert.doesNotMatch(board.stderr, /not patched/);
    } finally {
      await board.close();
    }
  });
}
