import { closeSync, openSync } from 'node:fs'
import { claimLog, closeWal, commitWal, fdatasyncWal, rewriteLogWaiting, systemFailure, type SqliteDb, type SqliteStatement } from '../storage/index.js'
import { AbortError, sleep } from '../util/index.js'
import { describeTable, scratchDb, type TableSchema } from './schema.js'
import { LOOK_PENDING, toBatch, type Batch, type BatchRow, type BatchState, type PendingRow, type Placement } from './pending-schema.js'
import { formatReceipt, parseReceipt } from './receipt-id.js'
import { RowInserter } from './row-inserter.js'
import type { PackedRows } from './record-pack.js'
import { openPendingDb } from './store-open.js'
import { PENDING_STATS_SQL } from './pending-summary.js'
import { batchRowCount, batchRowsOf, oldestPending, placeOf, splitAfter } from './pending-records.js'

/** PendingStore.writeNow(): another process holds the write lock, nothing ran. */
export const BUSY: unique symbol = Symbol('pending store busy')

/**
 * `pending.db`: rows acknowledged but not yet in a canonical block, the batches that sealed them,
 * and where each row landed. WAL with synchronous=FULL: a commit is on disk before append()
 * resolves. Several processes may write it at once (a node and `petal append`); each write is one
 * short transaction. Rows are never deleted: a receipt stays answerable.
 *
 *   rows        one record per append (layout 3, record-pack.ts): table, its `n` encoded rows
 *               (numbered `id - n + 1` … `id`), their size, arrival time, and `batch`, the batch
 *               that holds them now (NULL while pending). No index on pending records (it would
 *               cost every append a second B-tree insert): meta `low` is a record id below which
 *               no record is pending, and pending records are read by id from there.
 *   batches     claimed (a sealer took the rows), built (block hash recorded; the chain commit may
 *               or may not have happened), sealed (its block is canonical), orphaned (its block left
 *               the canonical chain; its rows went back to pending)
 *   placements  per row and batch, the rowid the row got in that batch's block
 */
export class PendingStore {
  private readonly stmts = new Map<string, SqliteStatement>()
  private readonly inserter: RowInserter
  protected tableCache: { version: string, tables: Map<string, TableSchema> } | undefined
  private versionStmt: SqliteStatement<string> | undefined
  /** The WAL file, opened for syncWal(). */
  private walFd: number | undefined
  /** The deferred commits syncWal() has yet to settle (storage's wal-claims.ts: no checkpoint of this process drops a lost log meanwhile). */
  private claims: Array<() => void> = []
  readonly instance: string
  /** Set when synchronous=FULL could not be restored (restoreFull): no write is made any more. */
  protected failed: { err: unknown } | undefined

  /** `instance`: given by a second connection to the same file (append-store.ts), read here otherwise. */
  protected constructor (readonly db: SqliteDb, readonly path: string, readonly readonly: boolean, instance?: string) {
    this.instance = instance ?? this.meta('instance') ?? ''
    this.inserter = new RowInserter(db)
  }

  /** Open (creating it if needed) the pending store; `readonly`: for commands that only read receipts (none: an empty store); `resealsSince`: the tip's height, meta `reseals_since` of a store that has none. */
  static open (path: string, options: { readonly?: boolean, resealsSince?: number } = {}): PendingStore {
    return new PendingStore(openPendingDb(path, options.readonly === true, options.resealsSince), path, options.readonly === true)
  }

  close (): void {
    if (this.walFd !== undefined) { closeSync(this.walFd); this.walFd = undefined }
    for (const settle of this.claims.splice(0)) settle() // a failed store's, never synced
    closeWal(this.db) // no SQLite checkpoint at the close, a checked one (storage's closeWal)
  }

  stmt (sql: string): SqliteStatement {
    let s = this.stmts.get(sql)
    if (s === undefined) { s = this.db.prepare(sql); this.stmts.set(sql, s) }
    return s
  }

