import { ALLOWED_SQLITE_TABLES, KEYS_COLUMNS, KEYS_DDL, MAX_USER_TABLES, META_DDL, RECIPIENTS_DDL, RECIPIENTS_TABLE, RESERVED_COLUMNS, RESERVED_TABLES, TABLES_DDL } from './constants.js'
import { BlockError } from './errors.js'
import { moduleOf, neutraliseModules, type Db } from './sqlite.js'

/** A user (data) table of a block: a rowid table or a WITHOUT ROWID one. */
export type UserTable = RowidTable | WithoutRowidTable

interface TableCommon {
  name: string
  sql: string
  columns: string[]
}

export interface RowidTable extends TableCommon {
  withoutRowid: false
  /** An alias of the rowid not shadowed by a column, for ordering rowid tables. */
  rowidAlias: string
  primaryKey: []
}

export interface WithoutRowidTable extends TableCommon {
  withoutRowid: true
  /** Primary-key columns in key order. */
  primaryKey: string[]
  /** The primary-key index, which for a WITHOUT ROWID table is the table's own b-tree. */
  primaryKeyIndex: string
  rowidAlias?: undefined
}

export interface SchemaInfo {
  userTables: UserTable[]
  has: { meta: boolean, keys: boolean, tables: boolean, recipients: boolean }
}

export interface SchemaRow { type: string, name: string, tbl_name: string, sql: string | null }
export interface ListedTable { name: string, type: string, wr: number }

/**
 * A table name as a PRAGMA's argument, which cannot be a bound parameter: an SQL string literal,
 * as SQLite's pragma_* virtual tables write it (%Q) for the PRAGMA they run.
 */
export function quoteString (s: string): string {
  return "'" + s.replaceAll("'", "''") + "'"
}

const HAS = { _meta: 'meta', _keys: 'keys', _tables: 'tables' } as const

const notAllowed = (what: string, hint: string): BlockError => new BlockError('SCHEMA_NOT_ALLOWED', what, { hint })

/** Byte-wise (UTF-8) order, the order SQLite's BINARY collation gives; used for table names. */
export function compareNames (a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))
}

/** The ordinary tables of a block's schema as SQLite parsed it, each with the CREATE text it came from. */
export interface SchemaObjects {
  tables: Array<{ name: string, sql: string, withoutRowid: boolean }>
}

/**
 * What the block's schema is, as SQLite itself reads it — never from the SQL text. Reading
 * `sqlite_schema` makes SQLite parse every CREATE statement in it; SQLite checks that each row's
 * type, name and table name agree with what its statement creates (so a row cannot call a virtual
 * table, view or trigger a "table"), and `PRAGMA table_list` then says what each table-like object
 * is: an ordinary table, a view, a virtual table or a virtual table's shadow table. Only ordinary
 * tables and indexes are allowed. Virtual-table modules are inert on block connections
 * (neutraliseModules), so asking runs none of their code.
 */
export function readSchemaObjects (db: Db): SchemaObjects {
  return schemaObjectsOf(db, readSchemaRows(db))
}

/** The rows of `sqlite_schema` and of `PRAGMA table_list` (without sqlite_schema), as SQLite gives them; nothing checked yet. */
export interface SchemaRows { rows: SchemaRow[], listed: ListedTable[] }

/** readSchemaObjects' two reads, which only read (a caller may look at them before the checks). */
export function readSchemaRows (db: Db): SchemaRows {
  neutraliseModules(db)
  const rows = db.prepare<unknown[], SchemaRow>('SELECT type, name, tbl_name, sql FROM main.sqlite_schema').all()
  // The PRAGMA statements, not the pragma_* table-valued functions: each of those is a virtual
  // table that prepares the same PRAGMA inside it (a second parse, and a virtual-table connect that
  // parses a CREATE TABLE of its own), for the same rows (docs/performance/catchup.md, "Session 9:
  // the load threads' checks").
  const listed = db.prepare<unknown[], ListedTable>('PRAGMA main.table_list').all().filter(t => t.name !== 'sqlite_schema')
  return { rows, listed }
}

