import { openSqliteReadonly, StorageError, type SqliteDb, type SqliteStatement } from '../../storage/index.js'
import { hardenReadonly, type SqlValue } from '../../block/index.js'
import { QueryError, statementError } from '../errors.js'
import { checkCompiled } from './guard.js'
import { errorMessage } from '../../util/index.js'

/**
 * A connection the user's statement may run on: opened read-only (SQLITE_OPEN_READONLY), with
 * query_only on, no schema-defined functions (trusted_schema off), no memory mapping, cell size
 * checks, and SQLite's defensive mode (better-sqlite3's default).
 */
export function openForQuery (path: string, what: string, setup?: (db: SqliteDb) => void): SqliteDb {
  let db: SqliteDb
  try {
    db = openSqliteReadonly(path)
    // Sorts, groupings and temp views stay in memory: decrypted values must never reach a temp file.
    // First: changing temp_store drops every temporary view already made.
    db.pragma('temp_store = MEMORY')
    // Temporary views only (an adopted chain's Daisy history): before query_only forbids them.
    setup?.(db)
  } catch (err) {
    // Its own hint is the true one: this user cannot roll back a killed writer's journal, and no query will.
    if (err instanceof StorageError && err.code === 'WRITE_INTERRUPTED') throw err
    throw new QueryError('MIRROR_UNAVAILABLE', `cannot open ${what} ${path}: ${errorMessage(err)}`, { hint: 'run `petal query` without --no-sync once, or `petal reindex --query`' })
  }
  hardenReadonly(db)
  return db
}

/** Compile the user's statement on `db` and check it only reads; rows come back raw and exact. */
export function compile (db: SqliteDb, sql: string, where?: string): SqliteStatement<SqlValue[]> {
  let stmt: SqliteStatement<SqlValue[]>
  try {
    stmt = db.prepare<unknown[], SqlValue[]>(sql)
  } catch (err) {
    throw statementError(err, where)
  }
  checkCompiled(stmt)
  return stmt.raw(true).safeIntegers(true)
}
