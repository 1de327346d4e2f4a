import { closeSync, constants, fchmodSync, fchownSync, fstatSync, fsyncSync, lstatSync, openSync, realpathSync, renameSync, statSync, unlinkSync, writeFileSync, writeSync, type Stats } from 'node:fs'
import { dirname } from 'node:path'
import { errorCode } from './narrow.js'
import { fsyncDir, nameNonce, writeFileAtomic, writeFullySync } from './fs.js'

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
export function writeOutputFile (path: string, data: string | Uint8Array): void {
  const fd = descriptorNamed(path)
  if (fd !== undefined) {
    writeDescriptor(fd, data)
    return
  }
  const link = lstatSync(path, { throwIfNoEntry: false })
  if (link === undefined) {
    writeFileAtomic(path, data)
    return
  }
  if (link.isFile()) {
    replaceFile(path, data, link)
    return
  }
  if (link.isSymbolicLink()) {
    const target = statSync(path, { throwIfNoEntry: false })
    // A link to a regular file: replace that file atomically, the link stays a link.
    if (target?.isFile() === true) {
      replaceFile(realpathSync(path), data, target)
      return
    }
  }
  // A device, a FIFO, a socket, a dangling link or a link to one of them: open and write it in
  // place. A directory fails here with EISDIR, as it would with a rename.
  writeFileSync(path, data)
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
function replaceFile (path: string, data: string | Uint8Array, old: Stats): void {
  if (old.nlink > 1) {
    writeInPlace(path, data)
    return
  }
  const tmp = `${path}.${process.pid}.${nameNonce(4)}.tmp`
  let fd: number | undefined
  try {
    fd = openSync(tmp, 'wx', old.mode & 0o777)
  } catch (err) {
    if (!refused(err)) throw err
    writeInPlace(path, data)
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
        writeInPlace(path, data)
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

/** Truncate the existing file `path` and write `data` into it, flushed (its inode, links, owner and mode stay). */
function writeInPlace (path: string, data: string | Uint8Array): void {
  const fd = openSync(path, constants.O_WRONLY | constants.O_TRUNC)
  try {
    writeFullySync(fd, data)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

/** Whether the system refused this user the operation (not a failure of the disk or the name). */
function refused (err: unknown): boolean {
  const code = errorCode(err)
  return code === 'EACCES' || code === 'EPERM'
}

/**
 * The descriptor of this process that `path` names by itself (/dev/stdout, /dev/stderr, /dev/fd/N,
 * /proc/self/fd/N), which is written as it is open, as a shell's redirection takes these names:
 * followed, they lead to whatever the descriptor holds, and with `>> all.txt` that file was
 * replaced by a rename, losing what it held and all the command printed after (review30).
 */
function descriptorNamed (path: string): number | undefined {
  const m = /^\/(?:dev\/(stdout|stderr)|dev\/fd\/(\d+)|proc\/self\/fd\/(\d+))$/.exec(path)
  if (m === null) return undefined
  if (m[1] !== undefined) return m[1] === 'stdout' ? 1 : 2
  const n = Number(m[2] ?? m[3])
  return Number.isSafeInteger(n) ? n : undefined
}

/**
 * All of `data` written to `fd`, waiting out EAGAIN: a descriptor Node's stream made non-blocking
 * (stdout a socket, as a Node parent's 'pipe' is) takes a large proof in several writes.
 */
function writeDescriptor (fd: number, data: string | Uint8Array): void {
  const b = typeof data === 'string' ? Buffer.from(data, 'utf8') : data
  let cell: Int32Array | undefined
  for (let at = 0; at < b.length;) {
    try {
      at += writeSync(fd, b, at, b.length - at)
    } catch (err) {
      if (errorCode(err) !== 'EAGAIN') throw err
      cell ??= new Int32Array(new SharedArrayBuffer(4))
      Atomics.wait(cell, 0, 0, 5)
    }
  }
}
