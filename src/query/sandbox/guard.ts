import { type SqliteStatement } from '../../storage/index.js'
import { QueryError } from '../errors.js'
import { asciiLower } from '../names.js'
import { quote, said } from '../../util/index.js'
import { identifierOf, tokenize, type Token } from './tokenize.js'

// PRAGMAs a query may run. Bare form: these only report. With an argument: the argument names a
// table or index (or limits a check), it never sets anything. Every other PRAGMA is refused.
const ARG_PRAGMAS = new Set(['table_info', 'table_xinfo', 'index_list', 'index_info', 'index_xinfo', 'foreign_key_list', 'foreign_key_check', 'integrity_check', 'quick_check', 'table_list'])
const BARE_PRAGMAS = new Set([...ARG_PRAGMAS, 'collation_list', 'function_list', 'module_list', 'pragma_list', 'compile_options',
  'data_version', 'schema_version', 'user_version', 'application_id', 'encoding', 'page_size', 'page_count', 'freelist_count', 'foreign_keys', 'query_only', 'trusted_schema'])

const REFUSED_FUNCTIONS = new Set(['load_extension'])
// database_list names the files a statement reads (query.db, a block's file): the paths of the
// node's machine, which an exposed node tells no client (docs/api.md). A query needs none of it.
// SQLite also takes a string literal where only a name fits (FROM 'pragma_database_list'), so a
// string with exactly such a name is refused too (SELECT 'pragma_database_list' with it: rare).
const REFUSED_TABLES = new Set(['pragma_database_list'])
// Statements that change something, refused by their first word even when SQLite could not
// compile them here (INSERT into a mirror table with other columns is a write before it is an error).
const WRITE_HEADS = new Set(['INSERT', 'UPDATE', 'DELETE', 'REPLACE', 'CREATE', 'DROP', 'ALTER', 'VACUUM', 'ANALYZE', 'REINDEX'])

const word = (t: Token | undefined): string => (t?.kind === 'word' ? t.text.toUpperCase() : '')

/**
 * Refuse, before SQLite compiles it, what a query must never do, with a clear code: ATTACH and
 * DETACH (SQLite calls them read-only), PRAGMAs that set anything, and extension loading. The
 * connection is read-only and query_only as well, so this is the explanation, not the only wall.
 */
export function checkStatementText (sql: string): void {
  explainedPart(sql)
}

/**
 * Check `sql` (see checkStatementText) and return the statement an EXPLAIN prefix describes (the
 * whole text when there is none): per-block planning compiles that part to see which tables it reads.
 */
export function explainedPart (sql: string): string {
  const tokens = tokenize(sql)
  if (tokens.length === 0 || tokens.every(t => t.text === ';')) throw new QueryError('QUERY_EMPTY', 'the SQL statement is empty', { hint: 'give one SELECT statement, e.g. petal query "SELECT COUNT(*) FROM _blocks"' })
  // SQLite skips empty statements before the first one, so the guard must too.
  let i = 0
  while (tokens[i]?.text === ';') i++
  if (word(tokens[i]) === 'EXPLAIN') {
    i++
    if (word(tokens[i]) === 'QUERY' && word(tokens[i + 1]) === 'PLAN') i += 2
  }
  const head = word(tokens[i])
  if (head === 'ATTACH' || head === 'DETACH') {
    throw new QueryError('QUERY_ATTACH_REFUSED', `${head} is not allowed in a query`, { hint: 'a query sees the query mirror (or one block) only; every block\'s tables are already in it' })
  }
  if (WRITE_HEADS.has(head)) throw notReadonly()
  if (head === 'PRAGMA') checkPragma(tokens.slice(i + 1))
  for (let j = 0; j < tokens.length; j++) {
    const name = identifierOf(tokens[j])
    if (name !== undefined && REFUSED_FUNCTIONS.has(asciiLower(name)) && tokens[j + 1]?.text === '(') {
      throw new QueryError('QUERY_EXTENSION_REFUSED', 'loading SQLite extensions is not allowed', { hint: 'queries run with the built-in SQL functions only' })
    }
    const table = name ?? stringBody(tokens[j])
    if (table !== undefined && REFUSED_TABLES.has(asciiLower(table))) refusePragma('database_list', 'it names the files of the node\'s machine')
  }
  return sql.slice(tokens[i]?.start ?? 0)
}

/** The text of a plain string literal ('…', not a blob X'…'), else undefined. */
function stringBody (t: Token | undefined): string | undefined {
  if (t?.kind !== 'string' || !t.text.startsWith('\'')) return undefined
  return t.text.slice(1, t.text.length >= 2 && t.text.endsWith('\'') ? -1 : undefined).replaceAll('\'\'', '\'')
}

function notReadonly (): QueryError {
  return new QueryError('QUERY_NOT_READONLY', 'only read-only statements can run: this one would change data or schema', { hint: 'use SELECT (or WITH … SELECT, VALUES); blocks are changed only by signing new blocks' })
}

/** Refuse PRAGMA `name` (the statement's word, quoted in the message). */
function refusePragma (name: string | undefined, why: string): never {
  throw new QueryError('QUERY_PRAGMA_REFUSED', said`PRAGMA ${quote(name ?? '')} is not allowed in a query: ${why}`, {
    hint: `read-only introspection is allowed: PRAGMA ${[...ARG_PRAGMAS].slice(0, 3).join('(…), ')}(…), or SELECT * FROM pragma_table_info('t')`,
    details: { pragma: name },
    quoted: { details: ['pragma'] }
  })
}

function checkPragma (rest: Token[]): void {
  let k = 0
  let name = identifierOf(rest[k])
  if (rest[k + 1]?.text === '.') { k += 2; name = identifierOf(rest[k]) }
  const refuse = (why: string): never => refusePragma(name, why)
  if (name === undefined) return refuse('no pragma name')
  const key = asciiLower(name)
  const next = rest[k + 1]
  if (next === undefined || next.text === ';') {
    if (key === 'database_list') refuse('it names the files of the node\'s machine')
    if (!BARE_PRAGMAS.has(key)) refuse('it is not a read-only introspection pragma')
    return
  }
  if (next.text === '=') refuse('it sets a value')
  if (next.text === '(' && ARG_PRAGMAS.has(key)) return
  refuse(next.text === '(' ? 'with an argument it sets a value' : 'unexpected text after the pragma name')
}

/**
 * After SQLite compiled the statement: only statements that read and return rows may run.
 * (`readonly` alone is not enough: SQLite reports ATTACH, BEGIN and some PRAGMAs as read-only.)
 */
export function checkCompiled (stmt: SqliteStatement): void {
  if (!stmt.readonly) throw notReadonly()
  if (!stmt.reader) {
    throw new QueryError('QUERY_NOT_A_QUERY', 'the statement returns no rows (BEGIN, SAVEPOINT, …), so there is nothing to run', { hint: 'use SELECT (or WITH … SELECT, VALUES)' })
  }
}
