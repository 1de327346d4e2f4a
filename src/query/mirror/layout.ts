import { type SqliteDb } from '../../storage/index.js'
import { asciiLower, quoteIdent } from '../names.js'
import { columnDef, parseColumns, sameColumns, type ColumnInfo } from './columns.js'

/**
 * Layout of query.db (docs/queries.md, "The query mirror"). User-visible: one table per user table
 * name, `_blocks` and `_tables`. Bookkeeping: `_mirror` (schema version, chain id),
 * `_mirror_tables` (each mirror table's current columns; `wide` = too many to hold, see
 * MAX_MIRROR_COLUMNS), `_mirror_ddl` (columns of each distinct CREATE TABLE text seen in a block,
 * so a rollback can recompute the union without the files), `_mirror_skipped` (canonical blocks
 * left out, with the coded reason: a block it cannot hold never stops queries over the others).
 */
export const MIRROR_SCHEMA_VERSION = '4'

/**
 * The most user columns one mirror table can have: SQLite's SQLITE_MAX_COLUMN (2000) less
 * `_height`. Blocks each within SQLite's limit can together name more columns for one table; such
 * a table is left out of the mirror (it stays queryable with --per-block) instead of stopping it.
 */
export const MAX_MIRROR_COLUMNS = 1999

export const INTERNAL_DDL = `
CREATE TABLE IF NOT EXISTS _mirror (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS _mirror_tables (key TEXT PRIMARY KEY, name TEXT NOT NULL, columns TEXT NOT NULL, wide INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS _mirror_ddl (sql TEXT PRIMARY KEY, columns TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS _mirror_skipped (height INTEGER PRIMARY KEY, hash TEXT NOT NULL, code TEXT NOT NULL, message TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS _blocks (height INTEGER PRIMARY KEY, hash TEXT NOT NULL, parent TEXT NOT NULL, signer TEXT NOT NULL,
  timestamp TEXT NOT NULL, time INTEGER, size INTEGER NOT NULL, rows_root TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS _tables (_height INTEGER NOT NULL, name TEXT NOT NULL, sql TEXT NOT NULL, rows INTEGER NOT NULL, root TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS "_height:_tables" ON _tables (_height);
CREATE TABLE IF NOT EXISTS _recipients (_height INTEGER NOT NULL, block TEXT NOT NULL, recipient TEXT NOT NULL, pubkey TEXT NOT NULL, wrapped BLOB NOT NULL, columns TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS "_height:_recipients" ON _recipients (_height);
`

/** Create the bookkeeping tables and stamp the mirror with its version and chain (in a transaction). */
export function initSchema (db: SqliteDb, chainId: string): void {
  db.exec(INTERNAL_DDL)
  const set = db.prepare('INSERT OR REPLACE INTO _mirror (key, value) VALUES (?, ?)')
  set.run('schema_version', MIRROR_SCHEMA_VERSION)
  set.run('chain_id', chainId)
}

/** Thrown by setMirrorTable when a table left out as too wide fits again: only a rebuild restores its rows. */
export class MirrorNeedsRebuild extends Error {}

/** A canonical block the mirror leaves out, and why (a row of `_mirror_skipped`). */
export interface SkippedBlock { height: number, hash: string, code: string, message: string }

/** The blocks the mirror on `db` leaves out; none in a mirror made before `_mirror_skipped` existed. */
export function readSkippedBlocks (db: SqliteDb): SkippedBlock[] {
  if (db.prepare("SELECT 1 FROM sqlite_schema WHERE name = '_mirror_skipped'").get() === undefined) return []
  return db.prepare<unknown[], SkippedBlock>('SELECT height, hash, code, message FROM _mirror_skipped ORDER BY height').all()
}

export interface MirrorTable {
  key: string
  name: string
  columns: ColumnInfo[]
  /** More columns than a table can have: not in the mirror, its rows not copied. */
  wide: boolean
}

const q = quoteIdent

/** The index every mirror table has on `_height` (rollbacks and height filters). */
function heightIndexName (name: string): string {
  return `_height:${name}`
}

export function getMirrorTable (db: SqliteDb, schema: string, key: string): MirrorTable | undefined {
  const r = db.prepare<unknown[], { key: string, name: string, columns: string, wide: number }>(`SELECT key, name, columns, wide FROM ${q(schema)}._mirror_tables WHERE key = ?`).get(key)
  return r === undefined ? undefined : { key: r.key, name: r.name, columns: parseColumns(r.columns), wide: r.wide === 1 }
}

function createTable (db: SqliteDb, schema: string, name: string, columns: readonly ColumnInfo[]): void {
  const defs = ['"_height" INTEGER NOT NULL', ...columns.map(columnDef)].join(', ')
  db.exec(`CREATE TABLE ${q(schema)}.${q(name)} (${defs})`)
  db.exec(`CREATE INDEX ${q(schema)}.${q(heightIndexName(name))} ON ${q(name)} ("_height")`)
}

/**
 * Give mirror table `key` the columns `columns` (creating or dropping it as needed): appended
 * columns are added in place; any other change (a column gone after a rollback, a type that
 * became untyped) rebuilds the table, keeping its rows. Past MAX_MIRROR_COLUMNS the table is
 * dropped and marked wide; a wide table that would fit again (a rollback) throws MirrorNeedsRebuild.
 */
export function setMirrorTable (db: SqliteDb, schema: string, key: string, name: string, columns: readonly ColumnInfo[] | undefined): void {
  const cur = getMirrorTable(db, schema, key)
  const s = q(schema)
  if (columns === undefined) {
    if (cur !== undefined) {
      if (!cur.wide) db.exec(`DROP TABLE ${s}.${q(cur.name)}`)
      db.prepare(`DELETE FROM ${s}._mirror_tables WHERE key = ?`).run(key)
    }
    return
  }
  if (cur !== undefined && sameColumns(cur.columns, columns)) return
  const wide = columns.length > MAX_MIRROR_COLUMNS
  if (cur?.wide === true && !wide) throw new MirrorNeedsRebuild(`table ${cur.name} fits in the mirror again`)
  if (wide) {
    if (cur !== undefined && !cur.wide) db.exec(`DROP TABLE ${s}.${q(cur.name)}`)
  } else if (cur === undefined) {
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
  db.prepare(`INSERT OR REPLACE INTO ${s}._mirror_tables (key, name, columns, wide) VALUES (?, ?, ?, ?)`).run(key, cur?.name ?? name, JSON.stringify(columns), wide ? 1 : 0)
}

/** Insertion order of a mirror table: its rowid, unless user columns shadow every rowid alias. */
export function rowOrder (columns: readonly ColumnInfo[]): string {
  const names = new Set(columns.map(c => asciiLower(c.name)))
  return ['rowid', '_rowid_', 'oid'].find(a => !names.has(a)) ?? '"_height"'
}

/** Drop every table of the mirror (a wipe or a rebuild), inside the caller's transaction. */
export function dropEverything (db: SqliteDb): void {
  const tables = db.prepare<unknown[], { name: string }>("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'").all()
  for (const t of tables) db.exec(`DROP TABLE IF EXISTS ${q(t.name)}`)
}
