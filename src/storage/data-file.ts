import { lstatSync, type Stats } from 'node:fs'
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
  throw new StorageError('DATA_FILE_NOT_REGULAR', `${what} ${path} is ${fileKind(st)}, not a regular file`, {
    hint: `move it out of the way and put the real file there (${what.includes('block') || what.includes('seal') ? '`petal verify` checks the block files' : 'nothing in a data directory is a link, a pipe or a device'})`,
    details: { path }
  })
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
