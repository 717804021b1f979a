// The board's flash file system: a host folder loaded into Emscripten's MEMFS
// at MOUNT_POINT, with the Emscripten FS methods wrapped so that each change
// reaches the host folder with littlefs-like power-loss semantics.
//
// littlefs (the ESP8266 port's default file system since v1.13) commits a file's
// new content only when the file is closed or synced, and commits directory
// operations (mkdir, remove, rename) atomically before they return. A power
// cut therefore leaves either the old or the new content of each file.

import fs from 'node:fs';
import path from 'node:path';

// The flash is the MEMFS root itself. VfsPosix with a root folder cannot
// rename: vfs_posix_rename builds both paths in the one root buffer
// (extmod/vfs_posix.c vfs_posix_get_path_str), so the old path is lost and
// every rename fails with ENOENT. Mounted without a root, VfsPosix passes
// paths through unchanged, so the board's "/" must be the MEMFS "/".
export const MOUNT_POINT = '/';
// Folders that Emscripten creates at the MEMFS root for its own devices. They
// are hidden from directory listings and never persisted, so a board folder
// cannot have these names.
// NOTE: a board path /dev or /proc reaches Emscripten's devices instead of
// the flash.
export const SYSTEM_DIRS = new Set(['dev', 'proc']);
// Host files with this name prefix are partial writes; they are deleted at boot.
export const TEMP_PREFIX = '.simboard-tmp~';
// littlefs block size on the ESP8266 port (ports/esp8266/modules/flashbdev.py: SEC_SIZE = 4096).
export const BLOCK_SIZE = 4096;

const O_ACCMODE = 3; // Emscripten's O_WRONLY is 1 and O_RDWR is 2
const ERRNO_ENOSPC = 51; // Emscripten's ERRNO_CODES.ENOSPC (WASI numbering)

export class FlashFs {
  // hooks: onOperation(op, boardPath) is called after each persisted change;
  // sleep(ms) blocks the board for the modelled flash write time.
  constructor({ FS, flashDir, flashSize, writeRate, hooks }) {
    this.FS = FS;
    this.flashDir = path.resolve(flashDir);
    this.totalBlocks = Math.floor(flashSize / BLOCK_SIZE);
    this.writeRate = writeRate;
    this.hooks = hooks;
    this.original = {};
  }

  // Copies the host folder into MEMFS and deletes partial writes left by a cut.
  load() {
    fs.mkdirSync(this.flashDir, { recursive: true });
    // Emscripten's empty /tmp and /home are not on a board's flash.
    for (const dir of ['/tmp', '/home/web_user', '/home']) {
      try {
        this.FS.rmdir(dir);
      } catch {
        // Not created by this Emscripten version.
      }
    }
    this.loadDirectory(this.flashDir, '');
  }

  loadDirectory(hostDir, memfsDir) {
    for (const entry of fs.readdirSync(hostDir, { withFileTypes: true })) {
      const hostPath = path.join(hostDir, entry.name);
      const memfsPath = `${memfsDir}/${entry.name}`;
      if (memfsDir === '' && SYSTEM_DIRS.has(entry.name)) {
        continue;
      }
      if (entry.name.startsWith(TEMP_PREFIX)) {
        fs.rmSync(hostPath, { force: true, recursive: true });
      } else if (entry.isDirectory()) {
        this.FS.mkdir(memfsPath);
        this.loadDirectory(hostPath, memfsPath);
      } else if (entry.isFile()) {
        this.FS.writeFile(memfsPath, fs.readFileSync(hostPath));
      }
    }
  }

