import { close, closeSync, constants, fstat, open, read, stat } from 'node:fs'
import { copyFile } from 'node:fs/promises'
import { promisify } from 'node:util'
import { openDataFileSync } from '../../storage/index.js'
import { readFullySync } from '../../util/index.js'

// node:fs's callback API, not node:fs/promises: mirroring a small block after an import then never
// loads that module (~70 fresh pages per process; docs/performance/import.md, "Session 11: the
// 100-row import and start-up"). Promisified at first use: a small block's mirror reads it
// synchronously and never runs promisify (session 25).
const promisified = () => ({ open: promisify(open), fstat: promisify(fstat), read: promisify(read), close: promisify(close), stat: promisify(stat) })
let ops: ReturnType<typeof promisified> | undefined
const fsAsync = (): ReturnType<typeof promisified> => (ops ??= promisified())

/**
 * A block file of the data directory opened for reading as openDataFileSync opens one: no symbolic
 * link followed, no wait for a named pipe's writer (O_NONBLOCK, which a regular file ignores).
 * Checked by `lstat` and then opened by name, a file swapped for a named pipe in between held the
 * open, and the mirror, until a writer came; opened so, it is refused by `fstat` instead.
 */
const NO_WAIT = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK

/**
 * The block file's bytes if it is a regular file of exactly `size` bytes, else undefined (a
 * missing file throws ENOENT, something else than a regular file DATA_FILE_NOT_REGULAR). The size
 * is the index's, not the file's: a damaged file far larger than its record (up to 2 GiB) was read
 * whole, into memory and, for a small block, on the event loop of `petal run` (review22).
 */
export function readExactSync (path: string, size: number): Buffer | undefined {
  const { fd, size: actual } = openDataFileSync(path, 'block file')
  try {
    if (actual !== size) return undefined
    const buf = Buffer.allocUnsafe(size)
    return readFullySync(fd, buf, size, 0) === size ? buf : undefined
  } finally {
    closeSync(fd)
  }
}

/** readExactSync on the thread pool (open, fstat, read, close: the round trips of a readFile). */
export async function readExact (path: string, size: number): Promise<Buffer | undefined> {
  const fd = await fsAsync().open(path, NO_WAIT)
  try {
    const st = await fsAsync().fstat(fd)
    if (!st.isFile() || st.size !== size) return undefined
    const buf = Buffer.allocUnsafe(size)
    let got = 0
    while (got < size) {
      const { bytesRead: n } = await fsAsync().read(fd, buf, got, size - got, got)
      if (n === 0) return undefined
      got += n
    }
    return buf
  } finally {
    await fsAsync().close(fd)
  }
}

/**
 * Copy the block file at `path` to `to` (a reflink where the file system has them), if it is a
 * regular file (else false, nothing copied). The copy reads the file this opened, through
 * /proc/self/fd, so a named pipe swapped in after the check is not what copyFile opens (and waits
 * on); without /proc, the path itself.
 */
export async function copyRegular (path: string, to: string): Promise<boolean> {
  const fd = await fsAsync().open(path, NO_WAIT)
  try {
    const st = await fsAsync().fstat(fd)
    if (!st.isFile()) return false
    // The same file, not whatever a /proc that is not procfs holds at that name (stat opens nothing).
    const own = `/proc/self/fd/${fd}`
    const from = await fsAsync().stat(own).then(s => s.dev === st.dev && s.ino === st.ino ? own : path, () => path)
    await copyFile(from, to, constants.COPYFILE_FICLONE)
    return true
  } finally {
    await fsAsync().close(fd)
  }
}
