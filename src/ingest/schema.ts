import { BlockError, inspectSchema, MAX_USER_TABLES, quoteIdent } from '../block/index.js'
import { openSqlite, type SqliteDb } from '../storage/index.js'
import { IngestError } from './errors.js'
import { quote, quoteEach, said, type Said } from '../util/index.js'

/**
 * Table schemas of ingested rows. A table is declared with a CREATE TABLE statement or created
 * from the first rows' types; either way SQLite itself checks the statement, in a scratch
 * in-memory database, against the rules a block's schema must follow (src/block/schema.ts), so a
 * table that is accepted here can always be sealed.
 */

/** How a column types its values: SQLite's affinity, with BLOB (declared `BLOB`) and ANY (no type) apart. */
export type ColumnKind = 'INTEGER' | 'REAL' | 'NUMERIC' | 'TEXT' | 'BLOB' | 'ANY'

export interface Column { name: string, kind: ColumnKind }

export interface TableSchema {
  name: string
  /** The CREATE TABLE statement as SQLite stores it (with any columns added since). */
  sql: string
  /** The statement it was declared with; undefined for a table created from rows. */
  declared?: string
  columns: Column[]
  /** Taken from the chain at this append (chainTable): the block whose definition it is. Not stored. */
  chain?: { height: number }
}

/** Table names: a letter, then letters, digits and `_` (they appear in URLs and in every query). */
const TABLE_NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/

export function checkTableName (name: string): void {
  if (!TABLE_NAME.test(name)) {
    throw new IngestError('INGEST_BAD_TABLE', said`${quote(JSON.stringify(name.slice(0, 100)))} is not a table name Petal accepts`, {
      hint: 'use 1 to 64 characters: a letter, then letters, digits or _ (names starting with _ or sqlite_ are reserved)', details: { table: name.slice(0, 100) }, quoted: { details: ['table'] }
    })
  }
  if (name.toLowerCase().startsWith('sqlite_')) throw new IngestError('INGEST_BAD_TABLE', said`table names starting with sqlite_ are reserved by SQLite (${quote(name)})`, { hint: 'rename the table', details: { table: name }, quoted: { details: ['table'] } })
}

/** SQLite's affinity rules (https://sqlite.org/datatype3.html, 3.1), in their order. */
export function kindOfType (declared: string, strict: boolean): ColumnKind {
  const t = declared.toUpperCase()
  if (strict && t === 'ANY') return 'ANY'
  if (t.includes('INT')) return 'INTEGER'
  if (t.includes('CHAR') || t.includes('CLOB') || t.includes('TEXT')) return 'TEXT'
  if (t.includes('BLOB')) return 'BLOB'
  if (t === '') return 'ANY'
  if (t.includes('REAL') || t.includes('FLOA') || t.includes('DOUB')) return 'REAL'
  return 'NUMERIC'
}

/** A scratch in-memory database with SQLite's defences on, as a block is built. */
export function scratchDb (): SqliteDb {
  const db = openSqlite(':memory:')
  db.pragma('trusted_schema = OFF')
  db.pragma('foreign_keys = OFF')
  return db
}

const bad = (name: string, message: string | Said, hint: string): IngestError => new IngestError('INGEST_BAD_TABLE', message, { hint, details: { table: name }, quoted: { details: ['table'] } })

/**
 * Check that `sql` is one CREATE TABLE statement for `name` with column definitions (no AS
 * SELECT, no schema prefix, no TEMP) before anything runs it. SQLite then checks the rest.
 */
function checkShape (name: string, sql: string): void {
  const tokens = leadingTokens(sql, 8)
  const up = (i: number): string => (tokens[i] ?? '').toUpperCase()
  let i = 0
  if (up(i++) !== 'CREATE' || up(i++) !== 'TABLE') {
    throw bad(name, 'the statement must be one CREATE TABLE statement', `for example: CREATE TABLE ${name} (id INTEGER PRIMARY KEY, note TEXT NOT NULL)`)
  }
  if (up(i) === 'IF') i += 3
  i++ // the name
  if (tokens[i] === '.') throw bad(name, 'the table name must not name a schema (main., temp.)', `write CREATE TABLE ${name} (…)`)
  if (tokens[i] !== '(') throw bad(name, 'the CREATE TABLE statement must list its columns in parentheses (AS SELECT is not accepted)', `write CREATE TABLE ${name} (column TYPE, …)`)
}

