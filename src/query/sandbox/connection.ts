import { openSqliteReadonly, type SqliteDb, type SqliteStatement } from '../../storage/index.js'
import { QueryError, statementError } from '../errors.js'
import { checkCompiled } from './guard.js'

/**
 * A connection the user's statement may run on: opened read-only (SQLITE_OPEN_READONLY), with
 * query_only on, no schema-defined functions (trusted_schema off), no memory mapping, cell size
 * checks, and SQLite's defensive mode (better-sqlite3's default).
 */
export function openForQuery (path: string, what: string): SqliteDb {
  let db: SqliteDb
  try {
    db = openSqliteReadonly(path)
  } catch (err) {
    throw new QueryError('MIRROR_UNAVAILABLE', `cannot open ${what} ${path}: ${(err as Error).message}`, { hint: 'run `petal query` without --no-sync once, or `petal reindex --query`' })
  }
  hardenForQuery(db)
  return db
}

export function hardenForQuery (db: SqliteDb): void {
  db.pragma('query_only = ON')
  db.pragma('trusted_schema = OFF')
  db.pragma('mmap_size = 0')
  db.pragma('cell_size_check = ON')
}

/** Compile the user's statement on `db` and check it only reads; rows come back raw and exact. */
export function compile (db: SqliteDb, sql: string, where?: string): SqliteStatement {
  let stmt: SqliteStatement
  try {
    stmt = db.prepare(sql)
  } catch (err) {
    throw statementError(err, where)
  }
  checkCompiled(stmt)
  return stmt.raw(true).safeIntegers(true)
}
