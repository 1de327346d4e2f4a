import type Database from 'better-sqlite3'
import { AbortError, errorCode, errorMessage, sleep } from '../util/index.js'
import { StorageError } from './errors.js'
import { checkpointIfDue } from './wal-checkpoint.js'
import { beginImmediate, copyHoldingLock } from './wal-locked-copy.js'
import { forgetWalIndex } from './wal-index.js'
import { readLog, type LogReading } from './wal-reading.js'
import { logClaimed } from './wal-claims.js'
import { othersHoldShm } from './shm-holders.js'

/**
 * COMMIT on a WAL-mode connection (chain.db, pending.db) whose failure is true when it says the
 * change was not made. `commit` runs the COMMIT, or an autocommit statement (whose end commits).
 *
 * A COMMIT whose fsync of the -wal fails (SQLITE_IOERR_FSYNC) is rolled back in the wal-index
 * only: its frames, commit frame included, are in the -wal with valid checksums, and the next
 * process that rebuilds the index from the -wal (the first open after every connection is gone)
 * finds it committed (session 33's fault torture). So the failed commit is overwritten at once by
 * a one-page commit (undoFailedCommit); any other code is SQLite's own rollback and is true: a
 * frame write that failed left no whole commit frame, and an automatic checkpoint's failure never
 * reaches the COMMIT (Petal runs checkpoints itself, after it: checkpointIfDue, wal-checkpoint.ts).
 */
export function commitWal<T> (db: Database.Database, commit: () => T, look = LOOK_INDEX): T {
  let r: T
  try {
    r = commit()
  } catch (err) {
    if (db.inTransaction) db.exec('ROLLBACK')
    if (errorCode(err) !== 'SQLITE_IOERR_FSYNC') throw err
    throw undoFailedCommit(db, err, look)
  }
  if (checkpointIfDue(db)) dropOrphanedLoss(db)
  return r
}

/**
 * After a commit on `db` whose checkpoint found the log not reading as written (checkpointIfDue):
 * drop the loss now, as the next first opener's recovery would, when no writer is left to do it
 * (rewriteLog, with the check under the write lock): no other process has the database open
 * (othersHoldShm: the writer whose frame was lost died before its re-write) and this process has
 * no deferred commit on it unsettled (wal-claims.ts). Until session 41 nothing did until every
 * process had closed the database: the log grew, read again at every try, and every commit made
 * after the lost frame was acknowledged and then dropped by that recovery. The commit just made
 * is among those dropped (it follows the lost frame): its committer gets the error, as a COMMIT
 * that failed. Anything else (busy, the disk's failure of the copy) is a checkpoint's failure and
 * does not reach the committer.
 */
function dropOrphanedLoss (db: Database.Database): void {
  if (logClaimed(db.name)) return
  try {
    rewriteLog(db, 0, () => !logClaimed(db.name) && !othersHoldShm(db.name))
  } catch (err) {
    if (err instanceof StorageError) throw err
  }
}

/**
 * How to look whether a change that may still be recorded was (undoFailedCommit's hint, after "the
 * change may still be recorded"): chain.db's by `petal status`; pending.db's rows are not in it
 * (review35), the pending store gives its own (ingest).
 */
export const LOOK_INDEX = 'look (`petal status`) before running the command again'

/**
 * After a COMMIT failed with SQLITE_IOERR_FSYNC: commit a change of one page (`user_version`, which
 * nothing reads) at synchronous = FULL. SQLite writes it where the wal-index ends, over the failed
 * commit's first frame, and WAL frames chain their checksums, so no frame of the failed commit
 * after it is valid any more. Once that commit's own fsync succeeds (pages written anew, not a
 * retried fsync of the failed ones: fsyncgate), the failed commit can never be recovered, and
 * every commit before it was fsynced by its own COMMIT. Returns the error to report: "undone"
 * when it worked, else "may still be recorded" (the disk refused that write too), and `look`.
 */