/** readSchemaObjects' checks of what readSchemaRows read. */
export function schemaObjectsOf (db: Db, { rows, listed: unsorted }: SchemaRows): SchemaObjects {
  const listed = [...unsorted].sort((a, b) => compareNames(a.name, b.name))
  for (const t of listed) {
    if (t.type === 'table') continue
    const what = JSON.stringify(t.name)
    if (t.type === 'virtual') {
      const module = moduleOf(db, t.name)
      throw notAllowed(`virtual tables are not allowed in a block (${what}${module === undefined ? ', a module this node does not have' : ` USING ${module}`})`, 'copy the data into an ordinary table')
    }
    if (t.type === 'view') throw notAllowed(`views are not allowed in a block (view ${what})`, 'drop the view, or materialise it as a table')
    if (t.type === 'shadow') throw notAllowed(`shadow tables of virtual tables are not allowed in a block (${what})`, 'copy the data into an ordinary table')
    throw notAllowed(`unexpected schema object ${t.type} ${what}`, 'a block may contain only tables and indexes')
  }
  const tableRows = new Map<string, SchemaRow[]>()
  for (const r of rows) {
    // SQLite has checked the type of every row it parsed (a CREATE TRIGGER row must say 'trigger').
    if (r.type === 'trigger') throw notAllowed(`triggers are not allowed in a block (trigger ${JSON.stringify(r.name)})`, 'drop the trigger: a block is data, not code')
    if (r.type === 'view') throw notAllowed(`views are not allowed in a block (view ${JSON.stringify(r.name)})`, 'drop the view, or materialise it as a table')
    if (r.type === 'index') continue
    if (r.type !== 'table') throw notAllowed(`unexpected schema object ${JSON.stringify(r.type)} ${JSON.stringify(r.name)}`, 'a block may contain only tables and indexes')
    tableRows.set(r.name, [...(tableRows.get(r.name) ?? []), r])
  }
  // SQLite compares a row's name with its statement's case-insensitively; a block must agree exactly,
  // so that the name and CREATE text Petal records are the ones SQLite uses.
  const edited = (why: string): BlockError => notAllowed(`sqlite_schema disagrees with SQLite's reading of it: ${why}`, 'the schema was edited by hand (writable_schema); recreate the tables with CREATE TABLE')
  const tables: SchemaObjects['tables'] = []
  for (const t of listed) {
    const own = tableRows.get(t.name) ?? []
    const row = own[0]
    if (own.length !== 1 || row === undefined || row.sql === null) throw edited(`table ${JSON.stringify(t.name)} has ${own.length} rows of its own`)
    tables.push({ name: t.name, sql: row.sql, withoutRowid: t.wr === 1 })
    tableRows.delete(t.name)
  }
  for (const name of tableRows.keys()) throw edited(`the row of table ${JSON.stringify(name)} names no table SQLite knows by that name`)
  return { tables }
}

/**
 * An empty array with the elements kind of a list of objects. V8 gives `[]` (and `map` of an empty
 * array) the kind of small integers, so code optimised on blocks with tables met a block without
 * any (genesis, a key operation) with another map and deoptimised ("wrong map", at
 * checkManifestShape's and rowsRootOf's `length`: twice per isolate; docs/performance/reviews.md,
 * "Session 32: mends").
 */
export function emptyObjects<T extends object> (): T[] {
  const a: Array<T | undefined> = [undefined]
  a.length = 0
  return a as T[]
}

/**
 * Check a block's schema against the allow-list — ordinary tables and indexes only, reserved
 * tables with exactly the expected shape — and describe its user tables, sorted by name.
 * `version` 1 (Daisy) accepts Daisy's reserved-table DDL and any user table name.
 */
export function inspectSchema (db: Db, version: 1 | 2 | 'input', objects: SchemaObjects = readSchemaObjects(db)): SchemaInfo {
  const has = { meta: false, keys: false, tables: false, recipients: false }
  const userTables: UserTable[] = emptyObjects()
  for (const t of objects.tables) {
    if (t.name.toLowerCase().startsWith('sqlite_')) {
      if (!ALLOWED_SQLITE_TABLES.has(t.name.toLowerCase())) throw notAllowed(`internal table ${t.name} is not allowed`, 'a block may contain only tables and indexes')
      continue
    }
    const reserved = RESERVED_TABLES.find(r => r === t.name.toLowerCase())
    if (reserved !== undefined) {
      checkReserved(db, reserved, t, version)
      has[HAS[reserved]] = true
      continue
    }
    if (version !== 1 && t.name.toLowerCase() === RECIPIENTS_TABLE) {
      // Its DDL is checked byte for byte in input files too: it is only ever written by Petal.
      if (t.name !== RECIPIENTS_TABLE || t.sql !== RECIPIENTS_DDL) {
        throw new BlockError('RESERVED_SCHEMA', `reserved table ${RECIPIENTS_TABLE} has the wrong shape: DDL differs from the v2 definition`, {
          hint: version === 'input' ? `drop ${RECIPIENTS_TABLE} from the input file; Petal writes it (--encrypt)` : undefined,
          details: { table: RECIPIENTS_TABLE }
        })
      }
      has.recipients = true
      continue
    }
    if (version !== 1 && t.name.startsWith('_')) {
      throw notAllowed(`table name ${JSON.stringify(t.name)} is reserved: names starting with "_" belong to Petal`, 'rename the table')
    }
    userTables.push(describeTable(db, t.name, t.sql, t.withoutRowid, version))
  }
  if (userTables.length > MAX_USER_TABLES) throw notAllowed(`block has ${userTables.length} tables; at most ${MAX_USER_TABLES} are allowed`, 'merge tables or split the data over several blocks')
  userTables.sort((a, b) => compareNames(a.name, b.name))
  return { userTables, has }
}

