import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { TestBoard, makeFlashDir } from './harness.mjs';

test('files persist across power off and on', async () => {
  const board = new TestBoard();
  try {
    await board.enterRawRepl();
    const write = 'import os\nos.mkdir("lib")\nf = open("lib/app.py", "w")\nf.write("VERSION = 2\\n")\nf.close()';
    assert.equal(await board.rawCommand(write), 'OK\x04\x04>');
    assert.equal(fs.readFileSync(path.join(board.flash, 'lib/app.py'), 'utf8'), 'VERSION = 2\n');

    board.control({ op: 'power', on: false });
    const off = await board.waitForEvent({ ev: 'power', on: false });
    assert.equal(off.reason, 'host');
    board.control({ op: 'power', on: true });
    await board.waitForEvent({ ev: 'boot', boots: 2 });
    await board.enterRawRepl();
    assert.equal(await board.rawCommand('import os\nprint(os.listdir("/"), open("lib/app.py").read())'), "OK['lib'] VERSION = 2\r\n\r\n\x04\x04>");
  } finally {
    await board.close();
  }
});

test('rename and remove reach the flash at once', async () => {
  const board = new TestBoard({ flash: makeFlashDir({ 'a.txt': 'A', 'b.txt': 'B' }) });
  try {
    await board.enterRawRepl();
    assert.equal(await board.rawCommand('import os\nos.rename("a.txt", "c.txt")\nos.remove("b.txt")'), 'OK\x04\x04>');
    assert.deepEqual(fs.readdirSync(board.flash).sort(), ['c.txt']);
    assert.equal(fs.readFileSync(path.join(board.flash, 'c.txt'), 'utf8'), 'A');
  } finally {
    await board.close();
  }
});

test('absolute renames of files and folders reach the flash', async () => {
  const board = new TestBoard({ flash: makeFlashDir({ 'next/.version_on_reboot': '2.0', 'next/app.py': 'new', 'project/app.py': 'old' }) });
  try {
    await board.enterRawRepl();
    const swap = 'import os\nos.rename("/next/.version_on_reboot", "/next/.version")\nos.rename("/project", "/prev")\nos.rename("/next", "/project")\nprint(sorted(os.listdir("/")), sorted(os.listdir("/project")))';
    assert.equal(await board.rawCommand(swap), "OK['prev', 'project'] ['.version', 'app.py']\r\n\x04\x04>");
    assert.deepEqual(fs.readdirSync(board.flash).sort(), ['prev', 'project']);
    assert.equal(fs.readFileSync(path.join(board.flash, 'project/.version'), 'utf8'), '2.0');
    assert.equal(fs.readFileSync(path.join(board.flash, 'prev/app.py'), 'utf8'), 'old');
  } finally {
    await board.close();
  }
});

test('file open for writing at a cut keeps its old content', async () => {
  const board = new TestBoard({ flash: makeFlashDir({ 'app.py': 'old' }) });
  try {
    await board.enterRawRepl();
    board.control({ op: 'cut_at', event: 'write', count: 2 });
    board.send('f = open("app.py", "w")\nf.write("new ")\nf.write("content")\nf.close()\ng = open("new.py", "w")\x04');
    const cut = await board.waitForEvent({ ev: 'power', on: false });
    assert.equal(cut.reason, 'cut_at');
    assert.equal(fs.readFileSync(path.join(board.flash, 'app.py'), 'utf8'), 'old');

    board.control({ op: 'power', on: true });
    await board.waitForEvent({ ev: 'boot', boots: 2 });
    await board.enterRawRepl();
    assert.equal(await board.rawCommand('import os\nprint(os.listdir("/"), open("app.py").read())'), "OK['app.py'] old\r\n\x04\x04>");
  } finally {
    await board.close();
  }
});

test('new file open at a cut does not exist after it', async () => {
  const board = new TestBoard();
  try {
    await board.enterRawRepl();
    board.control({ op: 'cut_at', event: 'open_write', count: 1 });
    board.send('f = open("fresh.py", "w")\nf.write("x")\nf.close()\x04');
    await board.waitForEvent({ ev: 'power', on: false, reason: 'cut_at' });
    assert.deepEqual(fs.readdirSync(board.flash), []);
  } finally {
    await board.close();
  }
});

test('statvfs reports capacity and writes hit ENOSPC', async () => {
  // 16 blocks of 4096 bytes; the root directory uses one.
  const board = new TestBoard({ args: ['--flash-size', '65536', '--flash-write-rate', '0'] });
  try {
    await board.enterRawRepl();
    assert.equal(await board.rawCommand('import os\nprint(os.statvfs("/"))'), 'OK(4096, 4096, 16, 15, 15, 0, 0, 0, 0, 255)\r\n\x04\x04>');
    assert.equal(await board.rawCommand('f = open("a.bin", "wb")\nf.write(bytearray(5000))\nf.close()\nprint(os.statvfs("/")[3])'), 'OK13\r\n\x04\x04>');
    assert.equal(
      await board.rawCommand('f = open("b.bin", "wb")\nf.write(bytearray(60000))'),
      'OK\x04Traceback (most recent call last):\r\n  File "<stdin>", line 2, in <module>\r\nOSError: 28\r\n\x04>',
    );
  } finally {
    await board.close();
  }
});

test('power cut after the Nth command', async () => {
  const board = new TestBoard();
  try {
    await board.enterRawRepl();
    board.control({ op: 'cut_at', event: 'command', count: 2 });
    assert.equal(await board.rawCommand('print(1)'), 'OK1\r\n\x04\x04>');
    board.send('print(2)\x04');
    await board.waitForEvent({ ev: 'power', on: false, reason: 'cut_at' });
    board.control({ op: 'stats' });
    const stats = await board.waitForEvent({ ev: 'stats' });
    assert.equal(stats.commands, 2);
    assert.equal(stats.powered, false);
  } finally {
    await board.close();
  }
});

test('output leaves the board before its modelled flash time', async () => {
  // 30,000 bytes at the default 60,000 B/s keep the board busy for 500 ms
  // after it printed "start".
  const board = new TestBoard();
  try {
    await board.enterRawRepl();
    const started = Date.now();
    board.send("f = open('big.bin', 'wb')\nprint('start')\nf.write(b'x' * 30000)\nf.close()\x04");
    await board.readUntil('start', 5000);
    const firstOutput = Date.now() - started;
    await board.readUntil('\x04\x04>', 5000);
    const done = Date.now() - started;
    assert.ok(done >= 450, `the command took ${done} ms, want the modelled 500 ms of flash writes`);
    assert.ok(firstOutput < done - 300, `"start" arrived after ${firstOutput} ms of ${done} ms, want it before the flash time`);
  } finally {
    await board.close();
  }
});
