import { errorCode, errorMessage, PetalError, quote, registerErrorClass, said, type CodeDoc } from '../util/index.js'

/**
 * Every reason a query or a mirror update can fail. Codes are stable API: the CLI maps the class
 * (QueryError) to exit status 8 and prints the hint; tests assert the codes.
 */
export const QUERY_ERROR_CODES = [
  // the statement
  'QUERY_EMPTY',
  'QUERY_SYNTAX',
  'QUERY_UNKNOWN_TABLE',
  'QUERY_TABLE_TOO_WIDE',
  'QUERY_UNKNOWN_COLUMN',
  'QUERY_SQL_ERROR',
  'QUERY_MULTIPLE_STATEMENTS',
  // the sandbox
  'QUERY_NOT_READONLY',
  'QUERY_NOT_A_QUERY',
  'QUERY_ATTACH_REFUSED',
  'QUERY_PRAGMA_REFUSED',
  'QUERY_EXTENSION_REFUSED',
  'QUERY_TIMEOUT',
  'QUERY_TOO_MANY_ROWS',
  'QUERY_VALUE_TOO_LARGE',
  'QUERY_SANDBOX_FAILED',
  // per-block mode
  'QUERY_BLOCK_FAILED',
  'QUERY_BLOCK_UNREADABLE',
  // the mirror
  'MIRROR_UNAVAILABLE',
  'MIRROR_BLOCK_MISMATCH',
  /** the mirror stops below the tip: a block's file is missing or damaged (it keeps what it has) */
  'MIRROR_BLOCK_MISSING',
  'MIRROR_SCHEMA'
] as const

export type QueryErrorCode = typeof QUERY_ERROR_CODES[number]

/** The block a per-block statement failed in. */
interface At { height?: number }
/** SQLite's own verdict on the user's statement. */
interface Sqlite extends At { sqliteCode?: string, sqliteMessage: string }

/** `details` of each code. */
export interface QueryErrorDetails {
  QUERY_EMPTY: At
  QUERY_SYNTAX: Sqlite
  QUERY_UNKNOWN_TABLE: Sqlite
  QUERY_TABLE_TOO_WIDE: At & { table: string, columns: number }
  QUERY_UNKNOWN_COLUMN: Sqlite
  QUERY_SQL_ERROR: Sqlite
  QUERY_MULTIPLE_STATEMENTS: Sqlite
  QUERY_NOT_READONLY: At
  QUERY_NOT_A_QUERY: At
  QUERY_ATTACH_REFUSED: At
  QUERY_PRAGMA_REFUSED: At & { pragma?: string }
  QUERY_EXTENSION_REFUSED: At
  QUERY_TIMEOUT: At & { timeoutMs: number }
  QUERY_TOO_MANY_ROWS: At & { maxRows: number }
  QUERY_VALUE_TOO_LARGE: At
  QUERY_SANDBOX_FAILED: At
  QUERY_BLOCK_FAILED: At
  QUERY_BLOCK_UNREADABLE: { height: number, hash: string }
  MIRROR_UNAVAILABLE: At
  MIRROR_BLOCK_MISMATCH: { height: number, hash?: string }
  MIRROR_BLOCK_MISSING: { height: number, hash: string }
  MIRROR_SCHEMA: At & { hash?: string, sqliteCode?: string }
}

export class QueryError<C extends QueryErrorCode = QueryErrorCode> extends PetalError<C, QueryErrorDetails[C]> {
  static readonly codes = QUERY_ERROR_CODES

  /** `err` is a QueryError; narrowing on its `code` then types its `details`. */
  static is (err: unknown): err is AnyQueryError {
    return err instanceof QueryError
  }
}

/** A QueryError of any one code: `code` discriminates `details`. */
export type AnyQueryError = { [K in QueryErrorCode]: QueryError<K> }[QueryErrorCode]

