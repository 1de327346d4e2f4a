import { closeSync, fstatSync, openSync } from 'node:fs'
import { isNotFound, readFullySync } from '../util/index.js'

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

/** The log is read in whole frames, this many bytes or fewer a read (one frame at least): ~60 frames of 4 KiB pages. */
export const READ_BYTES = 256 * 1024

/** This machine's byte order: SQLite's checksum sums native words unless the log's magic says the other order. */
const HOST_BIG = new Uint8Array(new Uint32Array([1]).buffer)[0] === 0

/**
 * The last commit frame (1-based) of the valid prefix of the log `wal`, reading at most `upTo`
 * frames; 0: none (no log). A log this process cannot open (EMFILE, EACCES) is thrown, not read
 * as empty: the caller would rebuild the wal-index for nothing and report every commit dropped.
 * `readBytes` (tests) bounds each read, as READ_BYTES does.
 */
export function readableCommits (wal: string, upTo: number, readBytes = READ_BYTES): number {
  let fd: number
  try { fd = openSync(wal, 'r') } catch (err) { if (isNotFound(err)) return 0; throw err }
  try {
    const size = fstatSync(fd).size
    const head = Buffer.alloc(WAL_HEADER)
    if (readFullySync(fd, head, WAL_HEADER, 0) !== WAL_HEADER) return 0
    const magic = head.readUInt32BE(0)
    if ((magic & 0xfffffffe) !== 0x377f0682 || head.readUInt32BE(4) !== 3007000) return 0
    const swap = ((magic & 1) === 1) !== HOST_BIG
    // A log's header holds 65536 itself (walWriteHeader); 1 stands for it only in a database's
    // header, and recovery refuses it here as below 512 (review46: it was read as 65536).
    const pageSize = head.readUInt32BE(8)
    if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) return 0
    const s: Sums = new Uint32Array(2)
    checksum(words(head), 0, 6, swap, s)
    if (s[0] !== head.readUInt32BE(24) || s[1] !== head.readUInt32BE(28)) return 0
    const salt1 = head.readUInt32BE(16)
    const salt2 = head.readUInt32BE(20)
    const frameBytes = FRAME_HEADER + pageSize
    // Only whole frames count, as for recovery (a frame that ends past the end of the file stops it).
    const frames = Math.min(upTo, Math.floor((size - WAL_HEADER) / frameBytes))
    const per = Math.max(1, Math.floor(readBytes / frameBytes))
    // Frames are multiples of 8 bytes long, so every frame in the buffer starts on a word.
    const buf = Buffer.alloc(Math.min(per, Math.max(frames, 1)) * frameBytes)
    const w = words(buf)
    let commit = 0
    for (let first = 1; first <= frames; first += per) {
      const want = Math.min(per, frames - first + 1)
      const got = Math.floor(readFullySync(fd, buf, want * frameBytes, WAL_HEADER + (first - 1) * frameBytes) / frameBytes)
      for (let k = 0; k < got; k++) {
        const at = k * frameBytes
        if (buf.readUInt32BE(at) === 0 || buf.readUInt32BE(at + 8) !== salt1 || buf.readUInt32BE(at + 12) !== salt2) return commit
        checksum(w, at / 4, 2, swap, s)
        checksum(w, (at + FRAME_HEADER) / 4, pageSize / 4, swap, s)
        if (s[0] !== buf.readUInt32BE(at + 16) || s[1] !== buf.readUInt32BE(at + 20)) return commit
        if (buf.readUInt32BE(at + 4) !== 0) commit = first + k
      }
      if (got < want) break
    }
    return commit
  } finally {
    closeSync(fd)
  }
}

/**
 * The two running sums, unsigned. A typed array, whose map never changes: an array `[0, 0]` began
 * with small integers and turned to doubles at the first sum at or above 2^30, so checksum's
 * optimised code met the other map and was deoptimised
 * (docs/performance/catchup.md, "Session 50: the catch-up's last deoptimisations of Petal's code (catchup50)").
 */
type Sums = Uint32Array

/** `b` as 32-bit words in this machine's order (its offset is a multiple of 4: a Buffer.alloc's own memory). */
function words (b: Buffer): Int32Array {
  return new Int32Array(b.buffer, b.byteOffset, b.length >>> 2)
}

/**
 * SQLite's WAL checksum (walChecksumBytes) of the `count` words of `w` from word `from`
 * (`count` even), continuing from and into `s`; `swap`: the log's words are in the other byte order.
 * Summed as int32 (`| 0`: the same sums mod 2^32, kept in registers by V8; session 45 measured
 * ~4x less CPU than unsigned `>>> 0` sums), made unsigned for the comparison only at the end (by the store into `s`).
 */
function checksum (w: Int32Array, from: number, count: number, swap: boolean, s: Sums): void {
  let s1 = (s[0] as number) | 0
  let s2 = (s[1] as number) | 0
  const end = from + count
  if (swap) {
    for (let i = from; i < end; i += 2) {
      s1 = (s1 + bswap(w[i] as number) + s2) | 0
      s2 = (s2 + bswap(w[i + 1] as number) + s1) | 0
    }
  } else {
    for (let i = from; i < end; i += 2) {
      s1 = (s1 + (w[i] as number) + s2) | 0
      s2 = (s2 + (w[i + 1] as number) + s1) | 0
    }
  }
  s[0] = s1
  s[1] = s2
}

function bswap (x: number): number {
  return (x << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24)
}