/** The first `n` tokens of an SQL text: words, quoted names, punctuation; comments and blanks skipped. */
function leadingTokens (sql: string, n: number): string[] {
  const out: string[] = []
  let i = 0
  while (out.length < n && i < sql.length) {
    const c = sql[i] as string
    if (/\s/.test(c)) { i++; continue }
    if (sql.startsWith('--', i)) { const e = sql.indexOf('\n', i); i = e < 0 ? sql.length : e + 1; continue }
    if (sql.startsWith('/*', i)) { const e = sql.indexOf('*/', i + 2); i = e < 0 ? sql.length : e + 2; continue }
    const close = c === '"' ? '"' : c === '`' ? '`' : c === '[' ? ']' : c === "'" ? "'" : undefined
    if (close !== undefined) {
      let j = i + 1
      for (;;) {
        const k = sql.indexOf(close, j)
        if (k < 0) { j = sql.length; break }
        if (close !== ']' && sql[k + 1] === close) { j = k + 2; continue }
        j = k + 1
        break
      }
      out.push(sql.slice(i, j))
      i = j
      continue
    }
    const m = /^[A-Za-z0-9_$\u0080-\uffff]+/.exec(sql.slice(i, i + 200))
    if (m !== null) { out.push(m[0]); i += m[0].length; continue }
    out.push(c)
    i++
  }
  return out
}

/** Read a table's columns and kinds from a database that holds it. */
export function describeTable (db: SqliteDb, name: string): { sql: string, columns: Column[] } {
  const row = db.prepare("SELECT name, sql FROM sqlite_schema WHERE type = 'table' AND name = ? COLLATE NOCASE").get(name) as { name: string, sql: string } | undefined
  if (row === undefined) throw new Error(`table ${name} is missing from its scratch database`)
  const list = db.prepare("SELECT strict FROM pragma_table_list WHERE schema = 'main' AND name = ?").get(row.name) as { strict: number } | undefined
  const strict = list?.strict === 1
  const cols = db.prepare('SELECT name, type FROM pragma_table_xinfo(?) WHERE hidden = 0').all(row.name) as Array<{ name: string, type: string }>
  return { sql: row.sql, columns: cols.map(c => ({ name: c.name, kind: kindOfType(c.type, strict) })) }
}

/**
 * Validate a table definition in `db` (a scratch database holding only it) against the block
 * schema rules, and describe it. Maps the block module's refusals to INGEST_BAD_TABLE.
 */
function checkAgainstBlockRules (db: SqliteDb, name: string): void {
  const objects = db.prepare('SELECT type, name, sql FROM sqlite_schema').all() as Array<{ type: string, name: string, sql: string | null }>
  const tables = objects.filter(o => o.type === 'table' && !o.name.toLowerCase().startsWith('sqlite_'))
  const others = objects.filter(o => !(o.type === 'table' || (o.type === 'index' && o.sql === null)))
  if (tables.length !== 1 || others.length > 0) throw bad(name, 'the statement must create exactly one ordinary table', `CREATE TABLE ${name} (…)`)
  const t = tables[0] as { name: string }
  if (t.name.toLowerCase() !== name.toLowerCase()) throw bad(name, said`the statement creates table ${quote(JSON.stringify(t.name))}, not ${quote(JSON.stringify(name))}`, 'name the same table in the path and in the statement')
  try {
    const info = inspectSchema(db, 'input')
    const u = info.userTables[0]
    if (u?.withoutRowid === true) throw bad(name, 'WITHOUT ROWID tables are not accepted for ingestion: receipts and proofs name a row by its rowid', 'drop WITHOUT ROWID; a UNIQUE constraint keeps the key unique within a block')
  } catch (err) {
    if (err instanceof BlockError) {
      const code = /column name/.test(err.message) ? 'INGEST_BAD_COLUMN' : 'INGEST_BAD_TABLE'
      throw new IngestError(code, quote(err.message), { hint: err.hint, details: { table: name }, quoted: { details: ['table'] } })
    }
    throw err
  }
}

