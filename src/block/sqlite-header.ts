import { closeSync, fstatSync, openSync, readSync } from 'node:fs'
import { BlockError, checkRegularInput } from './errors.js'
import { errorCode } from '../util/index.js'

/** What the 100-byte SQLite header says about a file, checked before SQLite ever opens it. */
export interface SqliteHeader {
  pageSize: number
  pageCount: number
  /** 1 = rollback journal, 2 = WAL */
  writeVersion: number
  readVersion: number
  textEncoding: number
  userVersion: number
  sqliteVersion: number
}

const MAGIC = Buffer.from('SQLite format 3\0', 'latin1')

export interface HeaderCheckOptions {
  /**
   * The file is a user's input to `signimportblock`, not a block: an empty (0-byte) file and a
   * database whose text encoding is not chosen yet (no schema) are valid empty databases.
   */
  input?: boolean
}

/**
 * Check the header of an untrusted file: magic, a legal page size, not WAL, standard payload
 * fractions, and a page count that matches the file length. Throws BlockError.
 */
export function parseSqliteHeader (h: Uint8Array, fileSize: number, o: HeaderCheckOptions = {}): SqliteHeader {
  // Read byte by byte rather than through a Buffer's methods: plain verify parses a header per
  // block, and Buffer's readers inlined Node's bounds checks into each worker's optimised code.
  if (h.length < 100 || !hasMagic(h)) {
    throw new BlockError('NOT_SQLITE', 'not an SQLite 3 database (bad header magic)', { hint: 'a block must be an SQLite 3 database file' })
  }
  const raw = u16(h, 16)
  const pageSize = raw === 1 ? 65536 : raw
  if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) {
    throw new BlockError('NOT_SQLITE', `invalid page size ${raw} in SQLite header`)
  }
  const writeVersion = h[18] ?? 0
  const readVersion = h[19] ?? 0
  if (writeVersion === 2 || readVersion === 2) {
    throw new BlockError('WAL_MODE', 'the database is in WAL journal mode', {
      hint: "switch it to a rollback journal first: sqlite3 FILE 'PRAGMA journal_mode=DELETE'"
    })
  }
  if (writeVersion !== 1 || readVersion !== 1) throw new BlockError('NOT_SQLITE', `unsupported file format version ${writeVersion}/${readVersion}`)
  if (h[21] !== 64 || h[22] !== 32 || h[23] !== 32) throw new BlockError('NOT_SQLITE', 'non-standard payload fractions in SQLite header')
  if (h[20] !== 0) throw new BlockError('NOT_SQLITE', 'reserved bytes per page must be 0 (no encryption or checksum extensions)')
  const textEncoding = u32(h, 56)
  // 0 = not chosen yet: a database with no schema at all (a user's empty input file, never a block).
  if ((textEncoding === 0 && o.input !== true) || textEncoding > 3) throw new BlockError('NOT_SQLITE', `invalid text encoding ${textEncoding}`)
  const pageCount = u32(h, 28)
  // The in-header size is authoritative only when "version-valid-for" matches the change counter.
  const sizeValid = u32(h, 92) === u32(h, 24) && pageCount > 0
  if (fileSize % pageSize !== 0 || (sizeValid && pageCount * pageSize !== fileSize)) {
    throw new BlockError('CORRUPT', `file length ${fileSize} does not match ${pageCount} pages of ${pageSize} bytes`, { hint: 'the file is truncated or was copied while being written' })
  }
  return { pageSize, pageCount: fileSize / pageSize, writeVersion, readVersion, textEncoding, userVersion: u32(h, 60), sqliteVersion: u32(h, 96) }
}

function hasMagic (h: Uint8Array): boolean {
  for (let i = 0; i < MAGIC.length; i++) if (h[i] !== MAGIC[i]) return false
  return true
}

/** Big-endian unsigned integers of the header (the caller has checked its 100 bytes are there). */
function u16 (h: Uint8Array, at: number): number {
  return ((h[at] ?? 0) << 8) | (h[at + 1] ?? 0)
}
function u32 (h: Uint8Array, at: number): number {
  return (h[at] ?? 0) * 0x1000000 + (((h[at + 1] ?? 0) << 16) | ((h[at + 2] ?? 0) << 8) | (h[at + 3] ?? 0))
}

/** checkSqliteFileSync behind an async signature (the callers are async paths). */
export async function checkSqliteFile (path: string, maxBytes: number, o: HeaderCheckOptions = {}): Promise<SqliteHeader & { size: number }> {
  return checkSqliteFileSync(path, maxBytes, o)
}

/**
 * Read and check a file's header, and its size against `maxBytes`. Synchronous on purpose: it is a
 * 100-byte read, and the SQLite work that follows blocks anyway.
 */
export function checkSqliteFileSync (path: string, maxBytes: number, o: HeaderCheckOptions = {}): SqliteHeader & { size: number } {
  checkRegularInput(path, o.input === true ? 'input' : 'block file')
  let fd: number
  try {
    fd = openSync(path, 'r')
  } catch (err) {
    if (errorCode(err) === 'ENOENT') throw new BlockError('FILE_NOT_FOUND', `no such file: ${path}`, { hint: 'check the path' })
    throw err
  }
  try {
    const st = fstatSync(fd)
    if (st.isDirectory()) throw new BlockError('NOT_SQLITE', `${path} is a directory`)
    checkSize(st.size, maxBytes)
    if (st.size === 0 && o.input === true) return { pageSize: 0, pageCount: 0, writeVersion: 1, readVersion: 1, textEncoding: 0, userVersion: 0, sqliteVersion: 0, size: 0 }
    const buf = Buffer.alloc(100)
    const n = readSync(fd, buf, 0, 100, 0)
    return { ...parseSqliteHeader(buf.subarray(0, n), st.size, o), size: st.size }
  } finally {
    closeSync(fd)
  }
}

function checkSize (size: number, maxBytes: number): void {
  if (!Number.isFinite(maxBytes) || size > maxBytes) {
    throw new BlockError('BLOCK_TOO_LARGE', `block is ${size} bytes; this chain allows at most ${maxBytes}`, { details: { size, maxBytes }, hint: 'split the data over several blocks' })
  }
}

/**
 * checkSqliteFileSync of a block file the caller has read from a regular file it opened: the same
 * size and header checks on `data` (the whole file, or its first bytes and the file's `size`),
 * without opening the file again.
 */
export function checkSqliteBytes (data: Uint8Array, maxBytes: number, size = data.length): SqliteHeader & { size: number } {
  checkSize(size, maxBytes)
  // Object.assign, not a spread: plain verify does this per block, and a spread copies slowly.
  // The parser reads only the first 100 bytes (and refuses fewer): no view of them is needed.
  return Object.assign(parseSqliteHeader(data, size), { size })
}
