// The simulated board's CPU: a worker thread that runs the MicroPython
// webassembly VM, boots it from the flash folder and drives its event REPL
// (pyexec_event_repl_process_char in shared/runtime/pyexec.c) with the bytes
// that board.mjs puts into the UART receive ring. The worker blocks in
// Atomics.wait whenever the board waits for input, so an idle board uses no CPU.

import { parentPort, workerData } from 'node:worker_threads';

import { wrapErrnoImports } from './lib/errno.mjs';
import { FlashFs } from './lib/flash-fs.mjs';
import { Receiver } from './lib/rx.mjs';
import { cutEventCode } from './lib/shared-state.mjs';
import { Transmitter, cookNewlines, StreamRewriter } from './lib/tx.mjs';
import { runBootScript, patchPlatform, patchVersionTuple, mountFlash } from './lib/boot.mjs';
import { Repl } from './lib/repl.mjs';

const { options, ctrlBuffer, ringBuffer, bootKind, startRaw } = workerData;

// Calls of the invoke_* imports between two interrupt polls.
const INVOKE_POLL_INTERVAL = 64;
// Date.now calls in a row (with no other VM call between them) after which the
// VM is taken to be in the busy-wait loop of mp_hal_delay_ms
// (ports/webassembly/mphalport.c) and the hook sleeps up to 1 ms per call.
const BUSY_POLL_THRESHOLD = 8;
// EINTR in the WASI numbering that the VM's libc (Emscripten) compares errno with.
const WASI_EINTR = 27;
// Initial size of the VM's own GC heap. The webassembly port grows it on
// demand (MICROPY_GC_SPLIT_HEAP_AUTO); the ESP8266's RAM limit is modelled
// separately by --heap and --max-command.
const VM_HEAP_BYTES = 256 * 1024;

const rx = new Receiver(ctrlBuffer, ringBuffer);
const tx = new Transmitter(parentPort);
rx.beforeSleep = () => tx.flush();

// State shared with the hooks that the VM calls synchronously.
const vm = {
  module: null, // the Emscripten module, once loaded
  memory: null, // the wasm instance's WebAssembly.Memory
  invokeCalls: 0, // invoke_* calls since the REPL last reset the counter
  busyPolls: 0,
  discardOutput: false,
  dropPrefix: 0, // bytes of the next VM output to drop ("OK" of raw-paste commands)
  outputTap: null, // optional function that also receives each output chunk
  stdinInterrupted: false, // true when an interrupt ended the current stdin read
};

let bannerRewriter = null;

function postEvent(event) {
  tx.flush();
  parentPort.postMessage({ type: 'event', event });
}

// Receives every chunk the VM writes to fd 1 or fd 2.
function onVmOutput(chunk) {
  if (vm.discardOutput) {
    return;
  }
  let bytes = chunk;
  if (vm.dropPrefix > 0) {
    const dropped = Math.min(vm.dropPrefix, bytes.length);
    vm.dropPrefix -= dropped;
    bytes = bytes.subarray(dropped);
  }
  if (vm.outputTap) {
    vm.outputTap(bytes);
  }
  if (bannerRewriter) {
    bannerRewriter.write(bytes);
  } else {
    tx.write(bytes);
  }
}

// Publishes the interrupt character and delivers a pending interrupt. Called
// from the polling hooks while Python code runs.
function pollInterrupt() {
  const module = vm.module;
  if (!module) {
    return;
  }
  const interruptChar = module._mp_hal_get_interrupt_char();
  rx.publishInterruptChar(interruptChar);
  if (rx.takeInterrupt() && interruptChar !== -1) {
    module._mp_sched_keyboard_interrupt();
  }
  tx.maybeFlush();
}

// Makes output visible and blocks until input or an interrupt arrives.
function waitForInput(seen, timeoutMs) {
  if (bannerRewriter) {
    bannerRewriter.flushPartial();
  }
  tx.flush();
  rx.waitForSignal(seen, timeoutMs);
}

// Blocks until input or an interrupt arrives while the board reads. The
// --test-read-stall-ms hook then holds the worker back, as a host that
// deschedules the thread would, while the board still counts as reading.
function waitForReadInput(seen) {
  waitForInput(seen, Infinity);
  rx.stall(options.testReadStallMs);
}

