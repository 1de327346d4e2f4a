import { DataDir, openSqlite, type IndexDb, type SqliteDb } from '../../storage/index.js'
import { KEYS_DDL, META_DDL, TABLES_DDL } from '../../block/index.js'
import { QueryError } from '../errors.js'
import { asciiLower, quoteIdent } from '../names.js'
import { probeColumns, unionColumns, type ColumnInfo } from '../mirror/columns.js'
import { MAX_MIRROR_COLUMNS } from '../mirror/layout.js'
import { compile } from './connection.js'
import { explainedPart } from './guard.js'
import { identifierOf, tokenize } from './tokenize.js'
import { blockRef, openBlockChecked, type BlockRef } from './block-file.js'

// Tables every v2 block has; the statement may read them in any block.
const EVERYWHERE = new Set(['_meta', '_keys', '_tables', 'sqlite_schema', 'sqlite_master'])

export interface PerBlockPlan {
  /** User tables the statement reads (lower case). */
  tables: string[]
  /** The statement's columns as compiled against the catalog (used when no block qualifies). */
  columns: string[]
  /** Canonical blocks holding all of them, with every column the statement names, by height. */
  blocks: BlockRef[]
  /** Blocks that have the tables but lack a column the statement names. */
  skipped: number
  tip?: { height: number, hash: string }
}

/** A table name of the chain: its columns unioned over all blocks, and per CREATE TABLE text. */
interface CatalogTable { name: string, columns: ColumnInfo[], bySql: Map<string, ColumnInfo[]> }

/**
 * Which blocks a per-block statement must run in, from the catalog (chain.db's block_tables), not
 * by trial. First the statement is compiled against an empty schema holding every table name the
 * chain has (columns unioned), and the root pages its program opens say which tables it reads.
 * Then the blocks that have all those tables are grouped by the CREATE TABLE texts they have for
 * them, and the statement is compiled once per group against exactly those columns: a group where
 * a column it names does not exist is left out, as a block without the table is. Genesis is a
 * block like any other.
 */
export function planPerBlock (index: IndexDb, dataDir: string, sql: string, range: { from?: number, to?: number }): PerBlockPlan {
  const inner = explainedPart(sql)
  // One snapshot of the catalog, even while a writer commits a reorg.
  return index.readTransaction(() => {
    const catalog = readCatalog(index, dataDir)
    const named = new Set(tokenize(sql).map(identifierOf).filter((x): x is string => x !== undefined).map(asciiLower))
    const union = new Map([...catalog].map(([k, t]) => [k, planningColumns(t.columns, named)]))
    const planning = openSqlite(':memory:')
    try {
      planning.exec(`${META_DDL}; ${KEYS_DDL}; ${TABLES_DDL};`)
      for (const [key, cols] of union) createEmpty(planning, key, cols)
      const columns = compile(planning, sql, 'the chain\'s table catalog').columns().map(c => c.name)
      const users = readTables(planning, inner).filter(t => !EVERYWHERE.has(t))
      const candidates = selectBlocks(index, users, range.from ?? 0, range.to ?? Number.MAX_SAFE_INTEGER)
      const blocks: BlockRef[] = []
      const verdicts = new Map<string, boolean>()
      for (const { ref, sqls } of candidates) {
        const variant = JSON.stringify(sqls)
        let fits = verdicts.get(variant)
        if (fits === undefined) {
          // The tables it reads, as this group of blocks declares them; undone after the check.
          planning.exec('SAVEPOINT variant')
          for (const [key, s] of sqls) {
            planning.exec(`DROP TABLE ${quoteIdent(key)}`)
            createEmpty(planning, key, catalog.get(key)?.bySql.get(s) ?? [])
          }
          fits = compiles(planning, sql)
          planning.exec('ROLLBACK TO variant; RELEASE variant')
          verdicts.set(variant, fits)
        }
        if (fits) blocks.push(ref)
      }
      const tip = index.tip()
      return { tables: users, columns, blocks, skipped: candidates.length - blocks.length, tip: tip === undefined ? undefined : { height: tip.height, hash: tip.hash } }
    } finally {
      planning.close()
    }
  })
}

/** An empty table `key` with just the column names (no types: planning needs names only). */
function createEmpty (db: SqliteDb, key: string, cols: readonly ColumnInfo[]): void {
  db.exec(`CREATE TABLE ${quoteIdent(key)} (${(cols.length === 0 ? [{ name: '_rowid_' }] : cols).map(c => quoteIdent(c.name)).join(', ')})`)
}

/**
 * A table's columns for planning. A union wider than one table can hold keeps only the columns the
 * statement names (plus as many others as fit): a statement can reach a column only by its name,
 * so name resolution is the same. (`SELECT *` on such a table reports the shorter header when no
 * block qualifies.)
 */
function planningColumns (columns: ColumnInfo[], named: Set<string>): ColumnInfo[] {
  if (columns.length <= MAX_MIRROR_COLUMNS) return columns
  const first = columns.filter(c => named.has(asciiLower(c.name)))
  return [...first, ...columns.filter(c => !named.has(asciiLower(c.name)))].slice(0, MAX_MIRROR_COLUMNS)
}

/** Whether the statement compiles; false only for a column a block's tables lack. */
function compiles (db: SqliteDb, sql: string): boolean {
  try {
    compile(db, sql)
    return true
  } catch (err) {
    if (err instanceof QueryError && err.code === 'QUERY_UNKNOWN_COLUMN') return false
    return true // any other failure is the block's to report, with its height
  }
}

/** Every table name of the canonical chain with its columns per CREATE TABLE text and unioned (one block read per distinct DDL). */
function readCatalog (index: IndexDb, dataDir: string): Map<string, CatalogTable> {
  const out = new Map<string, CatalogTable>()
  const dir = new DataDir(dataDir)
  for (const r of index.tableVariants()) {
    const db = openBlockChecked(dir, r.block)
    let cols: ColumnInfo[]
    try {
      cols = probeColumns(db, 'main', r.name)
    } finally {
      db.close()
    }
    const key = asciiLower(r.name)
    const cur = out.get(key) ?? { name: r.name, columns: [], bySql: new Map() }
    cur.columns = unionColumns(cur.columns, cols)
    cur.bySql.set(r.sql, cols)
    out.set(key, cur)
  }
  return out
}

/** Tables whose b-trees the compiled program opens (tables directly, or through their indexes). */
function readTables (planning: SqliteDb, sql: string): string[] {
  const ops = planning.prepare<unknown[], { opcode: string, p2: number, p3: number }>(`EXPLAIN ${sql}`).all()
  const roots = new Map((planning.prepare<unknown[], { rootpage: number, tbl_name: string }>('SELECT rootpage, tbl_name FROM sqlite_schema WHERE rootpage > 0').all()).map(r => [r.rootpage, r.tbl_name]))
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

/** Canonical blocks in [from, to] that have every table of `tables`, each with the CREATE TABLE texts of those tables. */
function selectBlocks (index: IndexDb, tables: string[], from: number, to: number): Array<{ ref: BlockRef, sqls: Array<[string, string]> }> {
  return index.blocksWithTables(tables, from, to).map(b => ({ ref: blockRef(b.block), sqls: b.tables }))
}
