import { describe, expect, it } from 'vitest'
import Database from 'better-sqlite3'
import { closeSync, openSync, statSync, writeSync } from 'node:fs'
import { rewriteLog } from '../../../src/storage/index.js'
import { nativeWalIndexBuilt } from '../../helpers/native-build.js'
import { walDb } from '../../helpers/wal-db.js'

/**
 * review39: the check before a re-write (rewriteLog) must not rebuild the wal-index when the frame
 * that no longer reads as written is one a checkpoint already copied into the database (at or
 * below the wal-index's nBackfill). Recovery would then end the log before it, and the TRUNCATE
 * checkpoint would copy the older versions of its pages back over the database: commits the
 * database already holds, and every commit after them (acknowledged: their own fsyncs succeeded),
 * dropped. Here a checkpoint copies the whole log while a reader keeps it from being restarted, a
 * commit follows, and then the page of a frame below it is overwritten behind SQLite, as a write
 * the disk lost after the copy leaves it.
 */

/** Overwrite the page of frame `frame` (1-based) of the log behind SQLite. */
function loseFrame (path: string, frame: number): void {
  const fd = openSync(`${path}-wal`, 'r+')
  try {
    writeSync(fd, Buffer.alloc(4096, 0x5a), 0, 4096, 32 + (frame - 1) * (24 + 4096) + 24)
  } finally {
    closeSync(fd)
  }
}

const framesOf = (path: string): number => (statSync(`${path}-wal`).size - 32) / (24 + 4096)

describe.runIf(nativeWalIndexBuilt())('rewriteLog and frames already copied into the database', () => {
  it('a lost frame below nBackfill: no commit is dropped, the log is copied whole', () => {
    const { db, path } = walDb()
    // A reader of another connection keeps the log from restarting after the checkpoint.
    const reader = new Database(path, { readonly: true })
    reader.exec('BEGIN')
    reader.prepare('SELECT count(*) FROM t').get()
    const [ckpt] = db.pragma('wal_checkpoint(PASSIVE)') as Array<{ busy: number, log: number, checkpointed: number }>
    expect(ckpt?.checkpointed).toBe(ckpt?.log) // every frame copied (and the database synced)
    const copied = framesOf(path)
    db.prepare('INSERT INTO t (v) VALUES (?)').run('d') // after the copied frames, in the same log
    expect(framesOf(path)).toBeGreaterThan(copied)
    reader.exec('COMMIT')
    reader.close()
    loseFrame(path, copied) // the last commit the checkpoint copied ('c')
    expect(rewriteLog(db)).toBe(true)
    expect(db.pragma('quick_check', { simple: true })).toBe('ok')
    expect(db.prepare('SELECT v FROM t ORDER BY id').pluck().all()).toEqual(['a', 'b', 'c', 'd'])
    db.close()
    const again = new Database(path, { readonly: true })
    expect(again.prepare('SELECT v FROM t ORDER BY id').pluck().all()).toEqual(['a', 'b', 'c', 'd'])
    again.close()
  })
})
