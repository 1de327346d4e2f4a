import { closeSync, constants, fstatSync, lstatSync, openSync, type Stats } from 'node:fs'
import { isNotFound, readFullySync, shellWord } from '../util/index.js'
import { StorageError } from './errors.js'

/** What a non-regular file is, in words. */
export function fileKind (st: Stats): string {
  if (st.isSymbolicLink()) return 'a symbolic link'
  if (st.isDirectory()) return 'a directory'
  if (st.isFIFO()) return 'a named pipe (FIFO)'
  if (st.isCharacterDevice()) return 'a character device'
  if (st.isBlockDevice()) return 'a block device'
  if (st.isSocket()) return 'a socket'
  return 'not a regular file'
}

/**
 * Check that a file of the data directory is a regular file before anything opens it: `lstat`
 * never blocks, while opening a named pipe waits for a writer for ever, and a symbolic link would
 * let a block slot or a key file point anywhere. Throws DATA_FILE_NOT_REGULAR naming the path;
 * a missing file passes through as the `ENOENT` error `lstat` raised, for the caller to handle.
 */
export function checkDataFile (path: string, what: string): void {
  const st = lstatSync(path)
  if (st.isFile()) return
  throw notRegular(path, what, st)
}

export function notRegular (path: string, what: string, st: Stats): StorageError {
  return new StorageError('DATA_FILE_NOT_REGULAR', `${what} ${path} is ${fileKind(st)}, not a regular file`, {
    hint: what === 'lock file'
      ? lockHint(path, st)
      : `move it out of the way and put the real file there (${what.includes('block') || what.includes('seal') ? '`petal verify` checks the block files' : 'nothing in a data directory is a link, a pipe or a device'})`,
    details: { path }
  })
}

/**
 * A lock file (node.lock, seal.lock, witnesses.lock …) holds nothing: Petal makes it, empty, when
 * it is not there, so there is no "real file" to put back (the hint every data file got said to).
 * What is in its place goes: a link, a pipe, a device or a socket is removed (a link's target is
 * left as it is); a directory, which may hold someone's files, is moved aside.
 */
function lockHint (path: string, st: Stats): string {
  const p = shellWord(path)
  const command = st.isDirectory() ? `mv ${p} ${shellWord(`${path}.moved`)}` : `rm ${p}`
  return `${st.isDirectory() ? 'move it aside' : 'remove it'} (\`${command}\`), then run the command again: a lock file holds nothing, and Petal makes it anew, empty (nothing in a data directory is a link, a pipe or a device)`
}

/**
 * checkDataFile and open in one, for hot paths (plain verify paid an `lstat` before opening each
 * block file and each seal): the file is opened for reading without following a symbolic link
 * and without waiting for a named pipe's writer (O_NOFOLLOW | O_NONBLOCK, which a regular file
 * ignores), then refused unless `fstat` says it is a regular file, with checkDataFile's error. A
 * device node (only root makes one) is opened before it is refused. Returns the descriptor, for
 * the caller to close, and the file's size; a missing file throws `ENOENT` as checkDataFile does.
 */
export function openDataFileSync (path: string, what: string): { fd: number, size: number } {
  const fd = openNoFollowSync(path, what)
  try {
    return { fd, size: regularSizeSync(fd, path, what) }
  } catch (err) {
    closeSync(fd)
    throw err
  }
}

/**
 * The open of openDataFileSync alone: a symbolic link or a socket is refused with checkDataFile's
 * error, a missing file throws `ENOENT`; a named pipe opens without waiting for a writer. The
 * caller must read it only by position (`pread` fails on a pipe) and call regularSizeSync before
 * trusting anything but a whole read (readWholeSync).
 */
export function openNoFollowSync (path: string, what: string): number {
  try {
    return openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  } catch (err) {
    // A symbolic link (ELOOP), a socket (ENXIO): checkDataFile names what it is.
    if (!isNotFound(err)) checkDataFile(path, what)
    throw err
  }
}

/** The size of the open file `fd` if `fstat` says it is a regular file, else checkDataFile's error (the caller closes `fd`). */
export function regularSizeSync (fd: number, path: string, what: string): number {
  const st = fstatSync(fd)
  if (st.isFile()) return st.size
  throw notRegular(path, what, st)
}

/**
 * Read the file open as `fd` (openNoFollowSync) into `buf` from its start, by position and
 * without `fstat`: the bytes read (up to buf.length), or -1 if a read failed. When 0 < n <
 * buf.length the file ended there and `buf` holds all of it, as openDataFileSync's size would
 * have said; otherwise (empty, as large as `buf` or larger, a failed read) the caller takes the
 * `fstat` way (regularSizeSync), which decides as before. Plain verify's per-file `fstat` built a
 * `Stats` with four `Date`s (Node 20), a fifth of what its workers allocated per block, and kept
 * the optimising compiler busy with it in every worker (docs/performance/verify.md, "Session 17: plain
 * verify"). A named pipe fails here (`pread` on a pipe is ESPIPE), a directory too (EISDIR), a
 * character device that never ends fills `buf`: each then goes the `fstat` way and is refused as
 * before. Only a device that ends after fewer bytes than `buf` holds (a block device that small;
 * only root makes one in a data directory) is read as a file would be.
 */
export function readWholeSync (fd: number, buf: Uint8Array): number {
  try {
    // readFullySync stops short of buf.length only at the end of the file (a read of 0 bytes).
    return readFullySync(fd, buf, buf.length, 0)
  } catch {
    return -1
  }
}

/** checkDataFile for a file that may be absent: false when it does not exist. */
export function dataFileExists (path: string, what: string): boolean {
  try {
    checkDataFile(path, what)
    return true
  } catch (err) {
    if (isNotFound(err)) return false
    throw err
  }
}
