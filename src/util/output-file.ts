import { closeSync, constants, fchmodSync, fchownSync, fstatSync, fsyncSync, ftruncateSync, lstatSync, openSync, readFileSync, realpathSync, renameSync, statSync, unlinkSync, writeSync, type Stats } from 'node:fs'
import { basename, dirname } from 'node:path'
import { sleep } from './async.js'
import { AbortError } from './errors.js'
import { errorCode } from './narrow.js'
import { fsyncDir, writeFileAtomic, writeFullySync } from './fs.js'
import { checkGiven, descriptorNamed, otherProcessDescriptor } from './output-descriptor.js'
import { refuseDescriptorInside, refuseInside } from './output-inside.js'
import { atomicTempPath, removeDeadWritersTemps } from './stale-temps.js'

/**
 * This process's stdout (1) and stderr (2) as the program writes them: each takes the text after
 * what was printed before and settles once it is taken (the CLI's writers wait for a slow
 * reader in the event loop). Without them, those descriptors are written as any other.
 */
export type DescriptorWriters = Partial<Record<1 | 2, (text: string) => Promise<void>>>

export interface OutputOptions {
  descriptors?: DescriptorWriters
  /** Stops a wait for the reader of a descriptor. */
  signal?: AbortSignal
  /**
   * Directories whose files are not the user's to write over (a data directory: chain.db, keys,
   * blocks): a path that leads into one (by its name, `..`, a symlink, another name of the
   * directory such as a bind mount, a hard link of one of its files) is refused with code
   * EINSIDE, the directory as `dir` (output-inside.ts), as is a descriptor open on one of its files.
   */
  outside?: readonly string[]
}

/**
 * Write a file the user named (`prove -o`, `checkpoint -o`, `query --prove`). A new or regular
 * file is written under a temporary name and renamed into place, so a crash leaves the old file
 * or the new, never half; a file replaced keeps its permission bits, owner and group, and where a
 * rename could not keep what the old file was (replaceFile) it is written in place. /dev/stdout and its kind are
 * the descriptor itself (descriptorNamed). Anything else is written through, as a shell's `>` would: a rename
 * onto `/dev/null` or a FIFO replaces the device node itself (as root, /dev/null became a regular
 * file and every later `</dev/null` read it), and a rename onto a symlink replaces the link
 * instead of the file it points at.
 */
export async function writeOutputFile (path: string, data: string, o: OutputOptions = {}): Promise<void> {
  const fd = descriptorNamed(path)
  if (fd !== undefined) {
    checkGiven(fd, o.outside !== undefined)
    if (o.outside !== undefined) refuseDescriptorInside(fd, o.outside)
    const own = fd === 1 || fd === 2 ? o.descriptors?.[fd] : undefined
    await (own !== undefined ? own(data) : writeDescriptor(fd, data, o.signal))
    return
  }
  if (o.outside !== undefined) refuseInside(path, o.outside)
  // Another process's descriptor: what it is open on, in place (the directory /proc/PID/fd takes no new file).
  if (otherProcessDescriptor(path)) {
    const end = await openWriteEnd(path, o.signal)
    try { await writeDescriptor(end, data, o.signal) } finally { closeSync(end) }
    return
  }
  const link = lstatSync(path, { throwIfNoEntry: false })
  // The atomic writes below leave `FILE.PID.NONCE.tmp` beside the file when killed: those of dead
  // processes go when FILE is next written.
  if (link === undefined) {
    removeDeadWritersTemps(dirname(path), basename(path))
    writeFileAtomic(path, data)
    return
  }
  if (link.isFile()) {
    removeDeadWritersTemps(dirname(path), basename(path))
    replaceFile(path, data, link)
    return
  }
  if (link.isSymbolicLink()) {
    const target = statSync(path, { throwIfNoEntry: false })
    // A link to a regular file: replace that file atomically, the link stays a link.
    if (target?.isFile() === true) {
      // realpath(3): node:fs's realpathSync reads a `..` after a linked directory lexically, and named
      // another file than the one the link leads to, which was replaced instead (review54b).
      const real = realpathSync.native(path)
      removeDeadWritersTemps(dirname(real), basename(real))
      replaceFile(real, data, target)
      return
    }
  }
  // A device, a FIFO, a socket, a dangling link or a link to one of them: open and write it in
  // place. A directory fails here with EISDIR, as it would with a rename.
  const end = await openWriteEnd(path, o.signal)
  try {
    await writeDescriptor(end, data, o.signal)
  } finally {
    closeSync(end)
  }
}

