import Database from 'better-sqlite3'
import { errorCode, errorMessage, isPetalError } from '../util/index.js'
import { BlockError } from './errors.js'

export type Db = Database.Database

/**
 * Open a block file read-only with SQLite's defensive settings: no schema-defined functions
 * (trusted_schema off), no writes even by accident (query_only), no memory mapping of untrusted
 * bytes, and cell size checks on every page read.
 */
export function openBlockReadonly (path: string): Db {
  let db: Db
  try {
    db = new Database(path, { readonly: true, fileMustExist: true })
  } catch (err) {
    throw sqliteFailure(err, path)
  }
  try {
    db.pragma('trusted_schema = OFF')
    db.pragma('query_only = ON')
    db.pragma('mmap_size = 0')
    db.pragma('cell_size_check = ON')
  } catch (err) {
    db.close()
    throw sqliteFailure(err, path)
  }
  return db
}

/** Open a block being built (a private temporary copy) for writing. */
export function openBlockForBuild (path: string): Db {
  const db = new Database(path, { fileMustExist: true })
  db.pragma('trusted_schema = OFF')
  // A foreign key in the user's schema must not make our writes to reserved tables fail.
  db.pragma('foreign_keys = OFF')
  return db
}

/** Map an SQLite failure on an untrusted file to a coded error. */
export function sqliteFailure (err: unknown, path: string): BlockError {
  const code = errorCode(err)
  const msg = errorMessage(err)
  if (code === 'SQLITE_CANTOPEN') return new BlockError('FILE_NOT_FOUND', `cannot open ${path}: ${msg}`)
  if (code === 'SQLITE_NOTADB') return new BlockError('NOT_SQLITE', `not an SQLite database: ${path}`)
  return new BlockError('CORRUPT', `SQLite could not read the block: ${msg}`, { details: { sqliteCode: code } })
}

/**
 * Run `fn` and convert any SQLite exception into a BlockError (CORRUPT unless more specific).
 * Petal's own errors pass unchanged: an interruption (ABORTED) is not a verdict on the block.
 */
export function guardSqlite<T> (path: string, fn: () => T): T {
  try {
    return fn()
  } catch (err) {
    if (isPetalError(err)) throw err
    throw sqliteFailure(err, path)
  }
}

/** Quote an SQL identifier. */
export function quoteIdent (name: string): string {
  return '"' + name.replaceAll('"', '""') + '"'
}
