import type Database from 'better-sqlite3'
import { statfsSync } from 'node:fs'
import { dirname } from 'node:path'
import { StorageError } from './errors.js'
import { failpoint, pausepointSync, type WorkProgress } from '../util/index.js'
import { BLOCK_COLUMNS, hashKey, LATEST_INDEX, SCHEMA, SCHEMA_VERSION } from './index-records.js'

// chain.db of schema version 1 (`block_tables` keyed by the block's hash) or 2 (`blocks` found by
// a unique index on the hash's text) moved to version 3 (by `hkey`): docs/data-directory.md, "chain.db".

/** The CREATE TABLE of `blocks` and `block_tables` in SCHEMA, the tables named `suffix`ed. */
function newTables (suffix: string, only = 'blocks|block_tables'): string {
  return SCHEMA.split(';').map(s => s.trim()).filter(s => new RegExp(`^CREATE TABLE IF NOT EXISTS (${only}) `).test(s))
    .map(s => s.replace(/^CREATE TABLE IF NOT EXISTS (blocks|block_tables) /, `CREATE TABLE $1${suffix} `) + ';').join('\n')
}

/** The indexes of blocks and block_tables as SCHEMA makes them (on the renamed tables; version 2's block_tables kept lacks LATEST_INDEX). */
function blockIndexes (): string {
  return SCHEMA.split(';').map(s => s.trim()).filter(s => /^CREATE (UNIQUE )?INDEX IF NOT EXISTS \w+ ON (blocks|block_tables)\(/.test(s)).join(';\n') + ';'
}

/**
 * What a writer of version 2 or 1 (a Petal of sessions 25-46 left running while this one moves the
 * index) is told by SQLite when it places a block: its INSERT into `blocks` has no `hkey`. Until
 * session 48 it failed "NOT NULL constraint failed: blocks.hkey" and said nothing of why or what to
 * do; its code is its own, so the move can only change what SQLite says to it. A trigger on every insert (a new block), but `WHEN NEW.hkey IS
 * NULL` holds only for such a writer: this Petal's inserts give `hkey`.
 */
export const OLDER_WRITER_TRIGGER = `CREATE TRIGGER IF NOT EXISTS blocks_hkey_required BEFORE INSERT ON blocks WHEN NEW.hkey IS NULL BEGIN
  SELECT RAISE(ABORT, 'chain.db was moved to schema version ${SCHEMA_VERSION} by a newer Petal while this process had it open, and this process cannot write that version: stop it, then run its command again with the newer Petal (docs/data-directory.md, "chain.db")'); END;`

/**
 * What an index of version 3 made before session 49 lacks, added inside a writer's transaction
 * (a writer's first write; no-ops when there): LATEST_INDEX (one scan of block_tables: docs/performance/catchup.md,
 * "Session 49: chain.db follow-ups (health49)"), and OLDER_WRITER_TRIGGER, which session 47's move
 * and remake did not make (an older writer left running across them failed "NOT NULL constraint
 * failed: blocks.hkey"). The version stays: an older Petal of version 3 reads and writes it as before.
 */
export function completeVersion3 (db: Database.Database): void {
  if (!db.inTransaction) throw new Error('chain.db completed outside a write transaction')
  const sql = SCHEMA.split(';').map(s => s.trim()).find(s => s.includes(`INDEX IF NOT EXISTS ${LATEST_INDEX} `))
  if (sql === undefined) throw new Error(`${LATEST_INDEX} is not in SCHEMA`)
  db.exec(`${sql}; ${OLDER_WRITER_TRIGGER}`)
}

/**
 * `petal_hkey(hash)`, the SQL of hashKey, on a connection to chain.db: the move fills `hkey` with
 * it, and the views of an older version's reader compute it.
 */
export function addHashKeyFunction (db: Database.Database): void {
  db.function('petal_hkey', { deterministic: true }, (h: unknown) => typeof h === 'string' ? hashKey(h) : null)
}

/** What writer.json says while a repair at a writer's open (tryWriteLockSync) moves an index of an older version. */
export const MOVE_WORK = `moving chain.db to schema version ${SCHEMA_VERSION}`

/** What shows a move's progress: its updates as it goes, then its end. */
export interface MoveProgress { update: (p: WorkProgress) => void, end: () => void }

let showMove: (() => MoveProgress) | undefined

/**
 * How this process shows the moves it makes (the CLI's: a line on a terminal, objects with --json),
 * or undefined for none. A move is synchronous (one transaction, 27–40 s at 1,000,000 blocks from
 * version 2), so the display is written to between its statements.
 */
export function showIndexMoves (make: (() => MoveProgress) | undefined): void { showMove = make }

// Rows a statement of the move copies between two updates of its progress.
const CHUNK = 16_384
// The connection's page cache during the move (KiB): blocks_v2's hash index is filled in rowid
// order, at random pages, and at SQLite's 2 MiB default those were spilled to the -wal and read
// back again (1,000,000 blocks: 3.89 M pread64 and 1.72 M pwrite64 instead of 2.68 M and 1.11 M).
const MOVE_CACHE_KIB = 65_536

/** Bytes free to this process on the file system of directory `dir` (statfs: blocks available to unprivileged users). */
export function freeBytes (dir: string): number {
  const s = statfsSync(dir)
  return Number(s.bavail) * Number(s.bsize)
}

/**
 * The move needs room beside chain.db (index48, 1,000,000 blocks of version 2: a 930 MB index
 * grew to 1,615 MB, and its -wal to 731 MB, before the checkpoint emptied it): the new `blocks`
 * is written whole to chain.db-wal, then copied into the file while the old table's pages, free
 * once it is dropped, stay there. Asked before anything is written: about 1.5 times the index's
 * used pages from version 2 (blocks alone), twice from version 1 (every table rewritten). Fails
 * DISK_FULL, the move not begun (SQLite's own SQLITE_FULL came after seconds of copying).
 */
function checkRoom (db: Database.Database, v1: boolean, room: (dir: string) => number): void {
  const used = (Number(db.pragma('page_count', { simple: true })) - Number(db.pragma('freelist_count', { simple: true }))) * Number(db.pragma('page_size', { simple: true }))
  const need = Math.ceil(used * (v1 ? 2 : 1.5))
  const dir = dirname(db.name)
  const free = room(dir)
  if (free >= need) return
  const mb = (n: number): string => `${Math.ceil(n / 1e6).toLocaleString('en-US')} MB`
  throw new StorageError('DISK_FULL', `moving chain.db to schema version ${SCHEMA_VERSION} needs about ${mb(need)} free beside it, and ${dir}'s file system has ${mb(free)}`, {
    hint: `free at least ${mb(need - free)} on the file system of ${dir}, then run the command again; nothing was changed (chain.db is still of version ${v1 ? 1 : 2})`,
    details: { path: db.name, need, free }
  })
}

/** The version of main's index, read inside the caller's transaction (another writer may have moved it meanwhile). */
function mainVersion (db: Database.Database): string | undefined {
  return db.prepare<[], string>("SELECT value FROM main.meta WHERE key = 'schema_version'").pluck().get()
}

/**
 * Move an index of version 1 or 2 to version 3 inside the caller's write transaction (a writer's
 * first write: IndexDb.withWriteLock), if it is still of an older version: `blocks` copied into a
 * new table with `hkey` filled (petal_hkey), the old one dropped with its indexes (version 2's
 * unique index on the hash's text among them), the new one renamed and indexed. Version 1's
 * `block_tables` is copied too, by the new ids, in (id, name) order; version 2's is kept (keyed by
 * the ids, which the copy keeps). Both layouts of version 1 move: rowid tables (since session 25;
 * `blocks` keeps its rowids as `id`, so its rows keep their order) and WITHOUT ROWID ones (before;
 * ids given by height); the two indexes nothing reads (UNUSED_INDEXES) go with the old tables.
 * Copied `chunk` blocks a statement, showing progress in the index's bytes between them; refused
 * first, DISK_FULL, where `room` (free bytes beside the index) is short of what the move writes.
 */
export function moveTables (db: Database.Database, chunk = CHUNK, room = freeBytes): void {
  if (!db.inTransaction) throw new Error('the move of chain.db outside a write transaction')
  const from = mainVersion(db)
  if (from !== '1' && from !== '2') return
  const v1 = from === '1'
  checkRoom(db, v1, room)
  let shown: MoveProgress | undefined
  const cacheBefore = Number(db.pragma('cache_size', { simple: true }))
  try {
    const withoutRowid = db.prepare("SELECT wr FROM pragma_table_list WHERE schema = 'main' AND name = 'blocks'").pluck().get() === 1
    // The rows to copy, counted through the smallest index (blocks_side); the copy counts what it
    // inserts. (The count of blocks_new after the copy read the whole new table back from the -wal.)
    const rows = Number(db.prepare('SELECT count(*) FROM main.blocks').pluck().get())
    db.exec(newTables('_new', v1 ? 'blocks|block_tables' : 'blocks'))
    db.pragma(`cache_size = -${MOVE_CACHE_KIB}`)
    const total = Number(db.pragma('page_count', { simple: true })) * Number(db.pragma('page_size', { simple: true }))
    shown = showMove?.()
    // Each step's share of the whole, as its share of a move's time (docs/performance/catchup.md, "Session 46: chain.db (index46)").
    const show = (phase: string, start: number, end: number, lo: number, hi: number, at: number): void => {
      shown?.update({ phase, done: Math.round(total * (start + (end - start) * (hi > lo ? (Math.min(at, hi) - lo) / (hi - lo) : 1))), total })
    }
    const blocksShare = v1 ? 0.55 : 0.9
    // The WITHOUT ROWID layout's blocks by height (its index blocks_side on (canonical, height) finds a range), in the order that gives them their ids.
    const [lo, hi] = db.prepare<[], [number | null, number | null]>(withoutRowid ? 'SELECT min(height), max(height) FROM main.blocks' : 'SELECT min(rowid), max(rowid) FROM main.blocks').raw().get() ?? [null, null]
    const blocks = db.prepare(withoutRowid
      ? `INSERT OR FAIL INTO blocks_new (${BLOCK_COLUMNS}, hkey) SELECT ${BLOCK_COLUMNS}, petal_hkey(hash) FROM main.blocks WHERE canonical IN (1, 0) AND height >= ? AND height < ? ORDER BY height, canonical DESC, hash`
      : `INSERT OR FAIL INTO blocks_new (id, ${BLOCK_COLUMNS}, hkey) SELECT rowid, ${BLOCK_COLUMNS}, petal_hkey(hash) FROM main.blocks WHERE rowid >= ? AND rowid < ? ORDER BY rowid`)
    let copied = 0
    for (let at = lo ?? 0; lo !== null && hi !== null && at <= hi; at += chunk) { copied += blocks.run(at, at + chunk).changes; show('moving blocks', 0, blocksShare, lo, hi, at + chunk) }
    // Every row or none (a row the ranges missed would be lost with the old table).
    if (copied !== rows) throw new Error(`the move of chain.db to schema version ${SCHEMA_VERSION} missed rows of blocks`)
    if (v1) {
      const [first, last] = db.prepare<[], [number | null, number | null]>('SELECT min(id), max(id) FROM blocks_new').raw().get() ?? [null, null]
      const tables = db.prepare(`INSERT OR FAIL INTO block_tables_new (block, name, sql, rows, root)
        SELECT b.id, t.name, t.sql, t.rows, t.root FROM blocks_new b JOIN main.block_tables t ON t.hash = b.hash WHERE b.id >= ? AND b.id < ? ORDER BY b.id, t.name`)
      for (let at = first ?? 0; first !== null && last !== null && at <= last; at += chunk) { tables.run(at, at + chunk); show('moving tables', 0.55, 0.9, first, last, at + chunk) }
    }
    failpoint('index-migrate:copied')
    pausepointSync('index-migrate:copied')
    db.exec(v1
      ? 'DROP TABLE main.block_tables; DROP TABLE main.blocks; ALTER TABLE blocks_new RENAME TO blocks; ALTER TABLE block_tables_new RENAME TO block_tables;'
      : 'DROP TABLE main.blocks; ALTER TABLE blocks_new RENAME TO blocks;')
    show('indexing', 0.9, 0.92, 0, 0, 0)
    db.exec(blockIndexes())
    db.exec(OLDER_WRITER_TRIGGER)
    show('indexing', 0.92, 1, 0, 0, 0)
    db.prepare("UPDATE main.meta SET value = ? WHERE key = 'schema_version'").run(SCHEMA_VERSION)
    failpoint('index-migrate:done')
  } finally {
    db.pragma(`cache_size = ${cacheBefore}`)
    shown?.end()
  }
}

/**
 * Instead of the move, for a writer that empties the index and fills it anew in the same
 * transaction (`petal reindex`, a genesis' install): the tables of an older version dropped and
 * those of the current one made empty. Copying rows about to be deleted cost a rewrite of the
 * whole index (seconds and twice its size at 1,000,000 blocks; index46). A kill before the commit
 * leaves the older version whole, which opens and is rebuilt again.
 */
export function remakeTables (db: Database.Database): void {
  if (!db.inTransaction) throw new Error('the remake of chain.db outside a write transaction')
  const from = mainVersion(db)
  if (from !== '1' && from !== '2') return
  db.exec(`DROP TABLE main.block_tables; DROP TABLE main.blocks; ${newTables('')} ${blockIndexes()} ${OLDER_WRITER_TRIGGER}`)
  db.prepare("UPDATE main.meta SET value = ? WHERE key = 'schema_version'").run(SCHEMA_VERSION)
}

/** The temp views that show main's tables of `version` as the current version's. */
function viewsOf (version: string): string {
  return version === '1'
    ? `CREATE TEMP VIEW blocks AS SELECT hash AS id, ${BLOCK_COLUMNS}, petal_hkey(hash) AS hkey FROM main.blocks;
      CREATE TEMP VIEW block_tables AS SELECT hash AS block, name, sql, rows, root FROM main.block_tables;`
    : `CREATE TEMP VIEW blocks AS SELECT id, ${BLOCK_COLUMNS}, petal_hkey(hash) AS hkey FROM main.blocks;`
}

/**
 * For a connection to an index of an older version (1 or 2) that must not write it, or not yet:
 * temp views (which unqualified names find before main's tables) that show it as the current
 * version: `hkey` computed from the hash (a lookup `hkey = ? AND hash = ?` then finds the row by
 * the older version's index on the hash); for version 1 also the hash standing for `blocks.id`
 * (both layouts of version 1 key `block_tables` by hash; WITHOUT ROWID `blocks` has no rowid). The
 * statements of index-db.ts then read it unchanged. A reader keeps them (or follows another
 * process's move); a writer reads through them until its first write, which moves the index inside
 * its own write transaction (settle), after the write lock's wait and writer.json.
 */
export class OlderVersionView {
  /** data_version when the index was last found of `version` outside a transaction. */
  private seen: number

  constructor (private readonly db: Database.Database, private version: string) {
    db.exec(viewsOf(version))
    this.seen = this.dataVersion()
  }

  /**
   * This view, or undefined once another process has moved the index to the current version (a
   * `petal serve` left running while a newer Petal's node or pull opens it for writing): the views,
   * which name the old columns, are dropped, and the connection's statements read the new tables
   * (SQLite prepares them again; before session 46, every read of a block's tables failed `no such
   * column` until a restart). Moved to another older version (1 to 2, by a Petal of sessions
   * 45–46): views of that one. Looked at only when another connection has committed; a
   * transaction's older snapshot keeps the views, and the next call looks again.
   */
  follow (): OlderVersionView | undefined {
    const now = this.dataVersion()
    if (now === this.seen) return this
    const v = mainVersion(this.db)
    if (v === SCHEMA_VERSION) {
      this.drop()
      return undefined
    }
    if (v !== undefined && v !== this.version) {
      this.drop()
      this.db.exec(viewsOf(v))
      this.version = v
    }
    if (!this.db.inTransaction) this.seen = now
    return this
  }

  /**
   * A writer's first write, inside its write transaction (after the lock's wait, which honours the
   * command's --wait, and after writer.json names it): the views dropped, then main moved to the
   * current version (moveTables), or, for a writer that empties the index and fills it anew
   * (reindex), its tables remade empty (remakeTables). A rollback undoes both (the temp schema is in
   * the transaction): `present` then says the views are back.
   */
  settle (remake: boolean): void {
    this.drop()
    if (remake) remakeTables(this.db); else moveTables(this.db)
  }

  /** Whether the views are there: false once a writer's settle has committed, or another's move was followed. */
  get present (): boolean {
    return this.db.prepare("SELECT count(*) FROM temp.sqlite_schema WHERE type = 'view' AND name = 'blocks'").pluck().get() === 1
  }

  private drop (): void { this.db.exec('DROP VIEW IF EXISTS temp.blocks; DROP VIEW IF EXISTS temp.block_tables;') }

  private dataVersion (): number { return Number(this.db.pragma('data_version', { simple: true })) }
}