/**
 * `path` opened for writing without blocking (created if it is a dangling link, truncated if it
 * is a file): a FIFO's open waits for its reader and its writes for a reader that stalls, and both
 * are waited for in the event loop (writeDescriptor), so that Ctrl-C stops the wait and the
 * process ends. They were on the thread pool: stopped, the command said "interrupted" and never
 * ended, as libuv joins its threads at exit and one sat in open(2) or write(2) (review32).
 */
async function openWriteEnd (path: string, signal: AbortSignal | undefined): Promise<number> {
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NONBLOCK
  for (let pause = 1; ; pause = Math.min(pause * 2, 100)) {
    try {
      return openSync(path, flags, 0o666)
    } catch (err) {
      // ENXIO: a FIFO without a reader yet (a socket's ENXIO is for good).
      if (errorCode(err) !== 'ENXIO' || statSync(path, { throwIfNoEntry: false })?.isFIFO() !== true) throw err
      await sleep(pause, signal)
    }
  }
}

/**
 * Replace the regular file `path` (whose stat is `old`) by `data` the way Vim's
 * `backupcopy=auto` does: atomically (a new file with the old one's permission bits, owner and
 * group, fsynced and renamed over it) where that new file can be the
 * same file to its users, else in place (truncated, written, fsynced), as a shell's `>` writes:
 * - the file has other hard links: a rename would part this name from them (they would keep the
 *   old content);
 * - the new file cannot be given the old one's owner or group (fchown refused: another user's
 *   file, a group this user is not in): a rename would make it this user's;
 * - no file can be made in its directory (EACCES, EPERM), where the file itself is writable.
 * Written in place, a crash in the middle leaves a short file, as `>` would.
 */
function replaceFile (path: string, data: string, old: Stats): void {
  if (old.nlink > 1) {
    writeInPlace(path, data, old)
    return
  }
  const tmp = atomicTempPath(path)
  let fd: number | undefined
  try {
    fd = openSync(tmp, 'wx', old.mode & 0o777)
  } catch (err) {
    if (!refused(err)) throw err
    writeInPlace(path, data, old)
    return
  }
  try {
    const made = fstatSync(fd)
    if (made.uid !== old.uid || made.gid !== old.gid) {
      try {
        fchownSync(fd, old.uid, old.gid)
      } catch (err) {
        if (!refused(err)) throw err
        closeSync(fd)
        fd = undefined
        unlinkSync(tmp)
        writeInPlace(path, data, old)
        return
      }
    }
    // The bits exactly, not less the umask: a group's shared file (0660) lost its group's write.
    fchmodSync(fd, old.mode & 0o777)
    writeFullySync(fd, data)
    fsyncSync(fd)
    closeSync(fd)
    fd = undefined
    renameSync(tmp, path)
  } catch (err) {
    if (fd !== undefined) closeSync(fd)
    try { unlinkSync(tmp) } catch {}
    throw err
  }
  fsyncDir(dirname(path))
}

/** What writeInPlace keeps to put back: a proof or a note is far smaller. */
const RESTORE_MAX_BYTES = 64 << 20

/**
 * Truncate the existing file `path` and write `data` into it, flushed (its inode, links, owner and
 * mode stay). A write that fails (ENOSPC, EFBIG, EDQUOT) puts back what the file held, where it was
 * readable and at most RESTORE_MAX_BYTES: it left the file short, the old content lost and the new
 * not written, in every name of a hard-linked file (review32). Where it cannot (too large,
 * unreadable, the restore failed too), the error says so in `damaged` (DamagedFile).
 */
