import Database from 'better-sqlite3'
import { errorCode, pausepointSync } from '../util/index.js'
import { loadWalCheck } from './wal-index.js'

/**
 * The copy of a checked log (chain.db's, pending.db's) with SQLite's write lock held from the
 * check to the end of the copy, so that no commit is made in between: until session 40 the lock
 * was let go after the check, and a commit of another process made then (whose own fsync failed,
 * its frame read back as the disk has it) was copied unchecked (wal39's left). A connection inside
 * a transaction cannot checkpoint (SQLITE_LOCKED), so the checker's connection keeps its BEGIN
 * IMMEDIATE while a second connection of this process (a sibling) runs a PASSIVE checkpoint, which
 * takes no write lock. Emptying the log (TRUNCATE) needs the write lock itself: the sibling first
 * takes a snapshot under the checker's lock, whose read mark keeps every checkpoint, of any
 * process, from copying a frame past the checked ones; the checker lets go and empties the log,
 * which a commit made meanwhile keeps from happening (busy), never copied.
 */

/** BEGIN IMMEDIATE on `db` at its busy timeout; false when another connection holds the write lock. */
export function beginImmediate (db: Database.Database): boolean {
  try {
    db.exec('BEGIN IMMEDIATE')
    return true
  } catch (err) {
    if (errorCode(err)?.startsWith('SQLITE_BUSY') === true) return false
    throw err
  }
}

/**
 * Copy the log into the database while `db` holds the write lock (the caller's BEGIN IMMEDIATE,
 * under which it checked the log); `db`'s transaction is ended here, rolled back. `truncate`:
 * then empty the log (at `db`'s busy timeout). True when every frame was copied (the database
 * fsynced by SQLite) and, with `truncate`, the log emptied; false when readers kept frames back
 * or a commit made after the lock was let go kept the log. SQLite's errors are thrown.
 */
export function copyHoldingLock (db: Database.Database, truncate: boolean): boolean {
  let sibling: Database.Database | undefined
  try {
    try {
      pausepointSync('wal:checkpoint-checked')
      sibling = openSibling(db)
      const r = (sibling.pragma('wal_checkpoint(PASSIVE)') as Array<{ busy: number, log: number, checkpointed: number }>)[0]
      const whole = r !== undefined && r.busy === 0 && r.checkpointed === r.log
      if (!whole || !truncate) return whole
      // A snapshot at the checked frames: no commit can be made while db holds the lock.
      sibling.exec('BEGIN')
      sibling.prepare('SELECT count(*) FROM sqlite_schema').get()
    } finally {
      db.exec('ROLLBACK')
    }
    pausepointSync('wal:checkpoint-truncate')
    return (db.pragma('wal_checkpoint(TRUNCATE)') as Array<{ busy: number }>)[0]?.busy === 0
  } finally {
    sibling?.close()
  }
}

/**
 * A second connection of this process to `db`'s file, opened for one copy and closed after it. The
 * extension loaded (no checkpoint at its close, were it the last); SQLite shares a file's locks
 * between the process's connections and defers a close's release of them while any are held
 * (os_unix.c, setPendingFd), so its close drops none of `db`'s.
 */
function openSibling (db: Database.Database): Database.Database {
  const sibling = new Database(db.name, { fileMustExist: true, timeout: 0 })
  try {
    loadWalCheck(sibling)
    sibling.pragma('synchronous = FULL')
    return sibling
  } catch (err) {
    sibling.close()
    throw err
  }
}
