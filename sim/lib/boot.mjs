// Boot steps of the ESP8266 port (ports/esp8266/main.c mp_reset): mount the
// flash file system at "/", then pyexec_file_if_exists("boot.py") and, in the
// friendly REPL mode, pyexec_file_if_exists("main.py").

// Makes Python's "/" the flash, as _boot.py mounts the littlefs block device
// at "/" on the ESP8266: VfsPosix without a root folder over the MEMFS root
// (see MOUNT_POINT in flash-fs.mjs). Names used here are deleted afterwards.
export function mountFlash(mp) {
  mp.runPython(
    [
      'import os as _simboard_os',
      "_simboard_os.umount('/')",
      "_simboard_os.mount(_simboard_os.VfsPosix(), '/')",
      "_simboard_os.chdir('/')",
      'del _simboard_os',
    ].join('\n'),
  );
}

// Runs a script from the flash in __main__'s globals with Ctrl-C enabled, and
// prints an uncaught exception the way pyexec_file() does
// (shared/runtime/pyexec.c parse_compile_execute: mp_obj_print_exception, and
// SystemExit ends the script silently). The helper's own frame is removed
// from the printed traceback so it names only the script's frames.
const RUN_SCRIPT = `
def _simboard_exec(fn):
    import sys, io, micropython
    try:
        f = open(fn)
    except OSError:
        return
    src = f.read()
    f.close()
    g = globals()
    g['__file__'] = fn
    micropython.kbd_intr(3)
    try:
        exec(compile(src, fn, 'exec'), g)
        # The jump runs the VM's pending-exception check inside the try, so an
        # interrupt that arrived during the script's last call is printed.
        if g:
            pass
    except SystemExit:
        pass
    except BaseException as e:
        micropython.kbd_intr(-1)
        buf = io.StringIO()
        sys.print_exception(e, buf)
        lines = buf.getvalue().split('\\n')
        if len(lines) > 2 and lines[1].startswith('  File "<stdin>"'):
            del lines[1]
        sys.stdout.write('\\n'.join(lines))
    micropython.kbd_intr(-1)
_simboard_exec(%NAME%)
del _simboard_exec
`;

export function runBootScript(mp, name) {
  try {
    mp.runPython(RUN_SCRIPT.replace('%NAME%', JSON.stringify(name)));
  } catch (err) {
    // An interrupt that arrives after the script's exception was handled ends
    // up here, as it would abort the board's pyexec_file_if_exists call.
    if (err.name !== 'PythonError') {
      throw err;
    }
  }
}

// Size of the start of wasm memory that holds the VM's static data segment.
const STATIC_DATA_BYTES = 4 * 1024 * 1024;
// Tag bits of a qstr object word in MICROPY_OBJ_REPR_A (py/obj.h).
const QSTR_TAG = 2;

// Rewrites the constant tuple sys.implementation.version in the VM's memory
// (words: a Uint32Array over the wasm memory)
// (its items are small ints, stored as (n << 1) | 1). Returns true when
// exactly one tuple matched and was patched.
export function patchVersionTuple(words, from, to) {
  const pattern = [4, ...from.map(smallInt)];
  // The tuple lives in the static data segment at the start of memory.
  const limit = Math.min(words.length, STATIC_DATA_BYTES / 4);
  const matches = [];
  for (let i = 0; i + pattern.length < limit; i++) {
    if (pattern.every((word, k) => words[i + k] === word)) {
      matches.push(i);
    }
  }
  if (matches.length !== 1) {
    console.error(`simboard: sys.implementation.version not patched: ${matches.length} candidate tuples found`);
    return false;
  }
  to.forEach((value, k) => {
    words[matches[0] + 1 + k] = smallInt(value);
  });
  return true;
}

// Makes sys.platform "esp8266" (MICROPY_PY_SYS_PLATFORM in
// ports/esp8266/mpconfigport.h) instead of the VM's "webassembly". The sys
// module's globals are a fixed map in the VM's static data (py/modsys.c), and
// its "platform" entry is rewritten to an interned "esp8266" string. Object
// words follow MICROPY_OBJ_REPR_A (py/obj.h), where id() of a qstr string is
// the object word itself and a qstr word ends in the tag bits 0b010. Returns
// true when exactly one entry matched and was patched.
export function patchPlatform(mp, words) {
  mp.runPython(
    [
      'import sys as _simboard_sys',
      "_simboard_ids = '%d %d %d' % (id('platform'), id(_simboard_sys.platform), id('esp8266'))",
      'del _simboard_sys',
    ].join('\n'),
  );
  const [key, value, replacement] = mp.globals.get('_simboard_ids').split(' ').map(Number);
  mp.runPython('del _simboard_ids');
  // A heap string would be freed by the GC, because static data is no GC root.
  if ((replacement & 7) !== QSTR_TAG) {
    console.error('simboard: sys.platform not patched: "esp8266" is not an interned string');
    return false;
  }
  const limit = Math.min(words.length, STATIC_DATA_BYTES / 4);
  const matches = [];
  for (let i = 0; i + 1 < limit; i++) {
    if (words[i] === key && words[i + 1] === value) {
      matches.push(i);
    }
  }
  if (matches.length !== 1) {
    console.error(`simboard: sys.platform not patched: ${matches.length} candidate map entries found`);
    return false;
  }
  words[matches[0] + 1] = replacement;
  return true;
}

function smallInt(value) {
  return (value << 1) | 1;
}
