import { describe, expect, it } from 'vitest'
import Database from 'better-sqlite3'
import { statSync } from 'node:fs'
import { rewriteLog, StorageError } from '../../../src/storage/index.js'
import { readableCommits } from '../../../src/storage/wal-frames.js'
import { walIndexFrames } from '../../../src/storage/wal-index.js'
import { nativeWalIndexBuilt } from '../../helpers/native-build.js'
import { loseLastFrame, walDb } from '../../helpers/wal-db.js'

/**
 * A checkpoint copies what the wal-index names and checks no checksum: a frame whose write to the
 * disk was lost (an fsync's EIO, its page then evicted and read back as the disk has it) went into
 * the database, and the log that showed it was truncated (mend37). Here the last commit's frame is
 * overwritten behind SQLite, as a lost write leaves it; rewriteLog then copies only what SQLite's
 * recovery reads from the disk, and says the commit after it was dropped.
 */

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