  meta (key: string): string | undefined {
    return (this.stmt('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined)?.value
  }

  /**
   * Run `fn` in a write transaction (BEGIN IMMEDIATE), committed when it returns. Another process
   * holding the write lock is waited for without blocking the event loop. `fn` is synchronous, so
   * nothing else in this process runs inside the transaction.
   *
   * `deferSync`: the COMMIT writes the WAL without its fsync (synchronous=NORMAL for this one
   * transaction), and the caller must await syncWal() before anyone is told the write is durable.
   * The fsync then runs on libuv's thread pool instead of blocking the event loop, and one fsync
   * covers every commit made while the previous one ran (group commit, docs/performance.md).
   */
  async write<T> (fn: () => T, signal?: AbortSignal, options: { deferSync?: boolean } = {}): Promise<T> {
    let delay = 1
    for (;;) {
      if (signal?.aborted === true) throw new AbortError()
      const r = this.writeNow(fn, options.deferSync === true)
      if (r !== BUSY) return r
      await sleep(delay, signal)
      delay = Math.min(delay * 2, 50)
    }
  }

  /**
   * write() without waiting: `fn` runs in a write transaction, committed when it returns, at once
   * (synchronously), or BUSY when another process holds the write lock (nothing ran; try again
   * later, as write() does from a timer). The group commit calls it directly: a lone append then
   * costs no promise and no microtask hop for the transaction.
   */
  writeNow<T> (fn: () => T, deferSync = false): T | typeof BUSY {
    // The setting is this connection's: it is NORMAL only from BEGIN to COMMIT, with no await in
    // between, so every other write (the sealer's claims and placements) keeps its own fsync.
    // syncWal's descriptor is opened before the first deferred COMMIT (review35, index-write-lock.ts).
    if (this.failed !== undefined) throw this.failed.err
    if (deferSync) { this.walFd ??= openSync(`${this.path}-wal`, 'r'); this.stmt('PRAGMA synchronous = NORMAL').run() }
    let began = false
    try {
      began = this.tryBegin()
    } finally {
      if (deferSync && !began) this.restoreFull()
    }
    if (!began) return BUSY
    if (deferSync) this.claims.push(claimLog(this.db.name)) // before its COMMIT, until syncWal settles it
    try {
      const r = fn()
      // A COMMIT whose fsync failed is undone for good, not only in this process (commitWal).
      commitWal(this.db, () => this.stmt('COMMIT').run(), LOOK_PENDING)
      return r
    } catch (err) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK')
      throw err
    } finally {
      if (deferSync) this.restoreFull()
    }
  }

  /**
   * Back to synchronous=FULL after a deferred write. Should that fail, the connection would stay
   * at NORMAL and later writes would be committed, and acknowledged, without their fsync: refuse
   * every write from then on, as after a failed fsync, until pending.db is opened again.
   */
  private restoreFull (): void {
    try {
      this.stmt('PRAGMA synchronous = FULL').run()
    } catch (err) {
      this.failed = { err: systemFailure(err) ?? err }
      throw this.failed.err
    }
  }

  /**
   * Sync the WAL off the event loop: every commit made before the call is durable once it resolves
   * (its frames are; a checkpoint syncs the WAL itself first, at any synchronous level). The WAL
   * stays one file while this connection is open (reset and truncated in place), so fdatasync is
   * enough: it writes the frames and what reading them back needs (a grown size, new blocks), not
   * the times (docs/ingest.md, "Group commit": the argument; fsync's inode writes, performance.md).
   */
  async syncWal (): Promise<void> {
    this.walFd ??= openSync(`${this.path}-wal`, 'r')
    const fd = this.walFd
    const claims = this.claims.splice(0) // the commits made before this call: settled once synced or re-written
    await fdatasyncWal(this.db, fd) // and its directory, once (storage's wal-sync.ts)
      // Its commits are made: refused, they would be sealed all the same (a retry doubles them). A
      // fsync retried after a failure proves nothing (fsyncgate): re-write the log, waiting out
      // other processes' readers and writers for a minute (review35: after one second, refused).
      .catch(async (err: unknown) => { if (!await rewriteLogWaiting(this.db, 60_000).catch(() => false)) throw err })
      .finally(() => { for (const settle of claims) settle() })
  }

  protected tryBegin (): boolean {
    if (this.db.inTransaction) throw new Error('pending store: nested write transaction')
    // Prepared once: db.pragma() and db.exec() compile their SQL on every call, on every append.
    try {
      this.stmt('PRAGMA busy_timeout = 0').get()
      this.stmt('BEGIN IMMEDIATE').run()
      return true
    } catch (err) {
      if (((err as { code?: string }).code ?? '').startsWith('SQLITE_BUSY')) return false
      throw err
    } finally {
      this.stmt('PRAGMA busy_timeout = 5000').get()
    }
  }

  // ---- receipts ----
  receiptOf (rowId: number): string { return formatReceipt(this.instance, rowId) }

  /** The row id a receipt names, or undefined when it is not one of this store's receipts. */
  rowIdOf (receipt: string): number | undefined { return parseReceipt(receipt, this.instance) }

  // ---- tables ----
  /** Every table, by lower-case name (re-read only when another writer changed one). */
  tables (): Map<string, TableSchema> {
    // A plucked statement of its own: asked inside every append's transaction, no row object.
    this.versionStmt ??= this.db.prepare<unknown[], string>("SELECT value FROM meta WHERE key = 'schema_version'").pluck()
    const version = this.versionStmt.get() ?? '0'
    if (this.tableCache?.version === version) return this.tableCache.tables
    const rows = this.stmt('SELECT name, sql, declared FROM tables').all() as Array<{ name: string, sql: string, declared: string | null }>
    const tables = new Map<string, TableSchema>()
    const db = scratchDb()
    try {
      for (const r of rows) {
        db.exec(r.sql)
        tables.set(r.name.toLowerCase(), { name: r.name, sql: r.sql, declared: r.declared ?? undefined, columns: describeTable(db, r.name).columns })
      }
    } finally {
      db.close()
    }
    this.tableCache = { version, tables }
    return tables
  }

  /** The tables as last read, not asking whether another writer changed one: for choices a write transaction checks again. */
  cachedTables (): Map<string, TableSchema> { return this.tableCache?.tables ?? this.tables() }

  /** Drop the cached tables (a rolled-back transaction may have changed one); re-read at the next use. */
  forgetTables (): void { this.tableCache = undefined }

  /** Store a new or changed table (inside write()). */
  saveTable (t: TableSchema, now: number): void {
    this.stmt('INSERT INTO tables (name, sql, declared, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET sql = excluded.sql, declared = excluded.declared')
      .run(t.name, t.sql, t.declared ?? null, now)
    this.stmt("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'schema_version'").run()
  }

  // ---- rows ----
  /** A lone row appended in one statement, or undefined: append in a write transaction (AppendStore's). */
  appendAlone (_table: string, _sql: string, _data: Buffer, _at: number): { name: string, first: number } | undefined { return undefined }

  /** Insert encoded rows (inside write()); returns the id of the first (ids are consecutive). */
  insertRecord (table: string, data: PackedRows, at: number): number {
    return this.inserter.insertRecord(table, data, at)
  }

  row (id: number): { id: number, table: string, at: number, batch: number | null } | undefined {
    const r = placeOf(this.stmtOf, id)
    return r === undefined ? undefined : { id, table: r.tbl, at: r.at, batch: r.batch }
  }

  private readonly stmtOf = (sql: string): SqliteStatement => this.stmt(sql)

  /** Every batch a row was placed in, with its rowid there. */
  placementsOf (rowId: number): Placement[] {
    return (this.stmt('SELECT p.batch, b.state, b.hash, p.rowid FROM placements p JOIN batches b ON b.id = p.batch WHERE p.row = ? ORDER BY p.batch')
      .safeIntegers(true).all(rowId) as Array<{ batch: bigint, state: BatchState, hash: string | null, rowid: bigint }>)
      .map(r => ({ batch: Number(r.batch), state: r.state, hash: r.hash, rowid: r.rowid }))
  }

  problemOf (rowId: number): string | undefined {
    return (this.stmt('SELECT message FROM problems WHERE row = ?').get(rowId) as { message: string } | undefined)?.message
  }

  lastRowId (): number {
    return (this.stmt('SELECT coalesce(max(id), 0) AS n FROM rows').get() as { n: number }).n
  }

  /** A row id below which no row is pending (see the table comment at the top). */
  private low (): number {
    return Number(this.meta('low') ?? '1')
  }

  /** Rows from `id` on may be pending again (they were released, abandoned, orphaned). */
  private lowerLow (id: number | null | undefined): void {
    if (id === null || id === undefined) return
    this.stmt("UPDATE meta SET value = min(CAST(value AS INTEGER), ?) WHERE key = 'low'").run(id)
  }

  /** Arrival time of the oldest pending row (reads from `low`, inside the statement: one read transaction). */
  oldestPendingAt (): number | undefined {
    return (this.stmt("SELECT at FROM rows WHERE id >= coalesce((SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'low'), 1) AND batch IS NULL ORDER BY id LIMIT 1").get() as { at: number } | undefined)?.at
  }

  /**
   * Whether at least `rows` rows or `bytes` bytes are pending. Reads no further than the
   * threshold, so a seal loop polling it costs little however much is pending.
   */
  pendingReaches (rows: number | undefined, bytes: number | undefined): boolean {
    if (rows === undefined && bytes === undefined) return false
    let n = 0
    let b = 0
    for (const r of this.stmt('SELECT bytes, n FROM rows WHERE id >= ? AND batch IS NULL ORDER BY id').iterate(this.low()) as IterableIterator<{ bytes: number, n: number }>) {
      n += r.n
      b += r.bytes
      if ((rows !== undefined && n >= rows) || (bytes !== undefined && b >= bytes)) return true
    }
    return false
  }

  /** Count and size of every pending row: reads them all (for stats and progress, not for polling). */
  pendingStats (): { rows: number, bytes: number, oldestAt: number | undefined } {
    const r = this.stmt(PENDING_STATS_SQL).get(this.low()) as { n: number, b: number, t: number | null }
    return { rows: r.n, bytes: r.b, oldestAt: r.t ?? undefined }
  }

  // ---- batches (inside write(), by the one sealer) ----

  /**
   * Claim the oldest pending rows (ids up to `upTo`), up to `budget` bytes (at least one row) and
   * `maxTables` tables, into a new batch. Returns undefined when nothing is pending. A record that
   * does not fit whole is split, and its rows that fit are claimed.
   */
  claim (budget: number, maxTables: number, now: number, upTo = Number.MAX_SAFE_INTEGER): Batch | undefined {
    const low = this.low()
    const { rows, bytes, last, oldest } = oldestPending(this.stmtOf, low, upTo, budget, maxTables)
    if (rows === 0) return undefined
    const id = Number(this.stmt("INSERT INTO batches (state, rows, bytes, oldest_at, claimed_at, pid) VALUES ('claimed', ?, ?, ?, ?, ?)").run(rows, bytes, oldest, now, process.pid).lastInsertRowid)
    // From `last` when below `low` (a record's last row): the head of a first record split (review37).
    this.stmt('UPDATE rows SET batch = ? WHERE id >= ? AND id <= ? AND batch IS NULL').run(id, Math.min(low, last), last)
    this.stmt("UPDATE meta SET value = ? WHERE key = 'low'").run(last + 1) // every pending row up to `last` taken
    return { id, state: 'claimed', hash: null, height: null, rows, bytes, oldestAt: oldest, claimedAt: now, sealedAt: null }
  }

  batchRows (batch: number): IterableIterator<PendingRow> {
    return batchRowsOf(this.stmtOf, batch)
  }

  /** Give back the batch's rows above `lastKept` (they did not fit in its block). */
  releaseAfter (batch: number, lastKept: number): void {
    if (lastKept > 0) splitAfter(this.stmtOf, lastKept)
    this.lowerLow((this.stmt('SELECT min(id) AS m FROM rows WHERE batch = ? AND id > ?').get(batch, lastKept) as { m: number | null }).m)
    this.stmt('UPDATE rows SET batch = NULL WHERE batch = ? AND id > ?').run(batch, lastKept)
    const r = this.stmt('SELECT coalesce(sum(n), 0) AS n, coalesce(sum(bytes), 0) AS b, coalesce(min(at), 0) AS t FROM rows WHERE batch = ?').get(batch) as { n: number, b: number, t: number }
    this.stmt('UPDATE batches SET rows = ?, bytes = ?, oldest_at = ? WHERE id = ?').run(r.n, r.b, r.t, batch)
  }

  /** Set a row aside that can never be sealed (a bug, or a damaged store): it stays pending, with the reason. */
  quarantine (row: number, message: string, now: number): void {
    // The row becomes a record of its own.
    splitAfter(this.stmtOf, row - 1)
    splitAfter(this.stmtOf, row)
    this.stmt('UPDATE rows SET batch = 0 WHERE id = ?').run(row)
    this.stmt('INSERT OR REPLACE INTO problems (row, message, at) VALUES (?, ?, ?)').run(row, message, now)
  }

  /** Hashes of blocks of other batches that hold any of this batch's rows. */
  otherPlacements (batch: number): string[] {
    return (this.stmt(`SELECT DISTINCT b.hash FROM rows r JOIN placements p ON p.row BETWEEN r.id - r.n + 1 AND r.id JOIN batches b ON b.id = p.batch
      WHERE r.batch = ? AND p.batch <> ? AND b.hash IS NOT NULL`).all(batch, batch) as Array<{ hash: string }>).map(r => r.hash)
  }

  /** The batch's block is built: remember its hash and every row's rowid, before the chain commits it. */
  recordBuilt (batch: number, hash: string, rowids: ReadonlyArray<readonly [number, bigint]>): void {
    const ins = this.stmt('INSERT OR REPLACE INTO placements (row, batch, rowid) VALUES (?, ?, ?)')
    for (const [row, rowid] of rowids) ins.run(row, batch, rowid)
    this.stmt("UPDATE batches SET state = 'built', hash = ? WHERE id = ?").run(hash, batch)
  }

  markSealed (batch: number, height: number, now: number): void {
    this.stmt("UPDATE batches SET state = 'sealed', height = ?, sealed_at = coalesce(sealed_at, ?) WHERE id = ?").run(height, now, batch)
  }

  /** A batch whose block never reached the chain: its rows are pending again. */
  abandon (batch: number): void {
    this.lowerLow(this.firstRowOf(batch))
    this.stmt('UPDATE rows SET batch = NULL WHERE batch = ?').run(batch)
    this.stmt('DELETE FROM placements WHERE batch = ?').run(batch)
    this.stmt('DELETE FROM batches WHERE id = ?').run(batch)
  }

  /** The batch's block left the canonical chain: its rows are pending again. */
  orphan (batch: number): number {
    this.lowerLow(this.firstRowOf(batch))
    const n = batchRowCount(this.stmtOf, batch)
    this.stmt('UPDATE rows SET batch = NULL WHERE batch = ?').run(batch)
    this.stmt("UPDATE batches SET state = 'orphaned' WHERE id = ?").run(batch)
    return n
  }

  private firstRowOf (batch: number): number | null {
    return (this.stmt('SELECT min(id) AS m FROM rows WHERE batch = ?').get(batch) as { m: number | null }).m
  }

  /** The batch's block is canonical again: its rows belong to it. */
  restore (batch: number): number {
    // A record's id is its last row: every record inside the batch's rows has it placed.
    this.stmt('UPDATE rows SET batch = ? WHERE id IN (SELECT row FROM placements WHERE batch = ?)').run(batch, batch)
    const n = batchRowCount(this.stmtOf, batch)
    this.stmt("UPDATE batches SET state = 'sealed' WHERE id = ?").run(batch)
    return n
  }

  batchesIn (states: readonly BatchState[]): Batch[] {
    return (this.stmt(`SELECT * FROM batches WHERE state IN (${states.map(() => '?').join(', ')}) ORDER BY id`).all(...states) as BatchRow[]).map(toBatch)
  }

  /** Whether any batch is unfinished, or recent enough (at or above `height`) for a reorg to move. */
  hasLiveBatches (height: number): boolean {
    return this.stmt("SELECT 1 FROM batches WHERE state IN ('claimed', 'built') OR (state IN ('sealed', 'orphaned') AND height >= ?) LIMIT 1").get(height) !== undefined
  }

  /** Sealed or orphaned batches at or above `height` (the ones a reorg can still change). */
  recentBatches (height: number): Batch[] {
    return (this.stmt("SELECT * FROM batches WHERE state IN ('sealed', 'orphaned') AND height >= ? ORDER BY id").all(height) as BatchRow[]).map(toBatch)
  }

  batch (id: number): Batch | undefined {
    const r = this.stmt('SELECT * FROM batches WHERE id = ?').get(id) as BatchRow | undefined
    return r === undefined ? undefined : toBatch(r)
  }

  /** True when `hash` is the block of one of this store's batches. */
  ownsBlock (hash: string): boolean {
    return this.stmt('SELECT 1 FROM batches WHERE hash = ?').get(hash) !== undefined
  }

  /** pending.db's change counter for other connections' commits (cheap change detection). */
  dataVersion (): number {
    return this.db.pragma('data_version', { simple: true }) as number
  }
}
