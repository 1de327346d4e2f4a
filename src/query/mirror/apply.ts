import Database from 'better-sqlite3'
import { inspectSchema, type UserTable } from '../../block/index.js'
import type { BlockRecord } from '../../storage/index.js'
import { asciiLower, quoteIdent } from '../names.js'
import { probeColumns, unionColumns, type ColumnInfo } from './columns.js'
import { getMirrorTable, setMirrorTable } from './layout.js'

const q = quoteIdent

/** How long a mirror writer waits for another one (another process syncing) before failing. */
export const MIRROR_BUSY_MS = 30_000

/**
 * Apply one canonical block to the mirror, all or nothing. The block is opened from `bytes`, a
 * copy already checked against its hash, as an in-memory database: the block file itself is never
 * opened by a connection that can write, and a block moved by a concurrent reorg cannot be read
 * half-way. The mirror is attached to that connection and every user table is appended with
 * INSERT … SELECT (no row passes through JavaScript). Returns 'stale' when the mirror's tip is no
 * longer the block's parent (another process moved it): the caller re-plans.
 */
export function applyBlock (mirrorPath: string, rec: BlockRecord, bytes: Buffer): 'applied' | 'stale' {
  const db = new Database(bytes, { timeout: MIRROR_BUSY_MS })
  try {
    db.pragma('trusted_schema = OFF')
    db.pragma('cell_size_check = ON')
    db.prepare('ATTACH ? AS m').run(mirrorPath)
    db.pragma('m.synchronous = NORMAL')
    db.exec('BEGIN IMMEDIATE')
    try {
      const tip = db.prepare('SELECT height, hash FROM m._blocks ORDER BY height DESC LIMIT 1').get() as { height: number, hash: string } | undefined
      const fits = rec.height === 0 ? tip === undefined : tip?.height === rec.height - 1 && tip.hash === rec.parent
      if (!fits) { db.exec('ROLLBACK'); return 'stale' }
      for (const t of inspectSchema(db, 2).userTables) copyTable(db, rec.height, t)
      db.prepare('INSERT INTO m._tables (_height, name, sql, rows, root) SELECT ?, name, sql, rows, root FROM main._tables ORDER BY name').run(rec.height)
      const time = Date.parse(rec.timestamp)
      db.prepare('INSERT INTO m._blocks (height, hash, parent, signer, timestamp, time, size, rows_root) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
        .run(rec.height, rec.hash, rec.parent, rec.signer, rec.timestamp, Number.isFinite(time) ? time : null, rec.size, rec.rowsRoot)
      db.exec('COMMIT')
      return 'applied'
    } catch (err) {
      if (db.inTransaction) db.exec('ROLLBACK')
      throw err
    }
  } finally {
    db.close()
  }
}

/** Columns of a block table, cached by its CREATE TABLE text (they are a function of it). */
function ddlColumns (db: Database.Database, t: UserTable): ColumnInfo[] {
  const cached = db.prepare('SELECT columns FROM m._mirror_ddl WHERE sql = ?').get(t.sql) as { columns: string } | undefined
  if (cached !== undefined) return JSON.parse(cached.columns) as ColumnInfo[]
  const cols = probeColumns(db, 'main', t.name)
  db.prepare('INSERT INTO m._mirror_ddl (sql, columns) VALUES (?, ?)').run(t.sql, JSON.stringify(cols))
  return cols
}

function copyTable (db: Database.Database, height: number, t: UserTable): void {
  const key = asciiLower(t.name)
  const cols = ddlColumns(db, t)
  const cur = getMirrorTable(db, 'm', key)
  setMirrorTable(db, 'm', key, t.name, unionColumns(cur?.columns, cols))
  const target = cur?.name ?? t.name
  const names = cols.map(c => q(c.name)).join(', ')
  const list = cols.length === 0 ? '"_height"' : `"_height", ${names}`
  // Canonical row order (as in the block's Merkle tree): rowid, or the primary key WITHOUT ROWID.
  const order = t.withoutRowid ? t.primaryKey.map(q).join(', ') : t.rowidAlias as string
  db.prepare(`INSERT INTO m.${q(target)} (${list}) SELECT ?${cols.length === 0 ? '' : ', ' + names} FROM main.${q(t.name)} ORDER BY ${order}`).run(height)
}
