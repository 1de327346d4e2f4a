import { describe, expect, it } from 'vitest'
import Database from 'better-sqlite3'
import { copyFileSync, readFileSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { READ_BYTES, readableCommits } from '../../../src/storage/wal-frames.js'
import { tmpDir } from '../../helpers/tmp.js'

/**
 * readableCommits reads the log in reads of many whole frames and sums words of a Uint32Array
 * view (session 45). Its answer is checked against SQLite's own recovery (a copy of the database
 * and the log opened afresh: `PRAGMA wal_checkpoint` gives the log's frame count as recovery
 * rebuilt it), on logs damaged around read boundaries, torn, with a changed salt, and sealed with
 * the big-endian checksum flag.
 */

const FRAME = 24 + 4096

/** A WAL database whose never-checkpointed log holds `commits` commits of one or two frames each, past one READ_BYTES. */
function bigLog (commits = 90, pageSize = 4096): { db: string, wal: Buffer, frames: number } {
  const db = join(tmpDir(), 'big.db')
  const d = new Database(db)
  d.pragma(`page_size = ${pageSize}`)
  d.pragma('journal_mode = WAL')
  d.pragma('wal_autocheckpoint = 0')
  d.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB)')
  for (let i = 0; i < commits; i++) d.prepare('INSERT INTO t (b) VALUES (?)').run(Buffer.alloc(1500 + (i % 3) * 1000, i))
  const wal = readFileSync(`${db}-wal`)
  // Copied before the close, which would checkpoint the log away.
  const saved = Buffer.from(wal)
  d.close()
  return { db, wal: saved, frames: (saved.length - 32) / (24 + pageSize) }
}

/** The last commit frame SQLite's recovery finds in `wal` beside a copy of the database. */
function sqliteReads (db: string, wal: Buffer): number {
  const dir = tmpDir()
  const copy = join(dir, 'c.db')
  // The database holds the log's pages already (the close checkpointed them): recovery reads the log alone.
  copyFileSync(db, copy)
  writeFileSync(`${copy}-wal`, wal)
  const d = new Database(copy)
  try {
    const [r] = d.pragma('wal_checkpoint(PASSIVE)') as Array<{ log: number }>
    return r?.log ?? -1
  } finally {
    d.close()
  }
}

/** `wal` with its checksums made again in the given byte order (the magic's low bit), as a writer of that order seals it. */
function reseal (wal: Buffer, big: boolean, frame = FRAME): Buffer {
  const FRAME = frame
  const b = Buffer.from(wal)
  b.writeUInt32BE(big ? 0x377f0683 : 0x377f0682, 0)
  const word = (i: number): number => big ? b.readUInt32BE(i) : b.readUInt32LE(i)
  let s1 = 0
  let s2 = 0
  const sum = (from: number, to: number): void => {
    for (let i = from; i < to; i += 8) {
      s1 = (s1 + word(i) + s2) >>> 0
      s2 = (s2 + word(i + 4) + s1) >>> 0
    }
  }
  sum(0, 24)
  b.writeUInt32BE(s1, 24); b.writeUInt32BE(s2, 28)
  for (let at = 32; at + FRAME <= b.length; at += FRAME) {
    sum(at, at + 8); sum(at + 24, at + FRAME)
    b.writeUInt32BE(s1, at + 16); b.writeUInt32BE(s2, at + 20)
  }
  return b
}

function flip (b: Buffer, at: number, bits: number): void {
  b.writeUInt8(b.readUInt8(at) ^ bits, at)
}

function written (dir: string, wal: Buffer): string {
  const f = join(dir, 'x.db-wal')
  writeFileSync(f, wal)
  return f
}

/** readableCommits of `wal` in reads of one frame, of three, and of READ_BYTES: one answer. */
function readEveryWay (wal: Buffer, upTo = 1e9): number {
  const f = written(tmpDir(), wal)
  const answers = [FRAME, 3 * FRAME + 100, READ_BYTES].map(r => readableCommits(f, upTo, r))
  expect(new Set(answers).size).toBe(1)
  return answers[0] as number
}

