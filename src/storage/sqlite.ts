import Database from 'better-sqlite3'

// SQLite connections for Petal's own derived databases (the query mirror, planning schemas, block
// copies held in memory). DESIGN.md keeps better-sqlite3 behind `block` and `storage`; modules
// above them get their connections here.
export type SqliteDb = Database.Database
export type SqliteStatement = Database.Statement
export type SqliteOptions = Database.Options

/** Open a database file (or `:memory:`, or deserialize bytes held in memory). */
export function openSqlite (filename: string | Buffer, options?: SqliteOptions): SqliteDb {
  return new Database(filename, options)
}
