import { type SqliteDb } from '../../storage/index.js'
import { asciiLower, quoteIdent } from '../names.js'
import { columnDef, sameColumns, type ColumnInfo } from './columns.js'

/**
 * Layout of query.db (docs/queries.md, "The query mirror"). User-visible: one table per user table
 * name, `_blocks` and `_tables`. Bookkeeping: `_mirror` (schema version, chain id),
 * `_mirror_tables` (each mirror table's current columns), `_mirror_ddl` (columns of each distinct
 * CREATE TABLE text seen in a block, so a rollback can recompute the union without the files).
 */
export const MIRROR_SCHEMA_VERSION = '1'

export const INTERNAL_DDL = `
CREATE TABLE IF NOT EXISTS _mirror (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS _mirror_tables (key TEXT PRIMARY KEY, name TEXT NOT NULL, columns TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS _mirror_ddl (sql TEXT PRIMARY KEY, columns TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS _blocks (height INTEGER PRIMARY KEY, hash TEXT NOT NULL, parent TEXT NOT NULL, signer TEXT NOT NULL,
  timestamp TEXT NOT NULL, time INTEGER, size INTEGER NOT NULL, rows_root TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS _tables (_height INTEGER NOT NULL, name TEXT NOT NULL, sql TEXT NOT NULL, rows INTEGER NOT NULL, root TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS "_height:_tables" ON _tables (_height);
`

export interface MirrorTable { key: string, name: string, columns: ColumnInfo[] }

const q = quoteIdent

/** The index every mirror table has on `_height` (rollbacks and height filters). */
function heightIndexName (name: string): string {
  return `_height:${name}`
}

export function getMirrorTable (db: SqliteDb, schema: string, key: string): MirrorTable | undefined {
  const r = db.prepare(`SELECT key, name, columns FROM ${q(schema)}._mirror_tables WHERE key = ?`).get(key) as { key: string, name: string, columns: string } | undefined
  return r === undefined ? undefined : { key: r.key, name: r.name, columns: JSON.parse(r.columns) as ColumnInfo[] }
}

function createTable (db: SqliteDb, schema: string, name: string, columns: readonly ColumnInfo[]): void {
  const defs = ['"_height" INTEGER NOT NULL', ...columns.map(columnDef)].join(', ')
  db.exec(`CREATE TABLE ${q(schema)}.${q(name)} (${defs})`)
  db.exec(`CREATE INDEX ${q(schema)}.${q(heightIndexName(name))} ON ${q(name)} ("_height")`)
}

/**
 * Give mirror table `key` the columns `columns` (creating or dropping it as needed): appended
 * columns are added in place; any other change (a column gone after a rollback, a type that
 * became untyped) rebuilds the table, keeping its rows.
 */
export function setMirrorTable (db: SqliteDb, schema: string, key: string, name: string, columns: readonly ColumnInfo[] | undefined): void {
  const cur = getMirrorTable(db, schema, key)
  const s = q(schema)
  if (columns === undefined) {
    if (cur !== undefined) {
      db.exec(`DROP TABLE ${s}.${q(cur.name)}`)
      db.prepare(`DELETE FROM ${s}._mirror_tables WHERE key = ?`).run(key)
    }
    return
  }
  if (cur !== undefined && sameColumns(cur.columns, columns)) return
  if (cur === undefined) {
    createTable(db, schema, name, columns)
  } else if (sameColumns(cur.columns, columns.slice(0, cur.columns.length))) {
    for (const c of columns.slice(cur.columns.length)) db.exec(`ALTER TABLE ${s}.${q(cur.name)} ADD COLUMN ${columnDef(c)}`)
  } else {
    const keep = columns.filter(c => cur.columns.some(o => asciiLower(o.name) === asciiLower(c.name))).map(c => q(c.name))
    const tmp = '_mirror_rebuild'
    db.exec(`DROP TABLE IF EXISTS ${s}.${q(tmp)}`)
    db.exec(`CREATE TABLE ${s}.${q(tmp)} (${['"_height" INTEGER NOT NULL', ...columns.map(columnDef)].join(', ')})`)
    const cols = ['"_height"', ...keep].join(', ')
    db.exec(`INSERT INTO ${s}.${q(tmp)} (${cols}) SELECT ${cols} FROM ${s}.${q(cur.name)} ORDER BY ${rowOrder(cur.columns)}`)
    db.exec(`DROP TABLE ${s}.${q(cur.name)}`)
    db.exec(`ALTER TABLE ${s}.${q(tmp)} RENAME TO ${q(cur.name)}`)
    db.exec(`CREATE INDEX ${s}.${q(heightIndexName(cur.name))} ON ${q(cur.name)} ("_height")`)
  }
  db.prepare(`INSERT OR REPLACE INTO ${s}._mirror_tables (key, name, columns) VALUES (?, ?, ?)`).run(key, cur?.name ?? name, JSON.stringify(columns))
}

/** Insertion order of a mirror table: its rowid, unless user columns shadow every rowid alias. */
export function rowOrder (columns: readonly ColumnInfo[]): string {
  const names = new Set(columns.map(c => asciiLower(c.name)))
  return ['rowid', '_rowid_', 'oid'].find(a => !names.has(a)) ?? '"_height"'
}

/** Drop every table of the mirror (a wipe or a rebuild), inside the caller's transaction. */
export function dropEverything (db: SqliteDb): void {
  const tables = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'").all() as Array<{ name: string }>
  for (const t of tables) db.exec(`DROP TABLE IF EXISTS ${q(t.name)}`)
}
