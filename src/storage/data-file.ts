import { closeSync, constants, fstatSync, lstatSync, openSync, type Stats } from 'node:fs'
import { isNotFound } from '../util/index.js'
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

function notRegular (path: string, what: string, st: Stats): StorageError {
  return new StorageError('DATA_FILE_NOT_REGULAR', `${what} ${path} is ${fileKind(st)}, not a regular file`, {
    hint: `move it out of the way and put the real file there (${what.includes('block') || what.includes('seal') ? '`petal verify` checks the block files' : 'nothing in a data directory is a link, a pipe or a device'})`,
    details: { path }
  })
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
  let fd: number
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  } catch (err) {
    // A symbolic link (ELOOP), a socket (ENXIO): checkDataFile names what it is.
    if (!isNotFound(err)) checkDataFile(path, what)
    throw err
  }
  let st: Stats
  try {
    st = fstatSync(fd)
  } catch (err) {
    closeSync(fd)
    throw err
  }
  if (st.isFile()) return { fd, size: st.size }
  closeSync(fd)
  throw notRegular(path, what, st)
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
