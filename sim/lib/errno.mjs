// Maps Emscripten's errno values (WASI numbering, as thrown by FS.ErrnoError
// and returned by its syscalls) to the Linux numbering that the ESP8266 port
// uses (MICROPY_USE_INTERNAL_ERRNO, py/mperrno.h) and that littlefs errors
// carry (LFS_ERR_NOENT = -2, LFS_ERR_NOSPC = -28, ...). The VM's own errno
// module already uses the Linux numbers, so "OSError: [Errno 2] ENOENT" and
// "OSError: 28" (ENOSPC, which has no name in the default MICROPY_PY_ERRNO_LIST)
// print as they do on the board.
const WASI_TO_LINUX = new Map([
  [63, 1], // EPERM
  [44, 2], // ENOENT
  [27, 4], // EINTR
  [29, 5], // EIO
  [60, 6], // ENXIO
  [8, 9], // EBADF
  [6, 11], // EAGAIN
  [48, 12], // ENOMEM
  [2, 13], // EACCES
  [10, 16], // EBUSY
  [20, 17], // EEXIST
  [75, 18], // EXDEV
  [43, 19], // ENODEV
  [54, 20], // ENOTDIR
  [31, 21], // EISDIR
  [28, 22], // EINVAL
  [41, 23], // ENFILE
  [33, 24], // EMFILE
  [59, 25], // ENOTTY
  [22, 27], // EFBIG
  [51, 28], // ENOSPC
  [70, 29], // ESPIPE
  [69, 30], // EROFS
  [34, 31], // EMLINK
  [37, 36], // ENAMETOOLONG
  [52, 38], // ENOSYS
  [55, 39], // ENOTEMPTY
  [32, 40], // ELOOP
  [138, 95], // EOPNOTSUPP
]);

export function toLinuxErrno(wasiErrno) {
  return WASI_TO_LINUX.get(wasiErrno) ?? wasiErrno;
}

// Wraps the file-system imports of the wasm module so that the errno values
// they return reach the VM in Linux numbering. __syscall_* imports return
// -errno; WASI fd_* imports return errno.
export function wrapErrnoImports(env) {
  for (const name of Object.keys(env)) {
    const original = env[name];
    if (name.startsWith('__syscall_')) {
      env[name] = (...args) => {
        const result = original(...args);
        return typeof result === 'number' && result < 0 ? -toLinuxErrno(-result) : result;
      };
    } else if (name.startsWith('fd_')) {
      env[name] = (...args) => {
        const result = original(...args);
        return typeof result === 'number' && result > 0 ? toLinuxErrno(result) : result;
      };
    }
  }
}
