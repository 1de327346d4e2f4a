import { lstatSync, realpathSync, statSync, writeFileSync } from 'node:fs'
import { writeFileAtomic } from './fs.js'

/**
 * Write a file the user named (`prove -o`, `checkpoint -o`, `query --prove`). A new or regular
 * file is written under a temporary name and renamed into place, so a crash leaves the old file
 * or the new, never half; a file replaced keeps its permission bits. Anything else is written through, as a shell's `>` would: a rename
 * onto `/dev/null` or a FIFO replaces the device node itself (as root, /dev/null became a regular
 * file and every later `</dev/null` read it), and a rename onto a symlink replaces the link
 * instead of the file it points at.
 */
export function writeOutputFile (path: string, data: string | Uint8Array): void {
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