// Date.now is what mp_hal_ticks_ms polls in the busy loop of time.sleep
// (mp_hal_delay_ms in ports/webassembly/mphalport.c). The hook schedules a
// received interrupt and, when polled repeatedly, sleeps up to 1 ms per call
// (waking early on input) so a sleeping board does not spin a core.
// time.ticks_ms stays exact because the hook returns the real clock.
// NOTE: that loop never handles pending exceptions, and the VM exports no
// function that raises one, so time.sleep(N) runs for all N seconds and
// KeyboardInterrupt follows at the next pending check. An ESP8266 raises it
// inside the sleep (ports/esp8266/esp_mphal.c: mp_hal_delay_us polls events).
const realDateNow = Date.now.bind(Date);
Date.now = () => {
  if (vm.module) {
    vm.busyPolls++;
    if (vm.busyPolls > BUSY_POLL_THRESHOLD) {
      waitForInput(rx.signal(), 1);
    }
    pollInterrupt();
  }
  return realDateNow();
};

// Wraps the invoke_* imports (Emscripten's setjmp/longjmp trampolines, called
// for most calls made by functions that use nlr_push) as a second polling point.
const realInstantiate = WebAssembly.instantiate;
WebAssembly.instantiate = async (binary, imports) => {
  for (const name of Object.keys(imports.env)) {
    if (!name.startsWith('invoke_')) {
      continue;
    }
    const original = imports.env[name];
    imports.env[name] = (...args) => {
      // Python code is running, because in the REPL only parse_compile_execute calls these.
      rx.markBusy();
      vm.busyPolls = 0;
      if (++vm.invokeCalls % INVOKE_POLL_INTERVAL === 0) {
        pollInterrupt();
      }
      return original(...args);
    };
  }
  wrapErrnoImports(imports.env);
  if (imports.wasi_snapshot_preview1 !== imports.env) {
    wrapErrnoImports(imports.wasi_snapshot_preview1);
  }
  // Wrapped after wrapErrnoImports, so that EINTR reaches the VM unmapped.
  const wasi = imports.wasi_snapshot_preview1?.fd_read ? imports.wasi_snapshot_preview1 : imports.env;
  wasi.fd_read = interruptibleRead(wasi.fd_read);
  const result = await realInstantiate(binary, imports);
  vm.memory = result.instance.exports.memory;
  return result;
};

// Wraps the WASI fd_read import so that a read that an interrupt ended fails
// with EINTR. VfsPosix reads stdin through MP_HAL_RETRY_SYSCALL
// (extmod/vfs_posix_file.c, ports/webassembly/mphalport.h), which calls
// mp_handle_pending(true) on EINTR, so the read itself raises the scheduled
// KeyboardInterrupt and the bytes it already received are lost. On an ESP8266
// mp_hal_stdin_rx_chr raises it the same way while it waits for a byte
// (ports/esp8266/esp_mphal.c: mp_hal_delay_us runs mp_handle_pending(true)).
function interruptibleRead(fdRead) {
  return (...args) => {
    vm.stdinInterrupted = false;
    const result = fdRead(...args);
    // Python code that called the read runs on.
    rx.markBusy();
    if (vm.stdinInterrupted) {
      vm.stdinInterrupted = false;
      return WASI_EINTR;
    }
    return result;
  };
}

// Returns one byte for sys.stdin reads, blocking until it arrives. An
// interrupt schedules KeyboardInterrupt and ends the read (null is end of
// input for the Emscripten device), and interruptibleRead turns it into EINTR.
function readStdinByte() {
  rx.markReading();
  for (;;) {
    const seen = rx.signal();
    const interruptChar = vm.module._mp_hal_get_interrupt_char();
    rx.publishInterruptChar(interruptChar);
    if (rx.takeInterrupt() && interruptChar !== -1) {
      vm.module._mp_sched_keyboard_interrupt();
      vm.stdinInterrupted = true;
      return null;
    }
    const byte = rx.pop();
    if (byte >= 0) {
      return byte;
    }
    waitForReadInput(seen);
  }
}

// Returns the next byte for the REPL, blocking while the ring is empty.
function readReplByte() {
  rx.markReading();
  for (;;) {
    const seen = rx.signal();
    rx.publishInterruptChar(vm.module._mp_hal_get_interrupt_char());
    // The REPL reads with interrupts disabled: a stale interrupt is dropped
    // as mp_handle_pending(..._CLEAR_EXCEPTIONS) in parse_compile_execute does.
    rx.takeInterrupt();
    const byte = rx.pop();
    if (byte >= 0) {
      return byte;
    }
    waitForReadInput(seen);
  }
}

