import type Database from 'better-sqlite3'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { StorageError } from './errors.js'

/**
 * The wal-index header of a WAL connection's database (its mxFrame; clearing its isInit), through
 * SQLite's own mapping of the -shm: the extension native/wal-index.c, built by
 * scripts/build-native.ts into dist/native/petal-wal-index.node and loaded into the connection
 * once. Never through a descriptor of our own: a close of any descriptor of the -shm drops every
 * fcntl lock the process holds on it, SQLite's wal-index locks included, and other processes then
 * read the database as SQLITE_PROTOCOL (the revert of 989d6f3; docs/data-directory.md, "A log that
 * no longer reads as written"). Loading it also turns off SQLite's own checkpoints on the connection
 * (the automatic one after a commit and the one at close), which would copy the log unchecked:
 * wal-checkpoint.ts runs checked ones instead. A writable connection to chain.db or pending.db is
 * refused without it (loadWalCheck); elsewhere (a test's own database) every answer is undefined
 * and the callers skip the check.
 */

const ADDON = join(import.meta.dirname, '../../dist/native/petal-wal-index.node')

// Per connection: whether the extension is loaded into it (false: it could not be).
const loaded = new WeakMap<Database.Database, boolean>()

function load (db: Database.Database): unknown {
  try {
    // better-sqlite3 takes the entry point's name second (its typings: the path only).
    Reflect.apply(db.loadExtension, db, [ADDON, 'sqlite3_petalwal_init'])
    loaded.set(db, true)
    return undefined
  } catch (err) {
    loaded.set(db, false)
    return err
  }
}

/**
 * Load the check into a writable connection to chain.db or pending.db, before its first write:
 * from then on SQLite never checkpoints it by itself. Without the addon (no C compiler at build
 * time) the connection is refused, closed by the caller: every checkpoint would copy the log
 * unchecked, SQLite's automatic ones included, and no fall-back reads the wal-index (fail safe).
 */
export function loadWalCheck (db: Database.Database): void {
  if (loaded.get(db) === true) return
  const err = load(db)
  if (err === undefined) return
  throw new StorageError('WAL_CHECK_MISSING', `cannot write ${db.name}: Petal's -wal check (${ADDON}) ${existsSync(ADDON) ? `cannot be loaded (${err instanceof Error ? err.message.split('\n')[0] ?? '' : String(err)})` : 'is not built'}, and without it SQLite would copy a log that may hold a lost write into the database unchecked`, {
    hint: 'install a C compiler (e.g. apt-get install gcc), then run `npm run build` in Petal\'s directory (it builds dist/native/petal-wal-index.node); read-only commands work without it',
    details: { path: ADDON },
    cause: err
  })
}

/** Whether the check is loaded into `db` (loadWalCheck): its checkpoints are then Petal's own (wal-checkpoint.ts). */
export function walCheckLoaded (db: Database.Database): boolean {
  return loaded.get(db) === true
}

/** The frames the log held after this connection's last commit (SQLite's WAL hook), 0 before it; only where walCheckLoaded. */
export function lastCommitFrames (db: Database.Database): number {
  let st = frameStmts.get(db)
  if (st === undefined) { st = db.prepare<[], number>('SELECT petal_wal_index(2)').pluck(); frameStmts.set(db, st) }
  return st.get() ?? 0
}

const frameStmts = new WeakMap<Database.Database, Database.Statement<[], number>>()

function ready (db: Database.Database): boolean {
  let ok = loaded.get(db)
  if (ok === undefined) ok = load(db) === undefined
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