function queryErrorDocs (): Readonly<Record<QueryErrorCode, CodeDoc>> {
  return {
    QUERY_EMPTY: { meaning: 'the SQL statement is empty', hint: 'give one SELECT statement, e.g. petal query "SELECT COUNT(*) FROM _blocks"' },
    QUERY_SYNTAX: { meaning: 'SQLite cannot parse the statement', hint: 'check the statement; SQLite dialect, strings in single quotes' },
    QUERY_UNKNOWN_TABLE: { meaning: 'no table of that name (in the mirror, or in a block)', hint: 'list them with `petal query "SELECT DISTINCT name FROM _tables"`' },
    QUERY_TABLE_TOO_WIDE: { meaning: 'the table has more distinct columns across blocks than one SQLite table holds, so the mirror leaves it out', hint: 'query it block by block: petal query --per-block "SELECT … FROM TABLE"' },
    QUERY_UNKNOWN_COLUMN: { meaning: 'no column of that name', hint: 'list a table\'s columns with `petal query "SELECT name FROM pragma_table_info(\'TABLE\')"`' },
    QUERY_SQL_ERROR: { meaning: 'SQLite failed to run the statement (its message says why)', hint: 'correct the statement: each table is the union across blocks, with _height (docs/queries.md)' },
    QUERY_MULTIPLE_STATEMENTS: { meaning: 'more than one SQL statement was given', hint: 'remove everything after the first statement (a trailing ";" is fine)' },
    QUERY_NOT_READONLY: { meaning: 'the statement would change data or schema', hint: 'use SELECT (or WITH … SELECT, VALUES); blocks are changed only by signing new blocks' },
    QUERY_NOT_A_QUERY: { meaning: 'the statement returns no rows (BEGIN, SAVEPOINT, …)', hint: 'use SELECT (or WITH … SELECT, VALUES)' },
    QUERY_ATTACH_REFUSED: { meaning: 'ATTACH and DETACH are not allowed in a query', hint: 'every block\'s tables are already in the query mirror' },
    QUERY_PRAGMA_REFUSED: { meaning: 'the PRAGMA sets something, or is not read-only introspection', hint: 'read-only introspection is allowed, e.g. SELECT * FROM pragma_table_info(\'t\')' },
    QUERY_EXTENSION_REFUSED: { meaning: 'loading SQLite extensions is not allowed', hint: 'queries run with the built-in SQL functions only' },
    QUERY_TIMEOUT: { meaning: 'the statement ran longer than its time limit and was stopped', hint: 'narrow it (WHERE, LIMIT, fewer blocks), or raise --timeout' },
    QUERY_TOO_MANY_ROWS: { meaning: 'the result has more rows than its limit (the CLI\'s --max-rows, the API\'s "max_rows")', hint: 'add a LIMIT or a WHERE clause, or raise --max-rows' },
    QUERY_VALUE_TOO_LARGE: { meaning: 'a value in the result is too large to print (longer than a JavaScript string can be)', hint: 'select part of it (substr(x, 1, n)), its length(x), or a digest of it instead' },
    QUERY_SANDBOX_FAILED: { meaning: 'the query sandbox process failed to start or died', hint: 'run the query again; if it keeps failing, report it with the statement' },
    QUERY_BLOCK_FAILED: { meaning: 'per-block mode: a block returns other columns than the blocks before it, in a format with one header', hint: 'name the columns explicitly instead of SELECT *, or use --format ndjson' },
    QUERY_BLOCK_UNREADABLE: { meaning: 'per-block mode: a block file is not where the index says, or does not match it', hint: 'run `petal verify --repair` to put damaged block files back; if the files are right, `petal reindex`' },
    MIRROR_UNAVAILABLE: { meaning: 'the query mirror (query.db) or the chain index cannot be opened', hint: 'check permissions on the data directory; `petal reindex --query` rebuilds the mirror' },
    MIRROR_BLOCK_MISMATCH: { meaning: 'the mirror cannot be brought up to date: a block file does not match the index', hint: 'run `petal verify --repair`; if the block files are fine, `petal reindex` then `petal reindex --query`' },
    MIRROR_BLOCK_MISSING: { meaning: 'the mirror stops below the tip: a block\'s file is missing or damaged; it keeps every block below and catches up once the file is back', hint: 'put the file back with `petal verify --repair`; until then queries see the blocks below it' },
    MIRROR_SCHEMA: { meaning: 'a block\'s tables cannot be added to the mirror, or the mirror lacks a record it needs', hint: 'rebuild the mirror with `petal reindex --query`' }
  }
}

