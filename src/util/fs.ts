import { accessSync, closeSync, constants, fsync, fsyncSync, mkdirSync, openSync, readSync, renameSync, writeFileSync, writeSync, writevSync, unlinkSync } from 'node:fs'
import { dirname } from 'node:path'
import { errorCode } from './narrow.js'
import { atomicTempPath } from './stale-temps.js'

/**
 * `bytes` random bytes in hex, for a temporary file's name: a name must not collide with another
 * process's (or a dead one's of the same pid), it need not be secret. Math.random (V8 seeds it
 * from the system's entropy in every isolate), not node:crypto's randomBytes: naming a block's
 * temporary file loaded all of node:crypto in a `signimportblock` that otherwise needs none of it
 * (docs/performance/import.md, "Session 23: the 100-row import").
 */
export function nameNonce (bytes: number): string {
  let s = ''
  for (let i = 0; i < bytes; i++) s += ((Math.random() * 256) | 0).toString(16).padStart(2, '0')
  return s
}

/** fsync a directory so that a rename or create inside it survives a crash. */
export function fsyncDir (dir: string): void {
  const fd = openSync(dir, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

/** fsyncDir on libuv's thread pool: the event loop goes on while the disk flushes. */
export async function fsyncDirAsync (dir: string): Promise<void> {
  await fsyncFileAsync(dir)
}

/** fsync a file (or directory) on libuv's thread pool; read-only access is enough for fsync. */
export async function fsyncFileAsync (path: string): Promise<void> {
  await fsyncPathAsync(path, 'r')
}

// fsync on the thread pool, settled by its callback: no node:util promisify, which a process
// compiles at its first call (docs/performance/import.md, "Session 25: the 100-row import").
function fsyncFd (fd: number): Promise<void> {
  return new Promise((resolve, reject) => { fsync(fd, err => { if (err === null) resolve(); else reject(err) }) })
}

/**
 * Open `path` (`flags`), write `data` if given, fsync on libuv's thread pool, close. The open,
 * the write of a few bytes into the page cache and the close of a flushed file run on the calling
 * thread, which costs less CPU than a thread-pool round trip each (three or four per file, where
 * catch-up flushes two files per block). They usually do no disk I/O, but not always: creating a
 * file (`w`, a block's `.sig`) can wait for the file system's journal (ext4 commits while other
 * flushes are in flight), and then the calling thread waits with it.
 */
export async function fsyncPathAsync (path: string, flags: 'r' | 'r+' | 'w', data?: string | Uint8Array, mode = 0o644): Promise<void> {
  const fd = openSync(path, flags, mode)
  try {
    if (data !== undefined) writeFullySync(fd, data)
    await fsyncFd(fd)
  } finally {
    closeSync(fd)
  }
}

/**
 * Create `path` (it must not exist: O_EXCL) holding `parts` (`size` bytes in all), with one
 * synchronous open, write and close into the page cache; nothing is fsynced (the caller's
 * placement does that). For small files, where three asynchronous operations cost more than the bytes.
 */
export function writeNewFileSync (path: string, parts: readonly Uint8Array[], size: number): void {
  const fd = openSync(path, 'wx', 0o644)
  try {
    const n = writevSync(fd, parts)
    if (n !== size) throw new Error(`short write: ${n} of ${size} bytes`)
  } finally {
    closeSync(fd)
  }
}

export function fsyncFile (path: string): void {
  fsyncPathSync(path, 'r+')
}

/** fsyncPathAsync on the calling thread: for a few small files, where starting libuv's thread pool costs more than the overlap. */
export function fsyncPathSync (path: string, flags: 'r' | 'r+' | 'w', data?: string | Uint8Array, mode = 0o644): void {
  const fd = openSync(path, flags, mode)
  try {
    if (data !== undefined) writeFullySync(fd, data)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

/**
 * Replace `path` with `data` through a temporary sibling and a rename, fsyncing nothing: for files
 * that only describe a running process or cache what it learns again (node-state.json,
 * peers.json; docs/data-directory.md). A crash ends the process the file describes, so no reader
 * needs its last version; after a power loss it may be the old one or empty, which their readers
 * take for none. A failed fsync here (the directory's, which the disk's other files share) would
 * say nothing about this file and only make a caller report a fault it cannot act on.
 */
export function replaceFile (path: string, data: string | Uint8Array, mode = 0o644): void {
  const tmp = atomicTempPath(path)
  try {
    writeFileSync(tmp, data, { mode })
    renameSync(tmp, path)
  } catch (err) {
    try { unlinkSync(tmp) } catch {}
    throw err
  }
}

/**
 * Replace `path` with `data` so that a crash leaves either the old or the new content: write a
 * temporary sibling, fsync it, rename over the target, fsync the directory.
 */
export function writeFileAtomic (path: string, data: string | Uint8Array, mode = 0o644): void {
  const dir = dirname(path)
  mkdirSync(dir, { recursive: true })
  const tmp = atomicTempPath(path)
  try {
    writeFileSync(tmp, data, { mode, flush: true })
    renameSync(tmp, path)
  } catch (err) {
    try { unlinkSync(tmp) } catch {}
    throw deniedAt(err, tmp, path)
  }
  fsyncDir(dir)
}

/**
 * A permission error of writeFileAtomic's temporary (EACCES, EPERM) as what the user can act on:
 * its creation refused is the directory's (no file may be made in it), its rename refused the
 * file's (another user's file in a sticky directory such as /tmp). Its own error named the
 * temporary, `FILE.n….tmp`, which is gone by then, and the CLI's hint said to check its owner
 * and mode (health53).
 */
function deniedAt (err: unknown, tmp: string, path: string): unknown {
  const code = errorCode(err)
  if ((code !== 'EACCES' && code !== 'EPERM') || (err as { path?: unknown }).path !== tmp) return err
  const renaming = (err as { syscall?: unknown }).syscall === 'rename'
  const at = renaming ? path : dirname(path)
  const what = renaming ? `cannot replace '${path}'` : `cannot create a file in '${at}' to write '${path}'`
  return Object.assign(new Error(`${code}: permission denied, ${what}`, { cause: err }), { code, errno: (err as { errno?: unknown }).errno, syscall: renaming ? 'rename' : 'open', path: at })
}

/**
 * Write all of `data` at the descriptor's position, looping over short writes: writeFileSync's
 * work for a descriptor, through writeSync, which every command that prints has compiled (Node
 * compiles writeFileSync's JavaScript at its first call; docs/performance/import.md, "Session 25: the
 * 100-row import").
 */
export function writeFullySync (fd: number, data: string | Uint8Array): void {
  const b = typeof data === 'string' ? Buffer.from(data, 'utf8') : data
  for (let at = 0; at < b.length;) at += writeSync(fd, b, at, b.length - at)
}

/** Read `len` bytes at file position `pos` into the start of `buf`, looping over short reads; fewer only at the end of the file. */
export function readFullySync (fd: number, buf: Uint8Array, len: number, pos: number): number {
  let got = 0
  for (let n = -1; n !== 0 && got < len; got += n) n = readSync(fd, buf, got, len - got, pos + got)
  return got
}

export function isNotFound (err: unknown): boolean {
  return errorCode(err) === 'ENOENT'
}

/** Whether this process may create and delete files in `dir` (SQLite needs that for its -wal, -shm and journal files). */
export function canWrite (dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK)
    return true
  } catch {
    return false
  }
}