function describeTable (db: Db, name: string, sql: string, withoutRowid: boolean, version: 1 | 2 | 'input'): UserTable {
  const info = db.prepare<unknown[], { name: string, pk: number, hidden: number }>(`PRAGMA main.table_xinfo(${quoteString(name)})`).all()
  const columns: string[] = []
  for (const c of info) {
    if (c.hidden === 2 || c.hidden === 3) throw notAllowed(`generated column ${JSON.stringify(c.name)} in table ${JSON.stringify(name)} is not allowed`, 'store the computed values in an ordinary column')
    if (version !== 1 && RESERVED_COLUMNS.some(rc => rc === c.name.toLowerCase())) throw notAllowed(`column name ${JSON.stringify(c.name)} in table ${JSON.stringify(name)} is reserved for the query engine`, 'rename the column')
    columns.push(c.name)
  }
  if (withoutRowid) {
    const primaryKey = info.filter(c => c.pk > 0).sort((a, b) => a.pk - b.pk).map(c => c.name)
    const primaryKeyIndex = db.prepare<unknown[], { name: string, origin: string }>(`PRAGMA main.index_list(${quoteString(name)})`).all().find(i => i.origin === 'pk')?.name
    if (primaryKeyIndex === undefined) throw notAllowed(`WITHOUT ROWID table ${JSON.stringify(name)} has no primary-key index`, 'recreate the table with CREATE TABLE')
    return { name, sql, columns, withoutRowid: true, primaryKey, primaryKeyIndex }
  }
  const lower = new Set(columns.map(c => c.toLowerCase()))
  const rowidAlias = ['rowid', '_rowid_', 'oid'].find(a => !lower.has(a))
  if (rowidAlias === undefined) throw notAllowed(`table ${JSON.stringify(name)} shadows every rowid alias (rowid, _rowid_, oid)`, 'rename one of those columns')
  return { name, sql, columns, withoutRowid: false, rowidAlias, primaryKey: [] }
}

const V2_DDL: Record<string, string> = { _meta: META_DDL, _keys: KEYS_DDL, _tables: TABLES_DDL }

function checkReserved (db: Db, table: string, r: { name: string, sql: string }, version: 1 | 2 | 'input'): void {
  const wrongShape = (why: string): BlockError => new BlockError('RESERVED_SCHEMA', `reserved table ${table} has the wrong shape: ${why}`, {
    hint: version === 'input' ? `drop ${table} from the input file, or give it exactly the documented columns` : undefined,
    details: { table }
  })
  if (r.name !== table) throw wrongShape(`name must be lower case ${table}`)
  if (version === 2) {
    if (r.sql !== V2_DDL[table]) throw wrongShape('DDL differs from the v2 definition')
    return
  }
  // v1 blocks and input files: check columns and keys rather than the DDL text (Daisy's has comments).
  const cols = db.prepare<unknown[], { name: string, type: string, pk: number }>(`PRAGMA main.table_info(${quoteString(table)})`).all()
  const names = cols.map(c => c.name.toLowerCase())
  // The declared type's affinity by SQLite's own rule, not a pattern over the type's text.
  const textish = (t: string): boolean => affinityOf(t) === 'TEXT'
  if (table === '_meta') {
    if (names.join() !== 'key,value' || !cols.every(c => textish(c.type)) || cols[0]?.pk !== 1) throw wrongShape('expected (key TEXT PRIMARY KEY, value TEXT)')
  } else if (table === '_keys') {
    if (names.join() !== KEYS_COLUMNS.join() || !cols.every(c => textish(c.type))) throw wrongShape(`expected columns (${KEYS_COLUMNS.join(', ')})`)
    const pk = cols.filter(c => c.pk > 0).sort((a, b) => a.pk - b.pk).map(c => c.name.toLowerCase()).join()
    // Without this key one signer could fill a quorum alone (Daisy defect C2). Daisy never required
    // it, so a v1 block may lack it: the v1 chain check reports a signer counted twice instead.
    if (pk !== 'pubkey_hash,sigkey_hash' && version !== 1) throw wrongShape('PRIMARY KEY (pubkey_hash, sigkey_hash) is required')
  } else {
    if (version === 1) throw wrongShape('v1 blocks have no _tables')
    if (names.join() !== 'name,sql,rows,root') throw wrongShape('expected columns (name, sql, rows, root)')
  }
}

/** SQLite's five column affinities (https://sqlite.org/datatype3.html §3.1). */
export type Affinity = 'INTEGER' | 'TEXT' | 'BLOB' | 'REAL' | 'NUMERIC'

/**
 * The affinity SQLite gives a declared column type (its sqlite3AffinityType, §3.1): the first rule
 * that matches a substring wins, compared without case for ASCII letters only, as SQLite folds
 * them (a Unicode case fold would turn "ınt" into INT where SQLite sees NUMERIC). `strict` tables
 * give ANY no affinity.
 */
export function affinityOf (declared: string, strict = false): Affinity {
  const t = declared.replace(/[a-z]/g, c => String.fromCharCode(c.charCodeAt(0) - 32))
  if (strict && t === 'ANY') return 'BLOB'
  if (t.includes('INT')) return 'INTEGER'
  if (t.includes('CHAR') || t.includes('CLOB') || t.includes('TEXT')) return 'TEXT'
  if (t.includes('BLOB') || t === '') return 'BLOB'
  if (t.includes('REAL') || t.includes('FLOA') || t.includes('DOUB')) return 'REAL'
  return 'NUMERIC'
}
