import Database from 'better-sqlite3'
import { readFileSync } from 'node:fs'
import { errorCode } from '../util/index.js'

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
 * (a -wal left by a crash is recovered by the next writer, and not seen until then).
 */
export function openSqliteReadonly (path: string): SqliteDb {
  let db: SqliteDb | undefined
  try {
    db = new Database(path, { readonly: true, fileMustExist: true })
    db.prepare('SELECT count(*) FROM sqlite_schema').get() // SQLite opens lazily: read once to know
    return db
  } catch (err) {
    db?.close()
    const code = errorCode(err)
    if (code !== 'SQLITE_READONLY_DIRECTORY' && code !== 'SQLITE_CANTOPEN' && code !== 'SQLITE_READONLY_CANTINIT') throw err
    const bytes = readFileSync(path)
    if (bytes.length >= 20 && bytes[18] === 2 && bytes[19] === 2) bytes[18] = bytes[19] = 1
    return new Database(bytes, { readonly: true })
  }
}
