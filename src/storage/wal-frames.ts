import { closeSync, fstatSync, openSync, readSync, writeSync } from 'node:fs'
import { endianness } from 'node:os'

/**
 * The -wal file as SQLite's recovery would read it (sqlite3.c, walIndexRecover), compared with what
 * the wal-index (-shm) says is committed. A checkpoint copies the frames the wal-index names and
 * checks no checksum: a frame whose write-back failed (an fsync's EIO, its page then evicted) is
 * read back as the disk has it and copied into the database, where nothing guards it any more.
 * Recovery reads the log from its start and stops at the first frame whose salts or cumulative
 * checksum do not match: the commits before it are the log; what follows was never written.
 * docs/data-directory.md, "A log that no longer reads as written".
 */

const WAL_HEADER = 32
const FRAME_HEADER = 24
// The wal-index header, first copy (native byte order): isInit at 12, mxFrame at 16.
const SHM_IS_INIT = 12
const SHM_MX_FRAME = 16

export interface WalReading {
  /** frames the wal-index says are committed (its mxFrame) */
  indexed: number
  /** the last commit frame recovery would reach from the start of the log (0: none) */
  readable: number
}

/**
 * How far the log at `path` (a WAL database's main file) reads as written, against its wal-index.
 * Undefined when there is no wal-index or no log to compare (nothing a checkpoint could copy).
 */
export function readWal (path: string): WalReading | undefined {
  const shm = readAt(`${path}-shm`, 0, 48)
  if (shm === undefined || shm.length < 48 || shm[SHM_IS_INIT] === 0) return undefined
  const indexed = endianness() === 'LE' ? shm.readUInt32LE(SHM_MX_FRAME) : shm.readUInt32BE(SHM_MX_FRAME)
  if (indexed === 0) return { indexed, readable: 0 }
  return { indexed, readable: readableCommits(`${path}-wal`, indexed) }
}

/** The last commit frame (1-based) of the valid prefix of the log, reading at most `upTo` frames. */
function readableCommits (wal: string, upTo: number): number {
  let fd: number
  try { fd = openSync(wal, 'r') } catch { return 0 }
  try {
    const size = fstatSync(fd).size
    const head = Buffer.alloc(WAL_HEADER)
    if (readSync(fd, head, 0, WAL_HEADER, 0) !== WAL_HEADER) return 0
    const magic = head.readUInt32BE(0)
    if ((magic & 0xfffffffe) !== 0x377f0682 || head.readUInt32BE(4) !== 3007000) return 0
    const big = (magic & 1) === 1
    const pageSize = head.readUInt32BE(8) === 1 ? 65536 : head.readUInt32BE(8)
    if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) return 0
    let s = checksum(head.subarray(0, 24), big, [0, 0])
    if (s[0] !== head.readUInt32BE(24) || s[1] !== head.readUInt32BE(28)) return 0
    const salt1 = head.readUInt32BE(16)
    const salt2 = head.readUInt32BE(20)
    const frame = Buffer.alloc(FRAME_HEADER + pageSize)
    let commit = 0
    for (let i = 1; i <= upTo; i++) {
      const at = WAL_HEADER + (i - 1) * frame.length
      if (at + frame.length > size || readSync(fd, frame, 0, frame.length, at) !== frame.length) break
      if (frame.readUInt32BE(0) === 0 || frame.readUInt32BE(8) !== salt1 || frame.readUInt32BE(12) !== salt2) break
      s = checksum(frame.subarray(0, 8), big, s)
      s = checksum(frame.subarray(FRAME_HEADER), big, s)
      if (s[0] !== frame.readUInt32BE(16) || s[1] !== frame.readUInt32BE(20)) break
      if (frame.readUInt32BE(4) !== 0) commit = i
    }
    return commit
  } finally {
    closeSync(fd)
  }
}

/** SQLite's WAL checksum (walChecksumBytes) of `b`, continuing from `s`. */
function checksum (b: Buffer, big: boolean, s: readonly [number, number]): [number, number] {
  let s1 = s[0]
  let s2 = s[1]
  for (let i = 0; i < b.length; i += 8) {
    s1 = (s1 + (big ? b.readUInt32BE(i) : b.readUInt32LE(i)) + s2) >>> 0
    s2 = (s2 + (big ? b.readUInt32BE(i + 4) : b.readUInt32LE(i + 4)) + s1) >>> 0
  }
  return [s1, s2]
}

/**
 * Mark the wal-index header of `path` as not initialised, so that the next transaction of any
 * connection rebuilds the wal-index from the log, as the first open after a crash does
 * (walIndexReadHdr: a header whose isInit is 0 is taken as torn, and recovered under the write
 * lock). The caller holds SQLite's write lock, so no commit is writing the header meanwhile.
 */
export function forgetWalIndex (path: string): void {
  const fd = openSync(`${path}-shm`, 'r+')
  try {
    writeSync(fd, Buffer.of(0), 0, 1, SHM_IS_INIT)
  } finally {
    closeSync(fd)
  }
}

function readAt (file: string, at: number, n: number): Buffer | undefined {
  let fd: number
  try { fd = openSync(file, 'r') } catch { return undefined }
  try {
    const b = Buffer.alloc(n)
    return b.subarray(0, readSync(fd, b, 0, n, at))
  } finally {
    closeSync(fd)
  }
}