  // Wraps the FS methods that the syscalls of VfsPosix call (__syscall_openat,
  // fd_write, fd_close, __syscall_renameat, __syscall_unlinkat,
  // __syscall_rmdir, __syscall_mkdirat, __syscall_statfs64).
  install() {
    const FS = this.FS;
    for (const name of ['open', 'write', 'close', 'rename', 'unlink', 'rmdir', 'mkdir', 'statfs', 'readdir']) {
      this.original[name] = FS[name].bind(FS);
    }
    FS.open = (p, flags, mode) => this.open(p, flags, mode);
    FS.write = (stream, buffer, offset, length, position, canOwn) =>
      this.write(stream, buffer, offset, length, position, canOwn);
    FS.close = (stream) => this.close(stream);
    FS.rename = (from, to) => this.rename(from, to);
    FS.unlink = (p) => this.unlink(p);
    FS.rmdir = (p) => this.rmdir(p);
    FS.mkdir = (p, mode) => this.mkdir(p, mode);
    FS.statfs = (p) => this.statfs(p);
    FS.readdir = (p) => this.readdir(p);
  }

  // Lists a folder, without Emscripten's device folders at the root.
  readdir(p) {
    const names = this.original.readdir(p);
    if (path.posix.normalize(p) !== '/') {
      return names;
    }
    return names.filter((name) => !SYSTEM_DIRS.has(name));
  }

  // Returns the host path for a MEMFS path on the flash, or null for
  // Emscripten's device folders.
  hostPath(memfsPath) {
    const normalized = path.posix.normalize(memfsPath);
    if (normalized === '/') {
      return this.flashDir;
    }
    if (!normalized.startsWith('/') || SYSTEM_DIRS.has(normalized.split('/')[1])) {
      return null;
    }
    return path.join(this.flashDir, normalized.slice(1));
  }

  boardPath(memfsPath) {
    return path.posix.normalize(memfsPath);
  }

  open(p, flags, mode) {
    const stream = this.original.open(p, flags, mode);
    const writable = typeof flags === 'number' && (flags & O_ACCMODE) !== 0;
    if (writable && this.hostPath(stream.path) !== null && this.FS.isFile(stream.node.mode)) {
      stream.simboardWritable = true;
      this.hooks.onOperation('open_write', this.boardPath(stream.path));
    }
    return stream;
  }

  write(stream, buffer, offset, length, position, canOwn) {
    if (!stream.simboardWritable) {
      return this.original.write(stream, buffer, offset, length, position, canOwn);
    }
    this.checkSpace(stream, length, position);
    const written = this.original.write(stream, buffer, offset, length, position, canOwn);
    if (this.writeRate > 0) {
      this.hooks.sleep((written / this.writeRate) * 1000);
    }
    this.hooks.onOperation('write', this.boardPath(stream.path));
    return written;
  }

  // Throws ENOSPC when a write would need more blocks than the flash has.
  checkSpace(stream, length, position) {
    const node = stream.node;
    const oldSize = node.usedBytes || 0;
    const start = stream.flags & 1024 ? oldSize : (position ?? stream.position);
    const newSize = Math.max(oldSize, start + length);
    const extraBlocks = blocksFor(newSize) - blocksFor(oldSize);
    if (extraBlocks > 0 && this.usedBlocks() + extraBlocks > this.totalBlocks) {
      throw new this.FS.ErrnoError(ERRNO_ENOSPC);
    }
  }

  close(stream) {
    const persist = stream.simboardWritable && this.isLinked(stream.node);
    const memfsPath = persist ? this.FS.getPath(stream.node) : null;
    const result = this.original.close(stream);
    if (!persist) {
      return result;
    }
    this.persistFile(memfsPath, stream.node);
    this.hooks.onOperation('close', this.boardPath(memfsPath));
    return result;
  }

  // Writes the file's content next to its host path and renames it over, so
  // that a cut at any moment leaves the old or the new content.
  persistFile(memfsPath, node) {
    const hostPath = this.hostPath(memfsPath);
    const contents = node.contents ? node.contents.subarray(0, node.usedBytes) : new Uint8Array(0);
    const tempPath = path.join(path.dirname(hostPath), TEMP_PREFIX + path.basename(hostPath));
    fs.writeFileSync(tempPath, contents);
    fs.renameSync(tempPath, hostPath);
  }

  isLinked(node) {
    try {
      return this.FS.lookupPath(this.FS.getPath(node)).node === node;
    } catch {
      return false;
    }
  }

