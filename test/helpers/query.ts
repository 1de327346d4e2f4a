import Database from 'better-sqlite3'
import { expect } from 'vitest'
import type { Chain } from '../../src/chain/index.js'
import { inspectSchema, openBlockReadonly, quoteIdent, type SqlValue } from '../../src/block/index.js'
import { runQuery, type QueryOptions, type QuerySandbox } from '../../src/query/index.js'

/** Write a fresh SQLite file at `path` with `setup`, and return the path. */
export function sqliteFile (path: string, setup: (db: Database.Database) => void): string {
  const db = new Database(path)
  try {
    setup(db)
  } finally {
    db.close()
  }
  return path
}

export interface Rows { columns: string[], rows: SqlValue[][] }

/** Run a statement through the engine (mirror synced first) and collect raw rows. */
export async function rowsOf (chain: Chain, sandbox: QuerySandbox, sql: string, o: Partial<QueryOptions> = {}): Promise<Rows> {
  let columns: string[] = []
  const rows: SqlValue[][] = []
  await runQuery(chain, { sql, format: 'rows', sandbox, onColumns: c => { columns = c }, onRows: r => { rows.push(...r.map(normalise)) }, ...o })
  return { columns, rows }
}

/** Run a statement and collect its text output. */
export async function textOf (chain: Chain, sandbox: QuerySandbox, sql: string, o: Partial<QueryOptions> = {}): Promise<string> {
  let out = ''
  await runQuery(chain, { sql, format: 'ndjson', sandbox, onText: s => { out += s }, ...o })
  return out
}

/** The error code a promise rejects with. */
export async function failure (p: Promise<unknown>): Promise<{ code?: string, message: string, details?: Record<string, unknown> }> {
  try {
    await p
  } catch (err) {
    return err as { code?: string, message: string }
  }
  throw new Error('expected a failure')
}

/** Uint8Array and Buffer compare alike. */
export function normalise (row: readonly SqlValue[]): SqlValue[] {
  return row.map(v => (v instanceof Uint8Array ? new Uint8Array(v) : v))
}

/** Rows of a plain SQLite database, read the way the engine reads them (raw, exact integers). */
export function referenceRows (db: Database.Database, sql: string): Rows {
  const stmt = db.prepare(sql).raw(true).safeIntegers(true)
  return { columns: stmt.columns().map(c => c.name), rows: (stmt.all() as SqlValue[][]).map(normalise) }
}

/**
 * Everything a query can see in query.db, in a stable order: each table's DDL and rows in rowid
 * order. `_mirror_ddl` (a cache that may keep entries of orphaned blocks) is left out.
 */
export function dumpMirror (path: string): unknown[] {
  const db = new Database(path, { readonly: true })
  try {
    const tables = db.prepare("SELECT name, sql FROM sqlite_schema WHERE type IN ('table', 'index') AND name <> '_mirror_ddl' ORDER BY name").all() as Array<{ name: string, sql: string }>
    return tables.map(t => {
      const isTable = t.sql.startsWith('CREATE TABLE')
      const rows = isTable ? (db.prepare(`SELECT * FROM ${quoteIdent(t.name)} ORDER BY ${t.name.startsWith('_mirror') ? 1 : 'rowid'}`).raw(true).safeIntegers(true).all() as SqlValue[][]).map(normalise) : []
      return { name: t.name, sql: t.sql, rows }
    })
  } finally {
    db.close()
  }
}

/**
 * The mirror agrees with the canonical block files: `_blocks` lists exactly the canonical chain,
 * and for every block and user table, the mirror's rows at that height (the block's columns) are
 * the block's rows in canonical order; no table holds rows of any other height.
 */
export function assertMirrorMatchesFiles (chain: Chain): void {
  const db = new Database(chain.dir.queryDb, { readonly: true })
  try {
    const tip = chain.tip()
    const canon = chain.index.range(0, tip.height, tip.height + 1)
    expect(db.prepare('SELECT height, hash, parent, signer, timestamp FROM _blocks ORDER BY height').all()).toEqual(canon.map(b => ({ height: b.height, hash: b.hash, parent: b.parent, signer: b.signer, timestamp: b.timestamp })))
    const counts = new Map<string, number>()
    // Tables too wide for one SQLite table are left out of the mirror (and marked so).
    const wide = new Set(db.prepare('SELECT key FROM _mirror_tables WHERE wide = 1').pluck().all() as string[])
    for (const k of wide) expect(db.prepare('SELECT 1 FROM sqlite_schema WHERE lower(name) = ?').get(k), `wide table ${k}`).toBeUndefined()
    for (const rec of canon) {
      const block = openBlockReadonly(chain.pathOf(rec))
      try {
        for (const t of inspectSchema(block, 2).userTables) {
          if (wide.has(t.name.toLowerCase())) { counts.set(t.name.toLowerCase(), 0); continue }
          const cols = t.columns.map(quoteIdent).join(', ')
          const order = t.withoutRowid ? t.primaryKey.map(quoteIdent).join(', ') : t.rowidAlias as string
          const want = (block.prepare(`SELECT ${cols} FROM ${quoteIdent(t.name)} ORDER BY ${order}`).raw(true).safeIntegers(true).all() as SqlValue[][]).map(normalise)
          const got = (db.prepare(`SELECT ${cols} FROM ${quoteIdent(t.name)} WHERE _height = ? ORDER BY rowid`).raw(true).safeIntegers(true).all(rec.height) as SqlValue[][]).map(normalise)
          expect(got, `table ${t.name} at height ${rec.height}`).toEqual(want)
          const key = t.name.toLowerCase()
          counts.set(key, (counts.get(key) ?? 0) + want.length)
        }
      } finally {
        block.close()
      }
    }
    const tables = db.prepare('SELECT name FROM _mirror_tables').pluck().all() as string[]
    expect(new Set(tables.map(t => t.toLowerCase()))).toEqual(new Set(counts.keys()))
    for (const t of tables.filter(t => !wide.has(t.toLowerCase()))) expect(db.prepare(`SELECT count(*) FROM ${quoteIdent(t)}`).pluck().get(), `rows of ${t}`).toBe(counts.get(t.toLowerCase()))
  } finally {
    db.close()
  }
}
