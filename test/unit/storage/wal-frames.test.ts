import { describe, expect, it } from 'vitest'
import Database from 'better-sqlite3'
import { closeSync, openSync, statSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { rewriteLog, StorageError } from '../../../src/storage/index.js'
import { readableCommits } from '../../../src/storage/wal-frames.js'
import { walIndexFrames } from '../../../src/storage/wal-index.js'
import { nativeWalIndexBuilt } from '../../helpers/native-build.js'
import { tmpDir } from '../../helpers/tmp.js'

/**
 * A checkpoint copies what the wal-index names and checks no checksum: a frame whose write to the
 * disk was lost (an fsync's EIO, its page then evicted and read back as the disk has it) went into
 * the database, and the log that showed it was truncated (mend37). Here the last commit's frame is
 * overwritten behind SQLite, as a lost write leaves it; rewriteLog then copies only what SQLite's
 * recovery reads from the disk, and says the commit after it was dropped.
 */
function walDb (): { db: Database.Database, path: string } {
  const path = join(tmpDir(), 'w.db')
  const db = new Database(path)
  db.pragma('journal_mode = WAL')
  db.pragma('wal_autocheckpoint = 0')
  db.pragma('synchronous = FULL')
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)')
  for (const v of ['a', 'b', 'c']) db.prepare('INSERT INTO t (v) VALUES (?)').run(v)
  return { db, path }
}

/** What the check compares: the wal-index's mxFrame (read through SQLite, under its write lock) and the log's last valid commit. */
function readWal (db: Database.Database, path: string): { indexed: number, readable: number } {
  db.exec('BEGIN IMMEDIATE')
  try {
    const indexed = walIndexFrames(db) ?? -1
    return { indexed, readable: readableCommits(`${path}-wal`, indexed) }
  } finally {
    db.exec('ROLLBACK')
  }
}

/** Overwrite the page of the log's last frame, as a write the disk lost leaves it. */
function loseLastFrame (path: string): void {
  const wal = `${path}-wal`
  const frames = (statSync(wal).size - 32) / (24 + 4096)
  const fd = openSync(wal, 'r+')
  try {
    writeSync(fd, Buffer.alloc(4096, 0x5a), 0, 4096, 32 + (frames - 1) * (24 + 4096) + 24)
  } finally {
    closeSync(fd)
  }
}

describe.runIf(nativeWalIndexBuilt())('rewriteLog copies only what recovery reads', () => {
  it('a log that reads as written is copied whole', () => {
    const { db, path } = walDb()
    const r = readWal(db, path)
    expect(r.indexed).toBeGreaterThan(0)
    expect(r.readable).toBe(r.indexed)
    expect(rewriteLog(db)).toBe(true)
    expect(db.prepare('SELECT v FROM t ORDER BY id').pluck().all()).toEqual(['a', 'b', 'c'])
    db.close()
  })

  it('a lost frame: the commit in it is dropped, the database reads whole, the error says so', () => {
    const { db, path } = walDb()
    loseLastFrame(path)
    const r = readWal(db, path)
    expect(r.readable).toBeLessThan(r.indexed)
    let err: unknown
    try { rewriteLog(db) } catch (e) { err = e }
    expect(err).toBeInstanceOf(StorageError)
    expect((err as StorageError).code).toBe('IO_ERROR')
    expect((err as StorageError).message).toMatch(/no longer reads as it was written/)
    expect(db.pragma('quick_check', { simple: true })).toBe('ok')
    expect(db.prepare('SELECT v FROM t ORDER BY id').pluck().all()).toEqual(['a', 'b'])
    expect(statSync(`${path}-wal`).size).toBe(0)
    db.close()
    const again = new Database(path, { readonly: true })
    expect(again.prepare('SELECT v FROM t ORDER BY id').pluck().all()).toEqual(['a', 'b'])
    again.close()
  })
})
