import { openSqlite, type SqliteDb } from '../../storage/index.js'
import { KEYS_DDL, META_DDL, TABLES_DDL } from '../../block/constants.js'
import type { IndexDb } from '../../storage/index-db.js'
import { asciiLower, quoteIdent } from '../names.js'
import { probeColumns, unionColumns, type ColumnInfo } from '../mirror/columns.js'
import { compile } from './connection.js'
import { explainedPart } from './guard.js'
import { openBlockChecked, type BlockRef } from './block-file.js'

// Tables every v2 block has; the statement may read them in any block.
const EVERYWHERE = new Set(['_meta', '_keys', '_tables', 'sqlite_schema', 'sqlite_master'])

export interface PerBlockPlan {
  /** User tables the statement reads (lower case). */
  tables: string[]
  /** The statement's columns as compiled against the catalog (used when no block qualifies). */
  columns: string[]
  /** Canonical blocks holding all of them, by height. */
  blocks: BlockRef[]
  tip?: { height: number, hash: string }
}

/**
 * Which blocks a per-block statement must run in, from the catalog (chain.db's block_tables), not
 * by trial: compile the statement against an empty schema holding every table name the chain has
 * (columns unioned), read the root pages its program opens, and select the canonical blocks that
 * have all those tables. Genesis is a block like any other.
 */
export function planPerBlock (index: IndexDb, dataDir: string, sql: string, range: { from?: number, to?: number }): PerBlockPlan {
  const inner = explainedPart(sql)
  const idx = index.db
  idx.exec('BEGIN')
  try {
    const schema = catalogSchema(index, dataDir)
    const planning = openSqlite(':memory:')
    try {
      planning.exec(`${META_DDL}; ${KEYS_DDL}; ${TABLES_DDL};`)
      for (const [, t] of schema) planning.exec(`CREATE TABLE ${quoteIdent(t.name)} (${t.columns.map(c => quoteIdent(c.name)).join(', ')})`)
      const columns = compile(planning, sql, 'the chain\'s table catalog').columns().map(c => c.name)
      const tables = readTables(planning, inner)
      const users = tables.filter(t => !EVERYWHERE.has(t))
      const blocks = selectBlocks(index, users, range.from ?? 0, range.to ?? Number.MAX_SAFE_INTEGER)
      const tip = idx.prepare('SELECT height, hash FROM blocks WHERE canonical = 1 ORDER BY height DESC LIMIT 1').get() as { height: number, hash: string } | undefined
      return { tables: users, columns, blocks, tip }
    } finally {
      planning.close()
    }
  } finally {
    idx.exec('COMMIT')
  }
}

/** Every table name of the canonical chain with its columns unioned (one block read per distinct DDL). */
function catalogSchema (index: IndexDb, dataDir: string): Map<string, { name: string, columns: ColumnInfo[] }> {
  const reps = index.db.prepare(`SELECT bt.name AS name, b.height AS height, b.hash AS hash, b.parent AS parent, b.rows_root AS rowsRoot,
      b.signer AS signer, b.timestamp AS timestamp, b.prev_sig AS prevSig, min(b.height) AS first
    FROM block_tables bt JOIN blocks b ON b.hash = bt.hash WHERE b.canonical = 1 GROUP BY bt.name, bt.sql ORDER BY first`).all() as Array<BlockRef & { name: string }>
  const out = new Map<string, { name: string, columns: ColumnInfo[] }>()
  for (const r of reps) {
    const db = openBlockChecked(dataDir, r)
    let cols: ColumnInfo[]
    try {
      cols = probeColumns(db, 'main', r.name)
    } finally {
      db.close()
    }
    const key = asciiLower(r.name)
    const cur = out.get(key)
    out.set(key, { name: cur?.name ?? r.name, columns: unionColumns(cur?.columns, cols) })
  }
  return out
}

/** Tables whose b-trees the compiled program opens (tables directly, or through their indexes). */
function readTables (planning: SqliteDb, sql: string): string[] {
  const ops = planning.prepare(`EXPLAIN ${sql}`).all() as Array<{ opcode: string, p2: number, p3: number }>
  const roots = new Map((planning.prepare('SELECT rootpage, tbl_name FROM sqlite_schema WHERE rootpage > 0').all() as Array<{ rootpage: number, tbl_name: string }>).map(r => [r.rootpage, r.tbl_name]))
  roots.set(1, 'sqlite_schema')
  const names = new Set<string>()
  for (const op of ops) {
    if ((op.opcode === 'OpenRead' || op.opcode === 'ReopenIdx' || op.opcode === 'OpenWrite') && op.p3 === 0) {
      const t = roots.get(op.p2)
      if (t !== undefined) names.add(asciiLower(t))
    }
  }
  return [...names].sort()
}

function selectBlocks (index: IndexDb, tables: string[], from: number, to: number): BlockRef[] {
  const cols = 'b.height AS height, b.hash AS hash, b.parent AS parent, b.rows_root AS rowsRoot, b.signer AS signer, b.timestamp AS timestamp, b.prev_sig AS prevSig'
  if (tables.length === 0) {
    return index.db.prepare(`SELECT ${cols} FROM blocks b WHERE b.canonical = 1 AND b.height BETWEEN ? AND ? ORDER BY b.height`).all(from, to) as BlockRef[]
  }
  const marks = tables.map(() => '?').join(', ')
  return index.db.prepare(`SELECT ${cols} FROM blocks b WHERE b.canonical = 1 AND b.height BETWEEN ? AND ?
    AND (SELECT count(*) FROM block_tables bt WHERE bt.hash = b.hash AND lower(bt.name) IN (${marks})) = ? ORDER BY b.height`).all(from, to, ...tables, tables.length) as BlockRef[]
}
