import { openSqliteReadonly, StorageError, type SqliteDb, type SqliteStatement } from '../../storage/index.js'
import { hardenReadonly, type SqlValue } from '../../block/index.js'
import { QueryError, statementError } from '../errors.js'
import { checkCompiled } from './guard.js'
import { dirname } from 'node:path'
import { canWrite, errorMessage, shellWord } from '../../util/index.js'

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
    throw new QueryError('MIRROR_UNAVAILABLE', `cannot open ${what} ${path}: ${errorMessage(err)}`, { hint: mirrorHint(path) })
  }
  hardenReadonly(db)
  return db
}

/**
 * What brings a mirror that cannot be opened back. Where this user cannot write its directory (a
 * read-only file system, another user's node), `petal query` reads the mirror as it is and
 * `reindex --query` cannot write it: the hint said to run them, and they failed the same way
 * (review55b). `--per-block` reads the blocks themselves.
 */
function mirrorHint (path: string): string {
  const dir = dirname(path)
  if (canWrite(dir)) return 'run `petal query` without --no-sync once, or `petal reindex --query`'
  return `this user cannot write ${dir}, where the mirror is made (a read-only file system, or another user's directory): \`petal --dir ${shellWord(dir)} query --per-block SQL\` reads the blocks themselves; once it can be written (by its owner, or on the file system mounted read-write), \`petal --dir ${shellWord(dir)} reindex --query\` makes the mirror`
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
