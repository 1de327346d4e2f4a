import { lstatSync, realpathSync, statSync, writeFileSync, writeSync } from 'node:fs'
import { errorCode } from './narrow.js'
import { writeFileAtomic } from './fs.js'

/**
 * Write a file the user named (`prove -o`, `checkpoint -o`, `query --prove`). A new or regular
 * file is written under a temporary name and renamed into place, so a crash leaves the old file
 * or the new, never half; a file replaced keeps its permission bits. /dev/stdout and its kind are
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
  if (link === undefined || link.isFile()) {
    // A file replaced keeps its permissions (less the umask), as `>` keeps them: a proof written
    // over a file made private (0600) was world-readable after (review30).
    writeFileAtomic(path, data, link === undefined ? undefined : link.mode & 0o777)
    return
  }
  if (link.isSymbolicLink()) {
    const target = statSync(path, { throwIfNoEntry: false })
    // A link to a regular file: replace that file atomically, the link stays a link.
    if (target?.isFile() === true) {
      writeFileAtomic(realpathSync(path), data, target.mode & 0o777)
      return
    }
  }
  // A device, a FIFO, a socket, a dangling link or a link to one of them: open and write it in
  // place. A directory fails here with EISDIR, as it would with a rename.
  writeFileSync(path, data)
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