function writeInPlace (path: string, data: string, old: Stats): void {
  let before: Buffer | undefined
  if (old.size <= RESTORE_MAX_BYTES) {
    try { before = readFileSync(path) } catch {}
  }
  const fd = openSync(path, constants.O_WRONLY | constants.O_TRUNC)
  try {
    writeFullySync(fd, data)
    fsyncSync(fd)
  } catch (err) {
    let lost = before === undefined ? (old.size > RESTORE_MAX_BYTES ? `larger than ${RESTORE_MAX_BYTES >> 20} MiB, it was not kept` : 'it could not be read') : undefined
    if (before !== undefined) {
      try {
        ftruncateSync(fd, 0)
        // At offset 0 (the descriptor's own offset is past the failed write).
        for (let at = 0; at < before.length;) at += writeSync(fd, before, at, before.length - at, at)
        fsyncSync(fd)
      } catch (again) {
        lost = `putting it back failed too: ${errorCode(again) ?? String(again)}`
      }
    }
    // The caller must say the file is damaged, not only why the write failed (mend34).
    if (lost !== undefined && typeof err === 'object' && err !== null) Object.assign(err, { damaged: { path, size: sizeOf(fd), lost } satisfies DamagedFile })
    throw err
  } finally {
    closeSync(fd)
  }
}

/**
 * On the error of a write in place whose file could not be put back (writeInPlace): the file, its
 * size now (-1 unknown), and why its old content is lost. It is neither the old content nor the
 * new, in every name it has.
 */
export interface DamagedFile { path: string, size: number, lost: string }

function sizeOf (fd: number): number {
  try { return fstatSync(fd).size } catch { return -1 }
}

/** Whether the system refused this user the operation (not a failure of the disk or the name). */
function refused (err: unknown): boolean {
  const code = errorCode(err)
  return code === 'EACCES' || code === 'EPERM'
}

/**
 * All of `data` written to `fd`, waiting out EAGAIN (a descriptor made non-blocking: a socket
 * Node's stream made so, a pipe opened O_NONBLOCK) in the event loop, so that Ctrl-C's handler
 * runs while a reader stalls and the process can end (nothing waits on the thread pool, which
 * libuv joins at exit: review32). A pipe or FIFO is opened anew through /proc/self/fd/N (an open
 * file description of its own, so the caller's descriptor and flags stay as they are) and the
 * rest written through a libuv stream on it (`net.Socket`), which waits for the pipe to take more
 * in epoll: no wake-up of the process while the reader stalls (mend32). Anything else (a socket,
 * which cannot be opened anew; another user's pipe) is tried again on a timer, from 1 ms doubling
 * to 100 ms while nothing is taken (up to 10 wake-ups a second): Node has no wait for a descriptor
 * it does not own, and a `net.Socket` on the descriptor itself would close it when done. It was a
 * synchronous 5 ms sleep in a loop: 190 wake-ups a second and no event loop until the reader had
 * taken every byte.
 */
async function writeDescriptor (fd: number, data: string, signal: AbortSignal | undefined): Promise<void> {
  const b = Buffer.from(data, 'utf8')
  let pause = 1
  for (let at = 0; at < b.length;) {
    try {
      at += writeSync(fd, b, at, b.length - at)
      pause = 1
    } catch (err) {
      if (errorCode(err) !== 'EAGAIN') throw err
      if (pause === 1 && await writtenWhenWritable(fd, b.subarray(at), signal)) return
      await sleep(pause, signal)
      pause = Math.min(pause * 2, 100)
    }
  }
}

/**
 * `rest` written to the pipe or FIFO of `fd` through a libuv stream on it opened anew, once the
 * pipe takes it; false (nothing written) when `fd` is not one or cannot be opened anew.
 */
async function writtenWhenWritable (fd: number, rest: Uint8Array, signal: AbortSignal | undefined): Promise<boolean> {
  if (!fstatSync(fd).isFIFO()) return false
  let again: number
  try {
    again = openSync(`/proc/self/fd/${fd}`, constants.O_WRONLY | constants.O_NONBLOCK)
  } catch (err) {
    const code = errorCode(err)
    // No procfs, no reader left (ENXIO), a socket (ENXIO), another user's pipe.
    if (code === 'ENOENT' || code === 'ENXIO' || refused(err)) return false
    throw err
  }
  // Loaded here: a command's start loads neither node:net nor node:stream (cli/stdout.ts).
  const { Socket } = await import('node:net')
  const stream = new Socket({ fd: again, readable: false, writable: true })
  const stop = (): void => { stream.destroy(new AbortError()) }
  try {
    if (signal?.aborted === true) throw new AbortError()
    signal?.addEventListener('abort', stop, { once: true })
    await new Promise<void>((resolve, reject) => {
      stream.once('error', reject)
      stream.write(rest, err => { if (err === undefined || err === null) resolve(); else reject(err) })
    })
  } finally {
    signal?.removeEventListener('abort', stop)
    stream.destroy()
  }
  return true
}
