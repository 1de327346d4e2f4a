import type Database from 'better-sqlite3'
import { join } from 'node:path'

/**
 * The wal-index header of a WAL connection's database (its mxFrame; clearing its isInit), through
 * SQLite's own mapping of the -shm: the extension native/wal-index.c, built by
 * scripts/build-native.ts into dist/native/petal-wal-index.node and loaded into the connection
 * once. Never through a descriptor of our own: a close of any descriptor of the -shm drops every
 * fcntl lock the process holds on it, SQLite's wal-index locks included, and other processes then
 * read the database as SQLITE_PROTOCOL (the revert of 989d6f3; docs/data-directory.md, "A log that
 * no longer reads as written"). Without the addon (not built, or not loadable)
 * every answer is undefined and the callers skip the check.
 */

const ADDON = join(import.meta.dirname, '../../dist/native/petal-wal-index.node')

// Per connection: whether the extension is loaded into it (false: it could not be).
const loaded = new WeakMap<Database.Database, boolean>()

function ready (db: Database.Database): boolean {
  let ok = loaded.get(db)
  if (ok === undefined) {
    ok = false
    try {
      // better-sqlite3 takes the entry point's name second (its typings: the path only).
      Reflect.apply(db.loadExtension, db, [ADDON, 'sqlite3_petalwal_init'])
      ok = true
    } catch {}
    loaded.set(db, ok)
  }
  // Only where SQLite keeps the wal-index in the -shm, mapped since the log was opened: in
  // exclusive locking mode it may be in the heap, and the mapping call would open a -shm.
  return ok && db.inTransaction && db.pragma('locking_mode', { simple: true }) === 'normal'
}

/**
 * The frames the wal-index says are committed (its mxFrame), read under SQLite's write lock (the
 * caller's BEGIN IMMEDIATE, so no commit changes it meanwhile); undefined without the addon or a
 * readable header.
 */
export function walIndexFrames (db: Database.Database): number | undefined {
  if (!ready(db)) return undefined
  const n = db.prepare('SELECT petal_wal_index(0)').pluck().get()
  return typeof n === 'number' ? n : undefined
}

/**
 * The frames a checkpoint has copied, or begun to copy, into the database (the checkpoint header's
 * nBackfill and nBackfillAttempted, the larger), read as walIndexFrames is; undefined without the
 * addon or a readable header.
 */
export function walIndexCopied (db: Database.Database): number | undefined {
  if (!ready(db)) return undefined
  const n = db.prepare('SELECT petal_wal_index(3)').pluck().get()
  return typeof n === 'number' ? n : undefined
}

/**
 * Mark the wal-index header as not initialised, under SQLite's write lock (the caller's BEGIN
 * IMMEDIATE), so that the next transaction of any connection rebuilds the wal-index from the log,
 * as the first open after a crash does (walIndexReadHdr takes a header whose isInit is 0 as torn,
 * and recovers it under the write lock). False without the addon.
 */
export function forgetWalIndex (db: Database.Database): boolean {
  if (!ready(db)) return false
  return db.prepare('SELECT petal_wal_index(1)').pluck().get() === 1
}
