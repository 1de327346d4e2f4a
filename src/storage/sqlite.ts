import Database from 'better-sqlite3'
import { copyFileSync, readFileSync, rmSync, statSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { canWrite, errorCode, ownTempDir, pausepointSync } from '../util/index.js'
import { StorageError } from './errors.js'
import { checkpointBeforeClose } from './wal-checkpoint.js'

// SQLite connections for Petal's own derived databases (the query mirror, planning schemas, block
// copies held in memory). DESIGN.md keeps better-sqlite3 behind `block` and `storage`; modules
// above them get their connections here.
export type SqliteDb = Database.Database
export type SqliteStatement<Row = unknown> = Database.Statement<unknown[], Row>
export type SqliteOptions = Database.Options

// Connections a CLI command still held when it ended, left open for the process's exit: closing
// the last connection to query.db checkpoints it (an fsync of the -wal and one of the database)
// and deletes its -wal and -shm, which the next process's first write then creates again (an
// fsync of the new -wal's header and one of the directory); chain.db's and pending.db's close
// leaves them since session 39 (closeWal). Left open, the process's exit
// ends them as a kill -9 would: every commit is already in the -wal (chain.db's fsynced, the
// mirror's as durable as `synchronous = NORMAL` makes it), and the next connection recovers it
// (docs/data-directory.md, "WAL files left in place"). Held here so no garbage collection closes them.
const leftOpen: SqliteDb[] = []
let leaving = false

/**
 * From now on closeOrLeave leaves writable WAL-mode connections open until the process exits.
 * Only for a process that ends right after (the CLI once its command has returned, start.ts): a
 * process that goes on would hold their descriptors and locks. If it ends the usual way instead of
 * by the CLI's explicit exit, better-sqlite3 closes them at Node's teardown, as close() would have.
 */
export function leaveConnectionsAtExit (): void { leaving = true }

/** Close `db`, or leave it open for the process's exit (leaveConnectionsAtExit). */
export function closeOrLeave (db: SqliteDb): void {
  if (!db.open) return
  if (leaving && !db.readonly && !db.memory && !db.inTransaction && walBytes(db.name) <= LEAVE_WAL_MAX_BYTES) { leftOpen.push(db); return }
  closeWal(db)
}

/**
 * Close a connection. One to chain.db or pending.db never checkpoints at its close (the wal-index
 * extension turned that off: it copied the log unchecked); a -wal larger than
 * LEAVE_WAL_MAX_BYTES is copied and emptied first by a checked checkpoint (wal-checkpoint.ts).
 */
export function closeWal (db: SqliteDb): void {
  if (!db.open) return
  checkpointBeforeClose(db, LEAVE_WAL_MAX_BYTES)
  db.close()
}

// A -wal larger than this is checkpointed and emptied at the close as before: the next process's
// first connection reads all of a -wal it finds to rebuild its index (the -shm), ~0.6 instructions
// a byte and a read per 4 KiB page, and a 100-row import adds ~70 KiB to chain.db's.
const LEAVE_WAL_MAX_BYTES = 1024 * 1024

function walBytes (path: string): number {
  return statSync(`${path}-wal`, { throwIfNoEntry: false })?.size ?? 0
}

/** Open a database file (or `:memory:`, or deserialize bytes held in memory). */
export function openSqlite (filename: string | Buffer, options?: SqliteOptions): SqliteDb {
  return new Database(filename, options)
}

/**
 * Open a WAL-mode database file read-only, also where this process cannot write its directory.
 * SQLite reads a WAL database read-only only if its -shm file exists or can be created: with a
 * writer running it exists and the file is opened as usual; with none (the -shm is removed on the
 * last close) and a directory this user cannot write, the file is read into memory instead, as a
 * snapshot, with the commits of a -wal left beside it (snapshotBytes); its WAL flag is cleared
 * there. (A -wal and a -shm left by a process that ended, storage's leaveConnectionsAtExit, or by
 * a crash, are read by SQLite itself: a -shm it cannot write is rebuilt in memory.) A hot
 * rollback journal is rolled back first (rollBackHotJournal).
 */
export function openSqliteReadonly (path: string): SqliteDb {
  return openReadonly(path, false)
}

function openReadonly (path: string, rolledBack: boolean): SqliteDb {
  let db: SqliteDb | undefined
  try {
    db = new Database(path, { readonly: true, fileMustExist: true })
    db.prepare('SELECT count(*) FROM sqlite_schema').get() // SQLite opens lazily: read once to know
    return db
  } catch (err) {
    db?.close()
    const code = errorCode(err)
    if (code === 'SQLITE_READONLY_ROLLBACK' && !rolledBack) {
      rollBackHotJournal(path, err)
      return openReadonly(path, true)
    }
    if (code !== 'SQLITE_READONLY_DIRECTORY' && code !== 'SQLITE_CANTOPEN' && code !== 'SQLITE_READONLY_CANTINIT') throw err
    const bytes = snapshotBytes(path)
    if (bytes.length >= 20 && bytes[18] === 2 && bytes[19] === 2) bytes[18] = bytes[19] = 1
    return new Database(bytes, { readonly: true })
  }
}

/**
 * The file's content with the commits of a -wal beside it (a process that ended leaving it, a
 * crash): the two are copied into a private directory, where SQLite can make the -shm it needs to
 * read the -wal, and read from there. The directory is in the system's temporary directory (the
 * data directory cannot be written here), named by this process (ownTempDir): a copy of a
 * database that a kill leaves there is removed by the next snapshot once its writer is gone.
 */
function snapshotBytes (path: string): Buffer {
  if (walBytes(path) === 0) return readFileSync(path)
  const dir = ownTempDir('petal-snapshot')
  try {
    const copy = join(dir, 'snapshot.db')
    copyFileSync(path, copy)
    copyFileSync(`${path}-wal`, `${copy}-wal`)
    pausepointSync('snapshot:copied')
    const db = new Database(copy, { readonly: true, fileMustExist: true })
    try { return db.serialize() } finally { db.close() }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/**
 * A writer killed inside a rollback-journal transaction leaves a hot journal (pending.db or
 * chain.db killed while being created, before WAL mode was set), which must be rolled back before
 * the file can be read at all; a read-only connection cannot do it. A read-write connection does,
 * as any writer's open would, under SQLite's own locks: a journal is hot only while no live
 * process holds the file's write lock, so a running writer's transaction is never touched.
 */
function rollBackHotJournal (path: string, cause: unknown): void {
  let rw: SqliteDb | undefined
  try {
    rw = new Database(path, { fileMustExist: true, timeout: 5000 })
    rw.prepare('SELECT count(*) FROM sqlite_schema').get()
  } catch (err) {
    const code = errorCode(err) ?? ''
    // IOERR_DELETE: the file could be written back but the journal not deleted (the directory
    // is not writable by this user); it stays hot, and the next writer's open rolls back again.
    const cannotWrite = code.startsWith('SQLITE_READONLY') || code === 'SQLITE_PERM' || code === 'SQLITE_CANTOPEN' || (code === 'SQLITE_IOERR_DELETE' && !canWrite(dirname(path)))
    if (!cannotWrite) throw err
    throw new StorageError('WRITE_INTERRUPTED', `${path} holds a write that a killed process left half done (${path}-journal), and this user cannot write there to roll it back`, {
      hint: 'run the command again as a user who can write the data directory: opening the file then rolls the interrupted write back', cause
    })
  } finally {
    rw?.close()
  }
}
