import { closeSync, fstatSync, openSync, readSync } from 'node:fs'
import { isNotFound } from '../util/index.js'

/**
 * The -wal file as SQLite's recovery would read it (sqlite3.c, walIndexRecover), to compare with
 * what the wal-index says is committed (wal-index.ts). A checkpoint copies the frames the
 * wal-index names and checks no checksum: a frame whose write-back failed (an fsync's EIO, its
 * page then evicted) is read back as the disk has it and copied into the database, where nothing
 * guards it any more. Recovery reads the log from its start and stops at the first frame whose
 * salts or cumulative checksum do not match: the commits before it are the log; what follows was
 * never written. docs/data-directory.md, "A log that no longer reads as written".
 *
 * Read through a descriptor of its own, opened and closed here: SQLite takes no lock on a -wal
 * (its locks are on the database file and on the -shm, never through the -wal's descriptor), so
 * the close drops none of SQLite's locks, unlike a close of the -shm's (the revert of 989d6f3).
 */

const WAL_HEADER = 32
const FRAME_HEADER = 24

/**
 * The last commit frame (1-based) of the valid prefix of the log `wal`, reading at most `upTo`
 * frames; 0: none (no log). A log this process cannot open (EMFILE, EACCES) is thrown, not read
 * as empty: the caller would rebuild the wal-index for nothing and report every commit dropped.
 */
export function readableCommits (wal: string, upTo: number): number {
  let fd: number
  try { fd = openSync(wal, 'r') } catch (err) { if (isNotFound(err)) return 0; throw err }
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
