import type Database from 'better-sqlite3'
import { statSync } from 'node:fs'
import { errorCode } from '../util/index.js'
import { beginImmediate, copyHoldingLock } from './wal-locked-copy.js'
import { lastCommitFrames, walCheckLoaded } from './wal-index.js'
import { readLog, type LogReading } from './wal-reading.js'

/**
 * Petal's checkpoints of chain.db and pending.db, in place of SQLite's own: the wal-index
 * extension (wal-index.ts) turns off the automatic checkpoint after a commit and the one at
 * close, which copy whatever the wal-index names, a frame whose write the disk lost included
 * (docs/data-directory.md, "A log that no longer reads as written"). Each one here first reads the
 * log as SQLite's recovery would, under the write lock, and copies nothing when it does not read
 * as written up to what the wal-index says is committed: the frames stay in the log, and the
 * re-write of whoever's fsync failed (rewriteLog, which drops them and says so) deals with them,
 * or, when that writer is gone, the committer (commitWal's dropOrphanedLoss) or the next first
 * opener's recovery. A log left so grows until then; nothing acknowledged is copied unchecked.
 */

/** SQLite's default automatic checkpoint threshold, kept: a log of ~4 MiB at 4 KiB pages. */
export const CHECKPOINT_FRAMES = 1000

/** When a checkpoint left frames in the log (readers, a writer, a log that does not read as written), the next try waits for this many more frames. */
const RETRY_FRAMES = 250

// Per connection: the log's frame count at which its next checkpoint is due.
const dueAt = new WeakMap<Database.Database, number>()

/**
 * After a commit on `db` (commitWal): a checked PASSIVE checkpoint once the log holds
 * CHECKPOINT_FRAMES frames, as SQLite's automatic one did, never waiting (busy 0: another writer
 * or checkpointer makes it try again later). Its failures are SQLite's own automatic checkpoint's
 * (a copy cut short leaves the frames in the log, nothing is lost: docs/data-directory.md), so
 * they do not reach the committer, whose commit is made. True when it copied nothing because the
 * log does not read as written (commitWal may then drop the loss: dropOrphanedLoss).
 */
export function checkpointIfDue (db: Database.Database): boolean {
  if (!walCheckLoaded(db) || db.inTransaction) return false
  const frames = lastCommitFrames(db)
  if (frames < (dueAt.get(db) ?? CHECKPOINT_FRAMES)) return false
  const done = checkedCheckpoint(db, 'PASSIVE')
  // After a whole copy the next writer restarts the log at frame 1: due again at the threshold.
  dueAt.set(db, done === 'copied' ? CHECKPOINT_FRAMES : frames + RETRY_FRAMES)
  return done === 'lost'
}

/**
 * Before `db` is closed: SQLite's checkpoint at close is off, so a log larger than `overBytes`
 * is copied (checked, TRUNCATE at busy 0) and emptied here; a smaller one is left, as a crash
 * leaves it, for the next first opener's recovery to read. Never throws: a close goes on.
 */
export function checkpointBeforeClose (db: Database.Database, overBytes: number): void {
  if (!db.open || !walCheckLoaded(db) || db.inTransaction || db.readonly) return
  if ((statSync(`${db.name}-wal`, { throwIfNoEntry: false })?.size ?? 0) <= overBytes) return
  try {
    checkedCheckpoint(db, 'TRUNCATE')
  } catch {
    // The log stays: the next opener reads it (recovery), or the next checkpoint copies it.
  }
}

/**
 * A checkpoint in `mode` at busy 0 whose log was first read as recovery reads it (readLog,
 * wal-reading.ts) up to the wal-index's mxFrame, with SQLite's write lock held from the check to
 * the end of the copy (wal-locked-copy.ts). `copied`: every frame was copied (and, TRUNCATE, the
 * log emptied); `lost`: the log does not read as written, nothing copied; `kept`: the lock was
 * taken, readers kept frames back, or the log could not be read (nothing copied then either).
 * SQLite's errors of the copy itself are swallowed as its automatic checkpoint's are.
 */
function checkedCheckpoint (db: Database.Database, mode: 'PASSIVE' | 'TRUNCATE'): 'copied' | 'kept' | 'lost' {
  const busy = db.pragma('busy_timeout', { simple: true })
  db.pragma('busy_timeout = 0')
  try {
    if (!beginImmediate(db)) return 'kept'
    const r = readOrUnchecked(db)
    if (r !== 'whole') { db.exec('ROLLBACK'); return r === 'unchecked' ? 'kept' : 'lost' }
    return copyHoldingLock(db, mode === 'TRUNCATE') ? 'copied' : 'kept'
  } catch (err) {
    if (db.inTransaction) db.exec('ROLLBACK')
    if (errorCode(err) === undefined) throw err
    return 'kept'
  } finally {
    db.pragma(`busy_timeout = ${Number(busy)}`)
  }
}

/** readLog under `db`'s write lock (the caller's BEGIN IMMEDIATE); a log that cannot be read (EMFILE, SQLite's error) is `unchecked`. */
function readOrUnchecked (db: Database.Database): LogReading {
  try {
    return readLog(db)
  } catch (err) {
    if (errorCode(err) === undefined) throw err
    return 'unchecked'
  }
}