/** Declare a table: validate `sql` in a scratch database and describe it. */
export function declareTable (name: string, sql: string): TableSchema {
  checkTableName(name)
  const text = sql.trim().replace(/;\s*$/, '')
  checkShape(name, text)
  const db = scratchDb()
  try {
    try {
      db.prepare(text).run()
    } catch (err) {
      throw bad(name, said`SQLite refused the statement: ${quote((err as Error).message)}`, 'check the statement with sqlite3; one CREATE TABLE statement, with column definitions')
    }
    checkAgainstBlockRules(db, name)
    const d = describeTable(db, name)
    if (d.columns.length === 0) throw bad(name, 'the table has no columns', `CREATE TABLE ${name} (column TYPE, …)`)
    return { name, sql: d.sql, declared: text, columns: d.columns }
  } finally {
    db.close()
  }
}

const KIND_TYPE: Record<ColumnKind, string> = { INTEGER: 'INTEGER', REAL: 'REAL', NUMERIC: 'NUMERIC', TEXT: 'TEXT', BLOB: 'BLOB', ANY: '' }

/** Columns an INGEST_BAD_COLUMN message names (the rest are counted). */
const NAMED_COLUMNS = 20

/**
 * A table with new columns: a new table from rows (`table` undefined) or `table` with columns
 * added (ALTER TABLE … ADD COLUMN in a scratch database, so the DDL is exactly what SQLite writes).
 */
export function extendTable (name: string, table: TableSchema | undefined, added: readonly Column[]): TableSchema {
  if (table === undefined) checkTableName(name)
  const db = scratchDb()
  try {
    try {
      if (table === undefined) {
        db.exec(`CREATE TABLE ${quoteIdent(name)} (${added.map(c => `${quoteIdent(c.name)} ${KIND_TYPE[c.kind]}`.trim()).join(', ')})`)
      } else {
        db.exec(table.sql)
        for (const c of added) db.exec(`ALTER TABLE ${quoteIdent(table.name)} ADD COLUMN ${quoteIdent(c.name)} ${KIND_TYPE[c.kind]}`)
      }
    } catch (err) {
      // A NUL ends SQLite's reading of the statement ("unrecognized token"): the 2000-column
      // hint was not true of it (http35).
      const nul = added.find(c => c.name.includes('\u0000'))
      // At most NAMED_COLUMNS names: a request may bring thousands, and the reply is no place for them all.
      const named = said`${quoteEach(added.slice(0, NAMED_COLUMNS).map(c => JSON.stringify(c.name)))}${added.length > NAMED_COLUMNS ? ` and ${added.length - NAMED_COLUMNS} more` : ''}`
      throw new IngestError('INGEST_BAD_COLUMN', said`cannot add column(s) ${named} to ${quote(name)}: ${nul === undefined ? quote((err as Error).message) : said`${quote(JSON.stringify(nul.name))} holds a NUL character (U+0000), which SQLite cannot take in a name`}`, {
        hint: nul === undefined ? 'SQLite allows at most 2000 columns; rename or drop fields' : 'rename the field without the NUL character', details: { table: name }, quoted: { details: ['table'] }
      })
    }
    checkAgainstBlockRules(db, name)
    const d = describeTable(db, name)
    return { name: table?.name ?? name, sql: d.sql, declared: table?.declared, columns: d.columns }
  } finally {
    db.close()
  }
}

/** At most this many tables in one block (the block format's limit). */
export const MAX_TABLES_PER_BLOCK = MAX_USER_TABLES

/**
 * The chain's definition of a table that pending.db does not have yet, as a first write to it
 * takes it (docs/ingest.md, "Tables and types"): `sql` from the highest canonical block that
 * has the table. A definition a table created from rows would have (the same text from its
 * columns, as extendTable writes it) stays one, so its rows keep the JSON fast lane; any other is
 * taken as declared, so its constraints are checked when rows are appended. A definition ingest
 * cannot write to (WITHOUT ROWID, a reserved column…) is refused: the chain's table cannot change.
 */
export function chainTable (c: { name: string, sql: string, height: number }): TableSchema {
  let t: TableSchema
  try {
    t = declareTable(c.name, c.sql)
  } catch (err) {
    if (!(err instanceof IngestError)) throw err
    throw bad(c.name, said`the chain's table ${quote(c.name)} (block ${c.height}) cannot take appended rows: ${quote(err.message)}`, 'write the rows to a table of another name (the chain\'s table keeps its definition)')
  }
  const plain = extendTable(c.name, undefined, t.columns)
  return plain.sql === t.sql ? { ...plain, chain: { height: c.height } } : { ...t, chain: { height: c.height } }
}