  rename(from, to) {
    const result = this.original.rename(from, to);
    const hostFrom = this.hostPath(from);
    const hostTo = this.hostPath(to);
    if (hostFrom !== null && hostTo !== null) {
      // A file created and still open has no host copy yet: nothing to rename.
      ignoreMissing(() => fs.renameSync(hostFrom, hostTo));
      this.hooks.onOperation('rename', this.boardPath(to));
    }
    return result;
  }

  unlink(p) {
    const result = this.original.unlink(p);
    const hostPath = this.hostPath(p);
    if (hostPath !== null) {
      ignoreMissing(() => fs.unlinkSync(hostPath));
      this.hooks.onOperation('remove', this.boardPath(p));
    }
    return result;
  }

  rmdir(p) {
    const result = this.original.rmdir(p);
    const hostPath = this.hostPath(p);
    if (hostPath !== null) {
      ignoreMissing(() => fs.rmdirSync(hostPath));
      this.hooks.onOperation('rmdir', this.boardPath(p));
    }
    return result;
  }

  mkdir(p, mode) {
    const hostPath = this.hostPath(p);
    if (hostPath !== null && this.usedBlocks() + 1 > this.totalBlocks) {
      throw new this.FS.ErrnoError(ERRNO_ENOSPC);
    }
    const result = this.original.mkdir(p, mode);
    if (hostPath !== null) {
      fs.mkdirSync(hostPath);
      this.hooks.onOperation('mkdir', this.boardPath(p));
    }
    return result;
  }

  // Reports the modelled littlefs geometry for paths on the flash, the way
  // vfs_lfsx.c statvfs does: f_bsize = f_frsize = block size, f_blocks = block
  // count, f_bfree = f_bavail = blocks not in use, f_namemax = 255 (LFS_NAME_MAX).
  statfs(p) {
    if (this.hostPath(p) === null) {
      return this.original.statfs(p);
    }
    const free = Math.max(0, this.totalBlocks - this.usedBlocks());
    return {
      bsize: BLOCK_SIZE,
      frsize: BLOCK_SIZE,
      blocks: this.totalBlocks,
      bfree: free,
      bavail: free,
      files: 0,
      ffree: 0,
      fsid: 0,
      flags: 0,
      namelen: 255,
    };
  }

  // Counts blocks in use: each file rounded up to whole blocks, one block per
  // directory including the root. This is a model; real littlefs also inlines
  // small files into their directory's metadata blocks.
  usedBlocks() {
    const root = this.FS.lookupPath('/').node;
    let blocks = 1;
    for (const [name, child] of Object.entries(root.contents)) {
      if (!SYSTEM_DIRS.has(name)) {
        blocks += countBlocks(this.FS, child);
      }
    }
    return blocks;
  }

  // Returns true when name (relative to the flash root) is a regular file,
  // as mp_import_stat() checks before pyexec_file_if_exists() runs a script.
  fileExists(name) {
    try {
      return this.FS.isFile(this.FS.lookupPath(`/${name}`).node.mode);
    } catch {
      return false;
    }
  }

  // Closes files still open for writing, as the finaliser of each littlefs
  // file object does when gc_sweep_all() runs at a soft reset.
  closeOpenFiles() {
    for (const stream of this.FS.streams.values()) {
      if (stream && stream.simboardWritable) {
        try {
          this.FS.close(stream);
        } catch {
          // The stream was already closed.
        }
      }
    }
  }
}

function blocksFor(size) {
  return Math.ceil(size / BLOCK_SIZE);
}

function countBlocks(FS, node) {
  if (!FS.isDir(node.mode)) {
    return blocksFor(node.usedBytes || 0);
  }
  let blocks = 1;
  for (const child of Object.values(node.contents)) {
    blocks += countBlocks(FS, child);
  }
  return blocks;
}

function ignoreMissing(operation) {
  try {
    operation();
  } catch (err) {
    if (err.code !== 'ENOENT') {
      throw err;
    }
  }
}
