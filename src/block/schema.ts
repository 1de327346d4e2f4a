import { ALLOWED_SQLITE_TABLES, KEYS_COLUMNS, KEYS_DDL, MAX_USER_TABLES, META_DDL, RESERVED_COLUMNS, RESERVED_TABLES, TABLES_DDL } from './constants.js'
import { BlockError } from './errors.js'
import type { Db } from './sqlite.js'

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
  rowidAlias?: undefined
}

export interface SchemaInfo {
  userTables: UserTable[]
  has: { meta: boolean, keys: boolean, tables: boolean }
}

interface MasterRow { type: string, name: string, tbl_name: string, sql: string | null }

const HAS = { _meta: 'meta', _keys: 'keys', _tables: 'tables' } as const

const notAllowed = (what: string, hint: string): BlockError => new BlockError('SCHEMA_NOT_ALLOWED', what, { hint })

/** Byte-wise (UTF-8) order, the order SQLite's BINARY collation gives; used for table names. */
export function compareNames (a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))
}

/**
 * Check a block's schema against the allow-list — ordinary tables and indexes only, reserved
 * tables with exactly the expected shape — and describe its user tables, sorted by name.
 * `version` 1 (Daisy) accepts Daisy's reserved-table DDL and any user table name.
 */
export function inspectSchema (db: Db, version: 1 | 2 | 'input'): SchemaInfo {
  const rows = db.prepare<unknown[], MasterRow>('SELECT type, name, tbl_name, sql FROM sqlite_schema').all()
  const has = { meta: false, keys: false, tables: false }
  const userTables: UserTable[] = []
  for (const r of rows) {
    if (r.type === 'trigger') throw notAllowed(`triggers are not allowed in a block (trigger ${JSON.stringify(r.name)})`, 'drop the trigger: a block is data, not code')
    if (r.type === 'view') throw notAllowed(`views are not allowed in a block (view ${JSON.stringify(r.name)})`, 'drop the view, or materialise it as a table')
    if (r.type === 'index') continue
    if (r.type !== 'table') throw notAllowed(`unexpected schema object ${r.type} ${JSON.stringify(r.name)}`, 'a block may contain only tables and indexes')
    if (/^\s*CREATE\s+VIRTUAL\s+TABLE/i.test(r.sql ?? '')) throw notAllowed(`virtual tables are not allowed in a block (${JSON.stringify(r.name)})`, 'copy the data into an ordinary table')
    if (r.name.toLowerCase().startsWith('sqlite_')) {
      if (!ALLOWED_SQLITE_TABLES.has(r.name.toLowerCase())) throw notAllowed(`internal table ${r.name} is not allowed`, 'a block may contain only tables and indexes')
      continue
    }
    const reserved = RESERVED_TABLES.find(t => t === r.name.toLowerCase())
    if (reserved !== undefined) {
      checkReserved(db, reserved, r, version)
      has[HAS[reserved]] = true
      continue
    }
    if (version !== 1 && r.name.startsWith('_')) {
      throw notAllowed(`table name ${JSON.stringify(r.name)} is reserved: names starting with "_" belong to Petal`, 'rename the table')
    }
    userTables.push(describeTable(db, r.name, r.sql ?? '', version))
  }
  if (userTables.length > MAX_USER_TABLES) throw notAllowed(`block has ${userTables.length} tables; at most ${MAX_USER_TABLES} are allowed`, 'merge tables or split the data over several blocks')
  userTables.sort((a, b) => compareNames(a.name, b.name))
  return { userTables, has }
}

function describeTable (db: Db, name: string, sql: string, version: 1 | 2 | 'input'): UserTable {
  const info = db.prepare<unknown[], { name: string, pk: number, hidden: number }>(`SELECT name, pk, hidden FROM pragma_table_xinfo(?)`).all(name)
  const list = db.prepare<unknown[], { wr: number }>('SELECT wr FROM pragma_table_list WHERE schema = \'main\' AND name = ?').get(name)
  const columns: string[] = []
  for (const c of info) {
    if (c.hidden === 2 || c.hidden === 3) throw notAllowed(`generated column ${JSON.stringify(c.name)} in table ${JSON.stringify(name)} is not allowed`, 'store the computed values in an ordinary column')
    if (version !== 1 && RESERVED_COLUMNS.some(rc => rc === c.name.toLowerCase())) throw notAllowed(`column name ${JSON.stringify(c.name)} in table ${JSON.stringify(name)} is reserved for the query engine`, 'rename the column')
    columns.push(c.name)
  }
  if (list?.wr === 1) {
    const primaryKey = info.filter(c => c.pk > 0).sort((a, b) => a.pk - b.pk).map(c => c.name)
    return { name, sql, columns, withoutRowid: true, primaryKey }
  }
  const lower = new Set(columns.map(c => c.toLowerCase()))
  const rowidAlias = ['rowid', '_rowid_', 'oid'].find(a => !lower.has(a))
  if (rowidAlias === undefined) throw notAllowed(`table ${JSON.stringify(name)} shadows every rowid alias (rowid, _rowid_, oid)`, 'rename one of those columns')
  return { name, sql, columns, withoutRowid: false, rowidAlias, primaryKey: [] }
}

const V2_DDL: Record<string, string> = { _meta: META_DDL, _keys: KEYS_DDL, _tables: TABLES_DDL }

function checkReserved (db: Db, table: string, r: MasterRow, version: 1 | 2 | 'input'): void {
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
  const cols = db.prepare<unknown[], { name: string, type: string, nn: number, pk: number }>(`SELECT name, type, "notnull" AS nn, pk FROM pragma_table_info(?)`).all(table)
  const names = cols.map(c => c.name.toLowerCase())
  const textish = (t: string): boolean => /^(TEXT|VARCHAR|CHAR)/i.test(t)
  if (table === '_meta') {
    if (names.join() !== 'key,value' || !cols.every(c => textish(c.type)) || cols[0]?.pk !== 1) throw wrongShape('expected (key TEXT PRIMARY KEY, value TEXT)')
  } else if (table === '_keys') {
    if (names.join() !== KEYS_COLUMNS.join() || !cols.every(c => textish(c.type))) throw wrongShape(`expected columns (${KEYS_COLUMNS.join(', ')})`)
    const pk = cols.filter(c => c.pk > 0).sort((a, b) => a.pk - b.pk).map(c => c.name.toLowerCase()).join()
    // Without this key one signer could fill a quorum alone (Daisy defect C2).
    if (pk !== 'pubkey_hash,sigkey_hash') throw wrongShape('PRIMARY KEY (pubkey_hash, sigkey_hash) is required')
  } else {
    if (version === 1) throw wrongShape('v1 blocks have no _tables')
    if (names.join() !== 'name,sql,rows,root') throw wrongShape('expected columns (name, sql, rows, root)')
  }
}
