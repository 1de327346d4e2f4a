import { QueryError } from '../errors.js'
import { type SqliteDb } from '../../storage/index.js'
import { asciiLower, quoteIdent } from '../names.js'
import { parseColumns, unionColumns, type ColumnInfo } from './columns.js'
import { dropEverything, getMirrorTable, initSchema, MirrorNeedsRebuild, setMirrorTable } from './layout.js'

/**
 * Undo every block above `height` (-1: all of them) in one transaction: delete their rows, then
 * give each touched table the columns the remaining blocks call for, recomputed from the
 * remaining `_tables` rows and the `_mirror_ddl` cache — exactly what a rebuild would produce.
 * Returns how many blocks were removed.
 */
export function rollbackTo (db: SqliteDb, height: number): number {
  return db.transaction(() => {
    try {
      return rollbackIn(db, height)
    } catch (err) {
      if (!(err instanceof MirrorNeedsRebuild)) throw err
      // A table left out as too wide fits again, but its rows were never copied: start over (the
      // sync that called this refills the mirror from the block files).
      const all = db.prepare<[], number>('SELECT count(*) FROM _blocks').pluck().get() ?? 0
      const chainId = db.prepare<[], string>("SELECT value FROM _mirror WHERE key = 'chain_id'").pluck().get() ?? ''
      dropEverything(db)
      initSchema(db, chainId)
      return all
    }
  }).immediate()
}

function rollbackIn (db: SqliteDb, height: number): number {
  const gone = db.prepare<[number], number>('SELECT count(*) FROM _blocks WHERE height > ?').pluck().get(height) ?? 0
  const names = db.prepare<unknown[], string>('SELECT DISTINCT name FROM _tables WHERE _height > ?').pluck().all(height)
  const keys = [...new Set(names.map(asciiLower))]
  for (const key of keys) {
    const cur = getMirrorTable(db, 'main', key)
    if (cur === undefined) continue
    if (!cur.wide) db.prepare(`DELETE FROM ${quoteIdent(cur.name)} WHERE "_height" > ?`).run(height)
    // lower() folds ASCII only (no ICU in this build), like asciiLower and SQLite's identifiers.
    const ddls = db.prepare<unknown[], string>('SELECT sql FROM _tables WHERE _height <= ? AND lower(name) = ? GROUP BY sql ORDER BY min(_height)').pluck().all(height, key)
    let columns: ColumnInfo[] | undefined
    for (const sql of ddls) {
      const c = db.prepare<unknown[], string>('SELECT columns FROM _mirror_ddl WHERE sql = ?').pluck().get(sql)
      if (c === undefined) throw new QueryError('MIRROR_SCHEMA', `query mirror: no column record for a CREATE TABLE of ${cur.name}`, { hint: 'rebuild the mirror with `petal reindex --query`' })
      columns = unionColumns(columns, parseColumns(c))
    }
    setMirrorTable(db, 'main', key, cur.name, columns)
  }
  db.prepare('DELETE FROM _tables WHERE _height > ?').run(height)
  db.prepare('DELETE FROM _recipients WHERE _height > ?').run(height)
  db.prepare('DELETE FROM _blocks WHERE height > ?').run(height)
  db.prepare('DELETE FROM _mirror_skipped WHERE height > ?').run(height)
  return gone
}