describe('readableCommits against SQLite recovery', () => {
  const { db, wal, frames } = bigLog()
  const per = Math.floor(READ_BYTES / FRAME)

  it('a whole log longer than one read: its last frame is a commit, as SQLite reads it', () => {
    expect(frames * FRAME).toBeGreaterThan(READ_BYTES)
    expect(readEveryWay(wal)).toBe(frames)
    expect(sqliteReads(db, wal)).toBe(frames)
  })

  it('a damaged page just before, at and after a read boundary stops the log where SQLite stops it', () => {
    for (const k of [2, 3, 4, per - 1, per, per + 1, frames]) {
      const b = Buffer.from(wal)
      flip(b, 32 + (k - 1) * FRAME + 24 + 1000, 0x01)
      const r = readEveryWay(b)
      expect(r).toBeLessThan(k)
      expect(r).toBe(sqliteReads(db, b))
    }
  })

  it('a torn last frame (the file ends inside it) is not read; the commits before it are', () => {
    for (const cut of [1, 24, 2000, FRAME - 8]) {
      const b = wal.subarray(0, wal.length - cut)
      const r = readEveryWay(b)
      expect(r).toBeLessThan(frames)
      expect(r).toBe(sqliteReads(db, b))
    }
    const f = written(tmpDir(), wal)
    truncateSync(f, 32 + per * FRAME + 10)
    expect(readableCommits(f, 1e9)).toBe(readableCommits(f, 1e9, FRAME))
  })

  it('a frame whose salt changed (a log restarted over an older one) ends the log there', () => {
    for (const k of [per, per + 1, frames - 1]) {
      for (const off of [8, 12]) {
        const b = Buffer.from(wal)
        b.writeUInt32BE((b.readUInt32BE(32 + (k - 1) * FRAME + off) + 1) >>> 0, 32 + (k - 1) * FRAME + off)
        const r = readEveryWay(b)
        expect(r).toBeLessThan(k)
        expect(r).toBe(sqliteReads(db, b))
      }
    }
  })

  it('a log sealed with the big-endian checksum flag reads whole, and stops at a damaged frame, as SQLite reads it', () => {
    const big = reseal(wal, true)
    expect(big.equals(wal)).toBe(false)
    expect(readEveryWay(big)).toBe(frames)
    expect(sqliteReads(db, big)).toBe(frames)
    // The same log sealed little-endian again is the one SQLite wrote.
    expect(reseal(big, false).equals(wal)).toBe(true)
    // Read with the wrong order (the flag flipped, checksums kept), nothing reads.
    const flipped = Buffer.from(big)
    flipped.writeUInt32BE(0x377f0682, 0)
    expect(readEveryWay(flipped)).toBe(0)
    const b = Buffer.from(big)
    flip(b, 32 + per * FRAME + 24 + 7, 0x80)
    const r = readEveryWay(b)
    expect(r).toBeLessThan(per + 1)
    expect(r).toBe(sqliteReads(db, b))
  })

  it('reads no further than upTo', () => {
    for (const upTo of [1, per - 1, per, per + 1, frames - 1]) {
      const r = readEveryWay(wal, upTo)
      expect(r).toBeLessThanOrEqual(upTo)
      expect(r).toBeGreaterThan(upTo - 3)
    }
  })
})

// review46: the largest page size, and a header that names one SQLite's recovery refuses.
describe('readableCommits of 65,536-byte pages against SQLite recovery', () => {
  const PAGE = 65536
  const BIG = 24 + PAGE
  const { db, wal, frames } = bigLog(12, PAGE)
  const ways = (b: Buffer, upTo = 1e9): number[] => {
    const f = written(tmpDir(), b)
    // One frame a read, three frames and a part, READ_BYTES (three frames of this size), the whole log.
    return [BIG, 3 * BIG + 100, READ_BYTES, b.length].map(r => readableCommits(f, upTo, r))
  }

  it('a log of 65,536-byte pages (the header says 65536) reads whole, torn and damaged as SQLite reads it', () => {
    expect(wal.readUInt32BE(8)).toBe(PAGE)
    expect(frames).toBeGreaterThan(4)
    expect(ways(wal)).toEqual(Array(4).fill(frames))
    expect(sqliteReads(db, wal)).toBe(frames)
    for (const k of [2, 3, 4, frames]) {
      const b = Buffer.from(wal)
      flip(b, 32 + (k - 1) * BIG + 24 + PAGE - 1, 0x10)
      const r = sqliteReads(db, b)
      expect(r).toBeLessThan(k)
      expect(ways(b)).toEqual(Array(4).fill(r))
    }
    const torn = wal.subarray(0, wal.length - 5000)
    expect(ways(torn)).toEqual(Array(4).fill(sqliteReads(db, torn)))
    const big = reseal(wal, true, BIG)
    expect(ways(big)).toEqual(Array(4).fill(frames))
    expect(sqliteReads(db, big)).toBe(frames)
  })

  it('a header whose page size is 1 (65,536 in a database header, never in a log\'s) is no log, as for SQLite', () => {
    const b = Buffer.from(wal)
    b.writeUInt32BE(1, 8)
    const one = reseal(b, false, BIG)
    expect(sqliteReads(db, one)).toBe(0)
    expect(ways(one)).toEqual([0, 0, 0, 0])
  })
})
