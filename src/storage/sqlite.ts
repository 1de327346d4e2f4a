import Database from 'better-sqlite3'
import { readFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { canWrite, errorCode } from '../util/index.js'
import { StorageError } from './errors.js'

// SQLite connections for Petal's own derived databases (the query mirror, planning schemas, block
// copies held in memory). DESIGN.md keeps better-sqlite3 behind `block` and `storage`; modules
// above them get their connections here.
export type SqliteDb = Database.Database
export type SqliteStatement<Row = unknown> = Database.Statement<unknown[], Row>
export type SqliteOptions = Database.Options

/** Open a database file (or `:memory:`, or deserialize bytes held in memory). */
export function openSqlite (filename: string | Buffer, options?: SqliteOptions): SqliteDb {
  return new Database(filename, options)
}

/**
 * Open a WAL-mode database file read-only, also where this process cannot write its directory.
 * SQLite reads a WAL database read-only only if its -shm file exists or can be created: with a
 * writer running it exists and the file is opened as usual; with none (the -shm is removed on the
 * last close) and a directory this user cannot write, the file is read into memory instead, as a
 * snapshot. Its WAL flag is cleared there: with no -shm left, no writer's frames are pending
 * (a -wal left by a crash is recovered by the next writer, and not seen until then). A hot
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
    const bytes = readFileSync(path)
    if (bytes.length >= 20 && bytes[18] === 2 && bytes[19] === 2) bytes[18] = bytes[19] = 1
    return new Database(bytes, { readonly: true })
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