export function undoFailedCommit (db: Database.Database, cause: unknown, look = LOOK_INDEX): StorageError {
  const what = `the disk failed to flush a commit to ${db.name} (SQLITE_IOERR_FSYNC): ${errorMessage(cause)}`
  const sync = db.pragma('synchronous', { simple: true })
  const busy = db.pragma('busy_timeout', { simple: true })
  try {
    db.pragma('synchronous = FULL')
    db.pragma('busy_timeout = 5000')
    const v = Number(db.pragma('user_version', { simple: true }))
    db.exec('BEGIN IMMEDIATE')
    db.pragma(`user_version = ${(v + 1) % 0x7fffffff}`)
    db.exec('COMMIT')
  } catch (err) {
    if (db.inTransaction) db.exec('ROLLBACK')
    return new StorageError('IO_ERROR', `${what}; undoing it failed too: ${errorMessage(err)}`, {
      hint: `check the disk (dmesg, fsck); the change may still be recorded (SQLite's log holds it, and the next command can find it committed): ${look}`,
      details: { systemCode: 'SQLITE_IOERR_FSYNC', path: db.name, undone: false },
      cause
    })
  } finally {
    restore(db, sync, busy)
  }
  return new StorageError('IO_ERROR', `${what}; the change was undone (a later commit took its place in the log and reached the disk)`, {
    hint: 'check the disk (dmesg, fsck) before going on; nothing was recorded: run the command again once the disk is sound',
    details: { systemCode: 'SQLITE_IOERR_FSYNC', path: db.name, undone: true },
    cause
  })
}

function restore (db: Database.Database, sync: unknown, busy: unknown): void {
  try {
    db.pragma(`synchronous = ${Number(sync)}`)
    db.pragma(`busy_timeout = ${Number(busy)}`)
  } catch {
    // The connection's next statement meets the same failure and reports it.
  }
}

/**
 * Re-write a WAL database's committed frames into the database and empty its -wal: a checkpoint
 * that copies the frames (written anew, from the page cache), fsyncs the database, waits for
 * readers (the busy timeout, `busyMs` if given) and truncates the -wal, so that the next commit
 * starts a new log instead of chaining its checksums onto frames that may not be on disk. The
 * fsyncgate-safe way to make durable a commit whose fsync failed: an fsync retried after a
 * failure proves nothing. The log is read as recovery would first, and copied with the write lock
 * held since (wal-locked-copy.ts). Tried twice: SQLite's own descriptor of the -wal, opened
 * before the failure, may be told of the same writeback error (Linux tells each open file once),
 * and a checkpoint fsyncs the -wal first. False when readers or a writer kept it from finishing
 * (or the connection is inside a transaction); the disk's failure is thrown. `orphaned`: only for
 * a loss no writer is left to re-write (dropOrphanedLoss), asked under the write lock: false
 * there, nothing is done (false returned).
 */
export function rewriteLog (db: Database.Database, busyMs?: number, orphaned?: () => boolean): boolean {
  if (db.inTransaction) return false
  const busy = db.pragma('busy_timeout', { simple: true })
  if (busyMs !== undefined) db.pragma(`busy_timeout = ${busyMs}`)
  try {
    for (let tries = 1; ; tries++) {
      const drop: { reading?: WalReading } = {}
      try {
        return rewriteOnce(db, drop, orphaned)
      } catch (err) {
        if (db.inTransaction) db.exec('ROLLBACK')
        if (err instanceof StorageError) throw err
        if (errorCode(err)?.startsWith('SQLITE_BUSY') === true) {
          // Another connection's recovery may rebuild the index first: the drop is said now or never.
          if (drop.reading !== undefined) throw unreadableLog(db, drop.reading, false, orphaned !== undefined)
          return false
        }
        // After a drop, a retry would find the rebuilt log whole and say nothing of it.
        if (tries >= 2 || drop.reading !== undefined) throw err
      }
    }
  } finally {
    if (db.inTransaction) db.exec('ROLLBACK')
    if (busyMs !== undefined) db.pragma(`busy_timeout = ${Number(busy)}`)
  }
}

/**
 * One re-write: under SQLite's write lock (BEGIN IMMEDIATE) the log is read as recovery reads it;
 * when it no longer reads as written, SQLite is made to read it again from the disk (its next
 * transaction's recovery, under the write lock again: dropUnreadable), and it is checked again;
 * then copied and emptied with the lock held since the check (copyHoldingLock). `drop.reading`:
 * set when commits were dropped, which is thrown (unreadableLog) once the copy has run.
 */