function installStdio(FS) {
  const originalWrite = FS.write.bind(FS);
  FS.write = (stream, buffer, offset, length, position, canOwn) => {
    if (stream.path === '/dev/stdout' || stream.path === '/dev/stderr') {
      const view = new Uint8Array(buffer.buffer, buffer.byteOffset + offset, length);
      onVmOutput(cookNewlines(Uint8Array.from(view)));
      return length;
    }
    return originalWrite(stream, buffer, offset, length, position, canOwn);
  };
}

function cutPower() {
  tx.flush();
  parentPort.postMessage({ type: 'cut' });
  rx.halt();
}

// Counts an event against an armed power cut and cuts power after it.
function afterEvent(name) {
  if (rx.countCutEvent(cutEventCode(name))) {
    cutPower();
  }
}

// Ends this VM: board.mjs starts a fresh worker that prints "MPY: soft
// reboot" and boots from the flash again.
function softReset(flash, raw) {
  rx.markBusy();
  flash.closeOpenFiles();
  tx.flush();
  parentPort.postMessage({ type: 'soft_reset', raw });
  rx.halt();
}

async function loadVm() {
  const { loadMicroPython } = await import('@micropython/micropython-webassembly-pyscript');
  const mp = await loadMicroPython({
    heapsize: VM_HEAP_BYTES,
    linebuffer: false,
    stdin: readStdinByte,
    stdout: (bytes) => onVmOutput(bytes),
    stderr: (bytes) => onVmOutput(bytes),
  });
  vm.module = mp._module;
  installStdio(mp.FS);
  return mp;
}

function setUpBanner(mp) {
  const sys = mp.pyimport('sys');
  const vmVersion = String(sys.version).split('; ')[1];
  const vmMachine = String(sys.implementation._machine);
  // The ESP8266 port's banner: MICROPY_BANNER_NAME_AND_VERSION "; "
  // MICROPY_HW_BOARD_NAME " with " MICROPY_HW_MCU_NAME (ports/esp8266/mpconfigport.h).
  const boardVersion = options.firmware === '1.13' ? 'MicroPython v1.13 on 2020-09-02' : vmVersion;
  bannerRewriter = new StreamRewriter(
    `${vmVersion}; ${vmMachine}`,
    `${boardVersion}; ESP module with ESP8266`,
    (bytes) => tx.write(bytes),
  );
}

async function main() {
  if (bootKind === 'soft') {
    // ports/esp8266/main.c soft_reset()
    tx.write(Buffer.from('MPY: soft reboot\r\n'));
  }
  const mp = await loadVm();
  const flash = new FlashFs({
    FS: mp.FS,
    flashDir: options.flash,
    flashSize: options.flashSize,
    writeRate: options.flashWriteRate,
    hooks: {
      sleep: (ms) => rx.sleep(ms),
      onOperation: (op, boardPath) => {
        if (options.fsEvents) {
          postEvent({ ev: 'fs', op, path: boardPath });
        }
        afterEvent(op);
      },
    },
  });
  flash.load();
  mountFlash(mp);
  patchPlatform(mp, new Uint32Array(vm.memory.buffer));
  if (options.firmware === '1.13') {
    patchVersionTuple(new Uint32Array(vm.memory.buffer), [1, 27, 0], [1, 13, 0]);
  }
  setUpBanner(mp);
  flash.install();

  const repl = new Repl({
    mp,
    vm,
    rx,
    tx,
    flash,
    options,
    hooks: { readReplByte, postEvent, afterEvent, softReset: (raw) => softReset(flash, raw) },
  });
  repl.measureBaseline();

  const boots = workerData.boots;
  runBootScript(mp, 'boot.py');
  let bootReported = false;
  if (!startRaw && flash.fileExists('main.py')) {
    postEvent({ ev: 'boot', boots, firmware: options.firmware, kind: bootKind });
    bootReported = true;
    runBootScript(mp, 'main.py');
  }
  repl.start({ raw: startRaw, soft: bootKind === 'soft' });
  if (!bootReported) {
    postEvent({ ev: 'boot', boots, firmware: options.firmware, kind: bootKind });
  }
  repl.run();
}

main().catch((err) => {
  tx.flush();
  parentPort.postMessage({ type: 'fatal', message: err && err.stack ? err.stack : String(err) });
});
