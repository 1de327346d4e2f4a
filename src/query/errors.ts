import { PetalError } from '../util/index.js'

/**
 * Every reason a query or a mirror update can fail. Codes are stable API: the CLI maps the class
 * (QueryError) to exit status 8 and prints the hint; tests assert the codes.
 */
export type QueryErrorCode =
  // the statement
  | 'QUERY_EMPTY'
  | 'QUERY_SYNTAX'
  | 'QUERY_UNKNOWN_TABLE'
  | 'QUERY_TABLE_TOO_WIDE'
  | 'QUERY_UNKNOWN_COLUMN'
  | 'QUERY_SQL_ERROR'
  | 'QUERY_MULTIPLE_STATEMENTS'
  // the sandbox
  | 'QUERY_NOT_READONLY'
  | 'QUERY_NOT_A_QUERY'
  | 'QUERY_ATTACH_REFUSED'
  | 'QUERY_PRAGMA_REFUSED'
  | 'QUERY_EXTENSION_REFUSED'
  | 'QUERY_TIMEOUT'
  | 'QUERY_TOO_MANY_ROWS'
  | 'QUERY_VALUE_TOO_LARGE'
  | 'QUERY_SANDBOX_FAILED'
  // per-block mode
  | 'QUERY_BLOCK_FAILED'
  | 'QUERY_BLOCK_UNREADABLE'
  // the mirror
  | 'MIRROR_UNAVAILABLE'
  | 'MIRROR_BLOCK_MISMATCH'
  | 'MIRROR_SCHEMA'

export class QueryError extends PetalError<QueryErrorCode> {}

/** The shape a QueryError takes across the sandbox's process boundary. */
export interface SerializedQueryError { code: QueryErrorCode, message: string, hint?: string, details?: Record<string, unknown> }

export function serializeQueryError (e: QueryError): SerializedQueryError {
  return { code: e.code, message: e.message, hint: e.hint, details: { ...e.details } }
}

export function deserializeQueryError (e: SerializedQueryError): QueryError {
  return new QueryError(e.code, e.message, { hint: e.hint, details: e.details })
}

/**
 * A value (or a batch of formatted rows) longer than a JavaScript string can be (~512 MiB): SQLite
 * holds it, but it cannot be printed. Undefined for any other error.
 */
export function valueTooLarge (err: unknown, where?: string): QueryError | undefined {
  if (!(err instanceof RangeError) || !/string (longer|length)/i.test(err.message)) return undefined
  return new QueryError('QUERY_VALUE_TOO_LARGE', `a value in the result is too large to print${where === undefined ? '' : ` (in ${where})`}: ${err.message}`, {
    hint: 'select part of it (substr(x, 1, n)), its length(x), or a digest of it instead'
  })
}

/**
 * Map an SQLite failure of the user's statement to a coded error carrying SQLite's own message.
 * `where` says where it ran ("the query mirror", "block 12").
 */
export function statementError (err: unknown, where?: string): QueryError {
  const e = err as { code?: string, message?: string }
  const msg = e.message ?? String(err)
  const at = where === undefined ? '' : ` (in ${where})`
  const big = valueTooLarge(err, where)
  if (big !== undefined) return big
  const details = { sqliteCode: e.code, sqliteMessage: msg }
  if (msg.includes('more than one statement')) {
    return new QueryError('QUERY_MULTIPLE_STATEMENTS', 'only one SQL statement can run at a time', { hint: 'remove everything after the first statement (a trailing ";" is fine)', details })
  }
  if (/syntax error|incomplete input|unrecognized token/.test(msg)) {
    return new QueryError('QUERY_SYNTAX', `SQL syntax error: ${msg}${at}`, { hint: 'check the statement; SQLite dialect, strings in single quotes', details })
  }
  if (msg.startsWith('no such table')) {
    return new QueryError('QUERY_UNKNOWN_TABLE', `${msg}${at}`, { hint: 'no block has a table of that name; list them with: petal query "SELECT DISTINCT name FROM _tables"', details })
  }
  if (msg.startsWith('no such column')) {
    return new QueryError('QUERY_UNKNOWN_COLUMN', `${msg}${at}`, { hint: 'list a table\'s columns with: petal query "SELECT name FROM pragma_table_info(\'TABLE\')"', details })
  }
  if (e.code === 'SQLITE_NOMEM' || e.code === 'SQLITE_TOOBIG') {
    return new QueryError('QUERY_SQL_ERROR', `the statement needs too much memory: ${msg}${at}`, { hint: 'aggregate more, or select fewer or smaller values', details })
  }
  return new QueryError('QUERY_SQL_ERROR', `SQLite error: ${msg}${at}`, { details })
}