function rewriteOnce (db: Database.Database, drop: { reading?: WalReading }, orphaned?: () => boolean): boolean {
  if (!beginImmediate(db)) return false
  if (orphaned !== undefined && (typeof readLog(db) === 'string' || !orphaned())) { db.exec('ROLLBACK'); return false }
  const o = orphaned !== undefined
  drop.reading = dropUnreadable(db)
  if (drop.reading !== undefined) {
    db.exec('ROLLBACK')
    if (!beginImmediate(db)) throw unreadableLog(db, drop.reading, false, o)
    if (dropUnreadable(db) !== undefined) { db.exec('ROLLBACK'); throw unreadableLog(db, drop.reading, false, o) }
  }
  const done = copyHoldingLock(db, true)
  if (drop.reading !== undefined) throw unreadableLog(db, drop.reading, done, o)
  return done
}

/** How far the log reads as written (`readable`: its last valid commit frame) against the wal-index (`indexed`: its mxFrame). */
type WalReading = Exclude<LogReading, string>

/**
 * Under SQLite's write lock (the caller's BEGIN IMMEDIATE, so that no commit changes the log or
 * the wal-index meanwhile): when the log no longer reads as written up to what the wal-index says
 * is committed (readLog's lost reading: a frame whose write-back failed, read back as the disk has it),
 * mark the wal-index so that SQLite reads the log again from the disk, as the next open would,
 * and the copy takes only what recovery reads (docs/data-directory.md, "A log that no longer reads
 * as written"). Undefined: the log reads whole (a lost frame already copied included: wal-reading.ts),
 * or there is no addon to read the wal-index with (the check is skipped).
 */
function dropUnreadable (db: Database.Database): WalReading | undefined {
  const r = readLog(db)
  return typeof r === 'string' || !forgetWalIndex(db) ? undefined : r
}

/**
 * The error after the wal-index was rebuilt (dropUnreadable): thrown whether or not the checkpoint
 * then emptied the log, since a retry would find the log whole and report the dropped commits as
 * made (a group commit's rows acknowledged).
 */
function unreadableLog (db: Database.Database, r: WalReading, copied: boolean, orphaned = false): StorageError {
  const rest = copied ? `only those before were copied into ${db.name}` : `those before stay in the log (readers kept it from being emptied)`
  const what = `${db.name}-wal no longer reads as it was written: its commits end at frame ${r.readable} when read from the disk, though ${r.indexed} frames were committed (a write of the log was lost${orphaned ? ', by a process gone before it re-wrote the log' : ''}); the commits after frame ${r.readable}${orphaned ? ', this one among them,' : ''} were dropped, as the next open would drop them, and ${rest}`
  return new StorageError('IO_ERROR', what, {
    hint: orphaned
      ? 'check the disk (dmesg, fsck); this change was not recorded: run the command again'
      : 'check the disk (dmesg, fsck); the dropped commits were those whose flush had failed: run the command again',
    details: { systemCode: 'SQLITE_IOERR_FSYNC', path: db.name, undone: true }
  })
}

/**
 * rewriteLog, tried again while another connection's reader or writer keeps it from finishing, for
 * up to `waitMs`: each try without waiting inside SQLite (its busy handler sleeps on the calling
 * thread, the event loop blocked), the waits between them on timers. False when the wait ended;
 * the disk's failure is thrown. A group commit whose fsync failed gave up after one second, and
 * was refused while its rows, committed, were sealed all the same (review35).
 */
export async function rewriteLogWaiting (db: Database.Database, waitMs: number): Promise<boolean> {
  return await retryBusy(() => rewriteLog(db, 0), waitMs)
}

/** `tryOnce` (a re-write at busy 0: false when busy) tried again on timers until it succeeds or `waitMs` has passed (AbortError on `signal`). */
export async function retryBusy (tryOnce: () => boolean, waitMs: number, signal?: AbortSignal): Promise<boolean> {
  const until = Date.now() + waitMs
  for (let delay = 2; ; delay = Math.min(delay * 2, 100)) {
    if (signal?.aborted === true) throw new AbortError()
    if (tryOnce()) return true
    if (Date.now() >= until) return false
    await sleep(delay, signal)
  }
}