registerErrorClass(QueryError, 'a query, or the query mirror it reads, failed', queryErrorDocs)

/**
 * A value (or a batch of formatted rows) longer than a JavaScript string can be (~512 MiB): SQLite
 * holds it, but it cannot be printed. V8 says so with a RangeError; Node's Buffer#toString (a BLOB
 * of 256 MiB or more written as hex) with a plain Error coded ERR_STRING_TOO_LONG. Undefined for
 * any other error.
 */
export function valueTooLarge (err: unknown, where?: string): QueryError | undefined {
  if (!(err instanceof Error)) return undefined
  const tooLong = err instanceof RangeError ? /string (longer|length)/i.test(err.message) : (err as NodeJS.ErrnoException).code === 'ERR_STRING_TOO_LONG'
  if (!tooLong) return undefined
  return new QueryError('QUERY_VALUE_TOO_LARGE', `a value in the result is too large to print${where === undefined ? '' : ` (in ${where})`}: ${err.message}`, {
    hint: 'select part of it (substr(x, 1, n)), its length(x), or a digest of it instead'
  })
}

/**
 * Map an SQLite failure of the user's statement to a coded error carrying SQLite's own message.
 * `where` says where it ran ("the query mirror", "block 12").
 */
export function statementError (err: unknown, where?: string): QueryError {
  const code = errorCode(err)
  const msg = errorMessage(err)
  const at = where === undefined ? '' : ` (in ${where})`
  const big = valueTooLarge(err, where)
  if (big !== undefined) return big
  const details = { sqliteCode: code, sqliteMessage: msg }
  // SQLite's words on the client's statement (its names, its tokens) are the client's text
  const quoted = { details: ['sqliteMessage'] }
  const m = quote(msg)
  if (msg.includes('more than one statement')) {
    return new QueryError('QUERY_MULTIPLE_STATEMENTS', 'only one SQL statement can run at a time', { hint: 'remove everything after the first statement (a trailing ";" is fine)', details, quoted })
  }
  if (/syntax error|incomplete input|unrecognized token/.test(msg)) {
    return new QueryError('QUERY_SYNTAX', said`SQL syntax error: ${m}${at}`, { hint: 'check the statement; SQLite dialect, strings in single quotes', details, quoted })
  }
  if (msg.startsWith('no such table')) {
    return new QueryError('QUERY_UNKNOWN_TABLE', said`${m}${at}`, { hint: 'no block has a table of that name; list them with `petal query "SELECT DISTINCT name FROM _tables"`', details, quoted })
  }
  if (msg.startsWith('no such column')) {
    return new QueryError('QUERY_UNKNOWN_COLUMN', said`${m}${at}`, { hint: 'list a table\'s columns with `petal query "SELECT name FROM pragma_table_info(\'TABLE\')"`', details, quoted })
  }
  if (code === 'SQLITE_NOMEM' || code === 'SQLITE_TOOBIG') {
    return new QueryError('QUERY_SQL_ERROR', said`the statement needs too much memory: ${m}${at}`, { hint: 'aggregate more, or select fewer or smaller values', details, quoted })
  }
  return new QueryError('QUERY_SQL_ERROR', said`SQLite error: ${m}${at}`, { details, quoted })
}
