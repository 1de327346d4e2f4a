import type Database from 'better-sqlite3'
import { failpoint, type WorkProgress } from '../util/index.js'
import { BLOCK_COLUMNS, SCHEMA, SCHEMA_VERSION } from './index-records.js'

// chain.db of schema version 1 (`block_tables` keyed by the block's hash) moved to version 2
// (keyed by `blocks.id`): docs/data-directory.md, "chain.db".

/** The CREATE TABLE of `blocks` and `block_tables` in SCHEMA, the tables named `suffix`ed. */
function newTables (suffix: string): string {
  return SCHEMA.split(';').map(s => s.trim()).filter(s => /^CREATE TABLE IF NOT EXISTS (blocks|block_tables) /.test(s))
    .map(s => s.replace(/^CREATE TABLE IF NOT EXISTS (blocks|block_tables) /, `CREATE TABLE $1${suffix} `) + ';').join('\n')
}

/** blocks' indexes as SCHEMA makes them (on the renamed table). */
function blockIndexes (): string {
  return SCHEMA.split(';').map(s => s.trim()).filter(s => /^CREATE (UNIQUE )?INDEX IF NOT EXISTS \w+ ON blocks\(/.test(s)).join(';\n') + ';'
}

/** What shows a move's progress: its updates as it goes, then its end. */
export interface MoveProgress { update: (p: WorkProgress) => void, end: () => void }

let showMove: (() => MoveProgress) | undefined

/**
 * How this process shows the moves it makes (the CLI's: a line on a terminal, objects with --json),
 * or undefined for none. A move is synchronous (one transaction, ~16 s at 1,000,000 blocks), so
 * the display is written to between its statements.
 */
export function showIndexMoves (make: (() => MoveProgress) | undefined): void { showMove = make }

// Rows a statement of the move copies between two updates of its progress.
const CHUNK = 16_384
// The connection's page cache during the move (KiB): blocks_v2's hash index is filled in rowid
// order, at random pages, and at SQLite's 2 MiB default those were spilled to the -wal and read
// back again (1,000,000 blocks: 3.89 M pread64 and 1.72 M pwrite64 instead of 2.68 M and 1.11 M).
const MOVE_CACHE_KIB = 65_536

/**
 * Move an index of version 1 to version 2 in one transaction (SQLite's DDL is transactional: a kill
 * leaves the old layout or the new, never a mix). Both layouts of version 1 move: rowid tables
 * (since session 25; `blocks` keeps its rowids as `id`, so its rows keep their order) and WITHOUT
 * ROWID ones (before; ids given by height). `block_tables` is copied in (id, name) order. The two
 * indexes nothing reads (UNUSED_INDEXES) go with the old tables. Called by a writer's open only.
 * Copied `chunk` blocks a statement, showing progress in the index's bytes between them.
 */
export function migrateIndex (db: Database.Database, chunk = CHUNK): void {
  let shown: MoveProgress | undefined
  const cacheBefore = Number(db.pragma('cache_size', { simple: true }))
  try {
    db.transaction(() => {
      // Looked at again inside the write transaction: another writer may have moved it meanwhile.
      if (db.prepare<[], string>("SELECT value FROM meta WHERE key = 'schema_version'").pluck().get() !== '1') return
      const withoutRowid = db.prepare("SELECT wr FROM pragma_table_list WHERE schema = 'main' AND name = 'blocks'").pluck().get() === 1
      db.exec(newTables('_v2'))
      db.pragma(`cache_size = -${MOVE_CACHE_KIB}`)
      const total = Number(db.pragma('page_count', { simple: true })) * Number(db.pragma('page_size', { simple: true }))
      shown = showMove?.()
      // Each step's share of the whole, as its share of a move's time (docs/performance/catchup.md, "Session 46: chain.db (index46)").
      const show = (phase: string, start: number, end: number, from: number, to: number, at: number): void => {
        shown?.update({ phase, done: Math.round(total * (start + (end - start) * (to > from ? (Math.min(at, to) - from) / (to - from) : 1))), total })
      }
      // The WITHOUT ROWID layout's blocks by height (its index blocks_side on (canonical, height) finds a range), in the order that gives them their ids.
      const [from, to] = db.prepare<[], [number | null, number | null]>(withoutRowid ? 'SELECT min(height), max(height) FROM blocks' : 'SELECT min(rowid), max(rowid) FROM blocks').raw().get() ?? [null, null]
      const blocks = db.prepare(withoutRowid
        ? `INSERT OR FAIL INTO blocks_v2 (${BLOCK_COLUMNS}) SELECT ${BLOCK_COLUMNS} FROM blocks WHERE canonical IN (1, 0) AND height >= ? AND height < ? ORDER BY height, canonical DESC, hash`
        : `INSERT OR FAIL INTO blocks_v2 (id, ${BLOCK_COLUMNS}) SELECT rowid, ${BLOCK_COLUMNS} FROM blocks WHERE rowid >= ? AND rowid < ? ORDER BY rowid`)
      for (let at = from ?? 0; from !== null && to !== null && at <= to; at += chunk) { blocks.run(at, at + chunk); show('moving blocks', 0, 0.55, from, to, at + chunk) }
      // Every row or none (a row the ranges missed would be lost with the old table).
      if (db.prepare('SELECT (SELECT count(*) FROM blocks) - (SELECT count(*) FROM blocks_v2)').pluck().get() !== 0) throw new Error('the move of chain.db to schema version 2 missed rows of blocks')
      const [first, last] = db.prepare<[], [number | null, number | null]>('SELECT min(id), max(id) FROM blocks_v2').raw().get() ?? [null, null]
      const tables = db.prepare(`INSERT OR FAIL INTO block_tables_v2 (block, name, sql, rows, root)
        SELECT b.id, t.name, t.sql, t.rows, t.root FROM blocks_v2 b JOIN block_tables t ON t.hash = b.hash WHERE b.id >= ? AND b.id < ? ORDER BY b.id, t.name`)
      for (let at = first ?? 0; first !== null && last !== null && at <= last; at += chunk) { tables.run(at, at + chunk); show('moving tables', 0.55, 0.9, first, last, at + chunk) }
      failpoint('index-migrate:copied')
      db.exec('DROP TABLE block_tables; DROP TABLE blocks; ALTER TABLE blocks_v2 RENAME TO blocks; ALTER TABLE block_tables_v2 RENAME TO block_tables;')
      show('indexing', 0.9, 0.92, 0, 0, 0)
      db.exec(blockIndexes())
      show('indexing', 0.92, 1, 0, 0, 0)
      db.prepare("UPDATE meta SET value = ? WHERE key = 'schema_version'").run(SCHEMA_VERSION)
      failpoint('index-migrate:done')
    }).immediate()
  } finally {
    db.pragma(`cache_size = ${cacheBefore}`)
    shown?.end()
  }
}

/**
 * For a read-only connection to an index of version 1, which it must not write: temp views (which
 * unqualified names find before main's tables) that show it as version 2, the hash standing for
 * `blocks.id` (both layouts of version 1 key `block_tables` by hash; WITHOUT ROWID `blocks` has no
 * rowid). The statements of index-db.ts then read it unchanged.
 */
export class Version1View {
  /** data_version when the index was last found of version 1 outside a transaction. */
  private seen: number

  constructor (private readonly db: Database.Database) {
    db.exec(`CREATE TEMP VIEW blocks AS SELECT hash AS id, ${BLOCK_COLUMNS} FROM main.blocks;
      CREATE TEMP VIEW block_tables AS SELECT hash AS block, name, sql, rows, root FROM main.block_tables;`)
    this.seen = this.dataVersion()
  }

  /**
   * This view, or undefined once another process has moved the index to version 2 (a `petal serve`
   * left running while a newer Petal's node or pull opens it for writing): the views, which name the
   * old columns, are dropped, and the connection's statements read the new tables (SQLite prepares
   * them again; before, every read of a block's tables failed `no such column` until a restart).
   * Looked at only when another connection has committed; a transaction's older snapshot of
   * version 1 keeps the views, and the next call looks again.
   */
  follow (): Version1View | undefined {
    const now = this.dataVersion()
    if (now === this.seen) return this
    if (this.db.prepare<[], string>("SELECT value FROM main.meta WHERE key = 'schema_version'").pluck().get() === SCHEMA_VERSION) {
      this.db.exec('DROP VIEW temp.blocks; DROP VIEW temp.block_tables;')
      return undefined
    }
    if (!this.db.inTransaction) this.seen = now
    return this
  }

  private dataVersion (): number { return Number(this.db.pragma('data_version', { simple: true })) }
}
