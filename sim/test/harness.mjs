// Test harness: runs board.mjs as a child process and speaks the frame protocol.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { FRAME_CONTROL, FRAME_EVENT, FRAME_UART, FrameDecoder, encodeFrame } from '../lib/frames.mjs';

const BOARD = fileURLToPath(new URL('../board.mjs', import.meta.url));
const DEFAULT_TIMEOUT_MS = 5000;

export function makeFlashDir(files = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'simboard-test-'));
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), content);
  }
  return dir;
}

export class TestBoard {
  // Starts board.mjs with the given flags; flash defaults to a new empty folder.
  constructor({ flash = makeFlashDir(), args = [] } = {}) {
    this.flash = flash;
    this.output = Buffer.alloc(0); // all UART TX bytes since start
    this.consumed = 0; // bytes already matched by expectOutput
    this.events = [];
    this.stderr = '';
    this.waiters = new Set();
    this.process = spawn(process.execPath, [BOARD, '--flash', flash, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const decoder = new FrameDecoder((type, payload) => this.onFrame(type, payload));
    this.process.stdout.on('data', (chunk) => decoder.push(chunk));
    this.process.stderr.on('data', (chunk) => {
      this.stderr += chunk.toString();
    });
    this.exited = new Promise((resolve) => this.process.on('exit', resolve));
  }

  onFrame(type, payload) {
    if (type === FRAME_UART) {
      this.output = Buffer.concat([this.output, payload]);
    } else if (type === FRAME_EVENT) {
      this.events.push(JSON.parse(payload.toString('utf8')));
    }
    for (const waiter of this.waiters) {
      waiter();
    }
  }

  send(bytes) {
    this.process.stdin.write(encodeFrame(FRAME_UART, Buffer.from(bytes, 'latin1')));
  }

  control(message) {
    this.process.stdin.write(encodeFrame(FRAME_CONTROL, JSON.stringify(message)));
  }

  // Resolves when check() returns a truthy value, which is returned.
  waitUntil(check, description, timeoutMs = DEFAULT_TIMEOUT_MS) {
    return new Promise((resolve, reject) => {
      const attempt = () => {
        const result = check();
        if (result) {
          clearTimeout(timer);
          this.waiters.delete(attempt);
          resolve(result);
        }
      };
      const timer = setTimeout(() => {
        this.waiters.delete(attempt);
        const seen = JSON.stringify(this.output.subarray(this.consumed).toString('latin1'));
        reject(new Error(`timed out waiting for ${description}; unread output ${seen}; stderr ${this.stderr}`));
      }, timeoutMs);
      this.waiters.add(attempt);
      attempt();
    });
  }

  // Waits until the unread output contains text and returns the unread output
  // up to and including it.
  async readUntil(text, timeoutMs) {
    const needle = Buffer.from(text, 'latin1');
    const end = await this.waitUntil(
      () => {
        const index = this.output.indexOf(needle, this.consumed);
        return index >= 0 ? index + needle.length : 0;
      },
      JSON.stringify(text),
      timeoutMs,
    );
    const read = this.output.subarray(this.consumed, end).toString('latin1');
    this.consumed = end;
    return read;
  }

  // Waits for the first event (after index `from`) with the given fields.
  waitForEvent(fields, { from = 0, timeoutMs } = {}) {
    const matches = (event) => Object.entries(fields).every(([key, value]) => event[key] === value);
    return this.waitUntil(
      () => this.events.slice(from).find(matches),
      `event ${JSON.stringify(fields)}; events so far ${JSON.stringify(this.events)}`,
      timeoutMs,
    );
  }

  async enterRawRepl() {
    await this.readUntil('>>> ');
    this.send('\x01');
    await this.readUntil('raw REPL; CTRL-B to exit\r\n>');
  }

  // Runs a raw REPL command and returns everything after "OK" up to the prompt.
  async rawCommand(source, timeoutMs) {
    this.send(`${source}\x04`);
    const reply = await this.readUntil('\x04>', timeoutMs);
    return reply;
  }

  async close() {
    this.process.stdin.end();
    await this.exited;
  }
}
