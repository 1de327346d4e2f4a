import type Database from 'better-sqlite3'
import { statSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { errorCode, errorMessage, isStringArray, parseJson } from '../util/index.js'
import { StorageError } from './errors.js'
import { closeOrLeave } from './sqlite.js'
import { ChainTreeTable } from './chain-tree-table.js'
import { CHECKPOINT_META, CheckpointTable } from './checkpoint-table.js'
import { WRITER_RECORD } from './index-open-failure.js'
import { BLOCK_COLUMNS, hashKey, hashKeyRange, LATEST_INDEX, UNUSED_INDEXES, toRecord, type BlockRecord, type CanonicalFile, type StoredFile, type BlockRow, type BlockWithTables, type KeyOpRecord, type SignerRecord, type TableRecord, type TableVariant } from './index-records.js'
import { IndexWriteLock, type WriteLockOptions } from './index-write-lock.js'
import { retryBusy, rewriteLog } from './wal-commit.js'
import { completeVersion3, MOVE_WORK, OLDER_WRITER_TRIGGER, type OlderVersionView } from './index-migrate.js'
import { openIndexConnection } from './index-open.js'
import { indexUnwritable } from './index-readonly.js'
import { noteTip } from './index-tip-record.js'

/**
 * `chain.db`: the index of every stored block, the canonical flag, per-block key operations and
 * tables, and the signatory set of the canonical chain. It is derived from the block files and
 * can be rebuilt from them (`petal reindex`). Writers serialise on its IndexWriteLock.
 */
export class IndexDb {
  private readonly db: Database.Database
  private readonly writeLock: IndexWriteLock
  private readonly statements = new Map<string, Database.Statement<unknown[], unknown>>()
  private tipHashStmt: Database.Statement<unknown[], string> | undefined // tipHash()'s statement, plucked
  private canonicalFilesStmt: Database.Statement<unknown[], CanonicalFile> | undefined
  // smallPageCache's passes in progress (the first cuts the cache, the last to end restores it), and the size before.
  private scans = 0
  private cacheBefore = 0
  private indexed = false // completeVersion3 done by this connection's writes

  /** A statement prepared once per connection (preparing costs more than most lookups), whose rows are `R` (this file's SQL decides). */
  private stmt<R = unknown> (sql: string): Database.Statement<unknown[], R> {
    this.olderView &&= this.olderView.follow()
    const cached = this.statements.get(sql)
    if (cached !== undefined) return cached as Database.Statement<unknown[], R>
    const st = this.db.prepare<unknown[], R>(sql)
    this.statements.set(sql, st)
    return st
  }

  readonly tree: ChainTreeTable // the chain tree over canonical blocks (written with them, in the same transaction)
  readonly checkpoints: CheckpointTable // signed checkpoints this node made or received

  /** `olderView`: the views of an index of an older version (1 or 2), until this connection or another process moves it. */
  private constructor (db: Database.Database, recordPath: string, private olderView: OlderVersionView | undefined, unwritableAtOpen = false) {
    this.db = db
    this.writeLock = new IndexWriteLock(db, recordPath, unwritableAtOpen)
    this.tree = new ChainTreeTable(db, () => { this.assertTx() })
    this.checkpoints = new CheckpointTable(db, () => { this.assertTx() })
  }

  /**
   * Open the index. Read-only (readers): the connection cannot write, so it never waits for a
   * writer or takes a lock a writer needs (WAL readers see the last commit). Writable (writers):
   * nothing is written unless the file is new, so opening never waits for a writer either; the
   * write lock is taken later, by withWriteLock (which moves an index of an older schema version first).
   */
  static open (path: string, options: { readonly?: boolean, wait?: boolean } = {}): IndexDb {
    const { db, olderView } = openIndexConnection(path, options)
    return new IndexDb(db, join(dirname(path), WRITER_RECORD), olderView, options.readonly !== true && indexUnwritable(path))
  }

  /** Close the connection (or leave it for the process's exit: closeOrLeave). */
  close (): void { closeOrLeave(this.db) }

  dataVersion (): number { return this.db.pragma('data_version', { simple: true }) as number } // changes whenever another connection commits

  /** Run `fn` holding the write lock, in one SQLite transaction: committed if `fn` resolves, rolled back if it throws; waits off the event loop. */
  async withWriteLock<T> (fn: () => Promise<T>, options: WriteLockOptions = {}): Promise<T> {
    let before: string | undefined // the tip, under the lock: only a commit that moved it is recorded (noteTip)
    const r = await this.lockedWrite(async () => { before = this.tipHash(); return await fn() }, options)
    noteTip(this.db.name, before, this.tipHash(), () => this.tip()) // committed and durable: for recovery
    return r
  }

  private async lockedWrite<T> (fn: () => Promise<T>, options: WriteLockOptions): Promise<T> {
    // An index of version 3 made before session 49 is completed at this connection's first write (a rebuild's at its clear()).
    const first = !this.indexed && options.rebuilds !== true
    if (this.olderView === undefined) return await this.writeLock.run(first ? async () => { completeVersion3(this.db); this.indexed = true; return await fn() } : fn, options)
    // An index of an older version is moved in this write's transaction: after the lock's wait (--wait) and
    // writer.json naming this process, as any write. A rebuild's clear() remakes it instead.
    try {
      return await this.writeLock.run(async () => { if (options.rebuilds !== true) this.olderView?.settle(false); return await fn() }, options)
    } finally {
      this.olderView &&= this.olderView.present ? this.olderView : undefined
    }
  }

  /**
   * Whether SQLite reads every page of the index (`PRAGMA quick_check`): one that opens but has a
   * damaged page is replaced by reindex like one that does not open (a byHeight on it failed
   * SQLITE_CORRUPT, and reindex with it).
   */
  readsWhole (): boolean {
    try {
      return this.db.pragma('quick_check(1)', { simple: true }) === 'ok'
    } catch (err) {
      if (errorCode(err)?.startsWith('SQLITE_CORRUPT') === true) return false
      throw err
    }
  }

  /**
   * Whether chain.db-wal is empty or gone: every commit is then in chain.db itself, fsynced (by a
   * TRUNCATE checkpoint: rewriteWal, a checked one at a close, or an older Petal's last
   * connection's close, which deletes the -wal only once it has succeeded).
   */
  walEmpty (): boolean {
    return (statSync(`${this.db.name}-wal`, { throwIfNoEntry: false })?.size ?? 0) === 0
  }

  /**
   * Re-write every commit of chain.db-wal into chain.db and empty the -wal (rewriteLog, a TRUNCATE
   * checkpoint): how recovery makes durable a group whose fsync failed (recover.ts). False when
   * readers or a writer kept it from finishing; a failure of the disk is thrown, coded.
   * rewriteWalExclusive: between this process's writes (this connection's own transaction would
   * refuse it).
   */
  rewriteWal (busyMs?: number): boolean {
    try {
      return rewriteLog(this.db, busyMs)
    } catch (err) {
      throw new StorageError('IO_ERROR', `the disk failed while re-writing chain.db's log into ${this.db.name}: ${errorMessage(err)}`, {
        hint: 'check the disk (dmesg, fsck), then run the command again: an earlier import whose flush failed is made durable (or rolled back) first',
        details: { systemCode: errorCode(err), path: this.db.name },
        cause: err
      })
    }
  }

  /**
   * rewriteWal between this process's writes, tried again on timers while readers or another
   * writer keep it from finishing, for up to `waitMs`: each try at busy 0 (retryBusy), since
   * SQLite's busy handler sleeps on the calling thread, and a writer's three 5 s waits blocked the
   * event loop (a reader of this process could not even end its snapshot meanwhile). `waitMs` is
   * the whole wait, this process's other writers' included; AbortError on `signal`.
   */
  async rewriteWalExclusive (waitMs: number, signal?: AbortSignal): Promise<boolean> {
    const until = Date.now() + waitMs
    try {
      return await this.writeLock.exclusive(async () => await retryBusy(() => this.rewriteWal(0), Math.max(0, until - Date.now()), signal), { signal, timeoutMs: waitMs })
    } catch (err) {
      if (err instanceof StorageError && err.code === 'LOCK_TIMEOUT') return false
      throw err
    }
  }

  /** Run `fn` under the write lock if it is free right now, synchronously; false when a live writer holds it. */
  tryWriteLockSync (fn: () => void): boolean {
    const view = this.olderView
    // A repair's write (recoverNow) adds the older writers' trigger as well (completeVersion3's index, a scan, waits for a full write).
    if (view === undefined) return this.writeLock.trySync(() => { this.db.exec(OLDER_WRITER_TRIGGER); fn() })
    try {
      return this.writeLock.trySync(() => { view.settle(false); fn() }, MOVE_WORK)
    } finally {
      this.olderView &&= view.present ? view : undefined
    }
  }

  private assertTx (): void { this.writeLock.assertTx() }

  // ---- reads ----

  /**
   * Run synchronous reads in one read transaction, so that they all see the same committed
   * snapshot (a reader serving several lookups while another connection commits a reorg).
   */
  readTransaction<T> (fn: () => T): T {
    if (this.db.inTransaction) return fn()
    this.olderView &&= this.olderView.follow()
    this.db.exec('BEGIN')
    try {
      return fn()
    } finally {
      if (this.db.inTransaction) this.db.exec('COMMIT')
    }
  }

  tip (): BlockRecord | undefined { return this.record(this.stmt<BlockRow>('SELECT * FROM blocks WHERE canonical = 1 ORDER BY height DESC LIMIT 1').get()) }

  /** The canonical tip's hash alone: a cheap check for code that runs on every request (tip() reads the whole record). */
  tipHash (): string | undefined {
    // Plucked once (its text is its own): the hash itself, no row object per call.
    this.tipHashStmt ??= this.stmt<string>('SELECT hash FROM blocks WHERE canonical = 1 ORDER BY height DESC LIMIT 1').pluck()
    return this.tipHashStmt.get()
  }

  byHash (hash: string): BlockRecord | undefined { return this.record(this.stmt<BlockRow>('SELECT * FROM blocks WHERE hkey = ? AND hash = ?').get(hashKey(hash), hash)) }

  /** A stored block's file by hash, as served to peers: four columns where byHash builds a 13-field record (docs/performance/catchup.md, "Session 51: range requests of 128 small blocks (catchup51)"). */
  storedFile (hash: string): StoredFile | undefined {
    // Through stmt() each time, as byHash: a `petal serve` left running follows another process's move of an older index there.
    return this.stmt<StoredFile>('SELECT height, canonical, seal, size FROM blocks WHERE hkey = ? AND hash = ?').raw(true).get(hashKey(hash), hash)
  }

  byHeight (height: number): BlockRecord | undefined { return this.record(this.stmt<BlockRow>('SELECT * FROM blocks WHERE canonical = 1 AND height = ?').get(height)) }

  private record (r: BlockRow | undefined): BlockRecord | undefined { return r === undefined ? undefined : toRecord(r) }

  /** Blocks (canonical or not) whose hash starts with `prefix` (lower-case hex), at most `limit`, by hash. */
  byHashPrefix (prefix: string, limit: number): BlockRecord[] {
    return this.stmt<BlockRow>('SELECT * FROM blocks WHERE hkey BETWEEN ? AND ? AND hash >= ? AND hash < ? ORDER BY hash LIMIT ?').all(...hashKeyRange(prefix), prefix, prefix + 'g', limit).map(toRecord)
  }

  /** Canonical blocks with from ≤ height ≤ to, ascending. */
  range (from: number, to: number, limit = 10_000): BlockRecord[] {
    return this.stmt<BlockRow>('SELECT * FROM blocks WHERE canonical = 1 AND height BETWEEN ? AND ? ORDER BY height LIMIT ?').all(from, to, limit).map(toRecord)
  }

  /**
   * What `verify` compares each canonical block file with (from ≤ height ≤ to, ascending): fewer
   * columns than range(), each row an array. An object per row is built in better-sqlite3's C++
   * by one named property set after another, ~3 K instructions more per row on verify's in-order
   * thread (docs/performance/verify.md, "Session 20: plain verify").
   */
  canonicalFiles (from: number, to: number): CanonicalFile[] {
    this.canonicalFilesStmt ??= this.stmt<CanonicalFile>('SELECT height, hash, seal, size FROM blocks WHERE canonical = 1 AND height BETWEEN ? AND ? ORDER BY height').raw(true)
    return this.canonicalFilesStmt.all(from, to)
  }

  /**
   * This connection's page cache cut to 64 pages (256 KiB) until the returned function restores it,
   * for a pass reading most of the index once (verify's records of every block): at the 16 MB default
   * each page read took fresh memory and its first-touch faults (docs/performance/verify.md, "Session 41").
   */
  smallPageCache (): () => void {
    if (this.scans++ === 0) { this.cacheBefore = this.pageCacheSize(); this.db.pragma('cache_size = 64') }
    let ended = false
    return () => {
      if (!ended && --this.scans === 0) this.db.pragma(`cache_size = ${this.cacheBefore}`)
      ended = true
    }
  }

  /** PRAGMA cache_size of this connection: pages when positive, KiB when negative. */
  pageCacheSize (): number { return Number(this.db.pragma('cache_size', { simple: true })) }

  /** Bytes of the canonical blocks' files with from ≤ height ≤ to, as recorded. */
  canonicalBytes (to: number, from = 0): number { return this.stmt<{ n: number | null }>('SELECT sum(size) AS n FROM blocks WHERE canonical = 1 AND height BETWEEN ? AND ?').get(from, to)?.n ?? 0 }

  /** The hashes of side blocks above `height` (usually none: a catch-up's runs are new blocks). */
  sideHashesAbove (height: number): Set<string> { return new Set(this.stmt<string>('SELECT hash FROM blocks WHERE canonical = 0 AND height > ?').pluck().all(height)) }

  sideBlocks (): BlockRecord[] { return this.stmt<BlockRow>('SELECT * FROM blocks WHERE canonical = 0 ORDER BY height, hash').all().map(toRecord) }

  keyOpsOf (hash: string): KeyOpRecord[] {
    const rows = this.stmt<{ key_id: string, op: 'A' | 'R', pubkey: string, signers: string }>('SELECT key_id, op, pubkey, signers FROM key_ops WHERE hash = ? ORDER BY key_id').all(hash)
    return rows.map(r => {
      const signers = parseJson(r.signers)
      if (!isStringArray(signers)) throw new StorageError('INDEX_CORRUPT', `the index holds malformed key operations for block ${hash}`, { hint: 'rebuild it from the block files with `petal reindex`' })
      return { keyId: r.key_id, op: r.op, pubkey: r.pubkey, signers }
    })
  }

  tablesOf (hash: string): TableRecord[] { return this.stmt<TableRecord>('SELECT name, sql, rows, root FROM block_tables WHERE block = (SELECT id FROM blocks WHERE hkey = ? AND hash = ?) ORDER BY name').all(hashKey(hash), hash) }

  /** Every signatory of the canonical chain, including revoked ones. */
  signers (): SignerRecord[] {
    const rows = this.stmt<{ key_id: string, pubkey: string, added_at: number, revoked_at: number | null }>('SELECT key_id, pubkey, added_at, revoked_at FROM signers ORDER BY added_at, key_id').all()
    return rows.map(r => ({ keyId: r.key_id, pubkey: r.pubkey, addedAt: r.added_at, revokedAt: r.revoked_at }))
  }

  /**
   * The canonical blocks from height `from` to `to`, in height order, each with its hash, its
   * time in POSIX seconds and the rows of its user tables (the explorer's activity chart).
   */
  canonicalActivity (from: number, to: number): Array<{ height: number, hash: string, time: number, rows: number }> {
    return this.stmt<{ height: number, hash: string, time: number, rows: number }>(`SELECT b.height, b.hash, unixepoch(b.timestamp) AS time,
        COALESCE((SELECT SUM(t.rows) FROM block_tables t WHERE t.block = b.id), 0) AS rows
      FROM blocks b WHERE b.canonical = 1 AND b.height BETWEEN ? AND ? ORDER BY b.height`).all(from, to)
  }

  /**
   * The table catalog: each distinct (name, CREATE TABLE text) of the canonical chain with the
   * lowest canonical block that declares it, ordered by that block's height.
   */
  tableVariants (): TableVariant[] {
    // SQLite takes the bare columns of a min() aggregate from the row holding the minimum.
    return this.stmt<BlockRow & { tname: string, tsql: string }>(`SELECT b.*, bt.name AS tname, bt.sql AS tsql, min(b.height) AS first
      FROM block_tables bt JOIN blocks b ON b.id = bt.block WHERE b.canonical = 1 GROUP BY bt.name, bt.sql ORDER BY first`).all()
      .map(r => ({ name: r.tname, sql: r.tsql, block: toRecord(r) }))
  }

  /**
   * Table `name` (ASCII case ignored) as the highest canonical block that has it declares it: its
   * spelling, its CREATE TABLE text and that height; undefined when no canonical block has it
   * (ingest's first write to it). LATEST_INDEX walks the name's blocks from the last placed down to
   * the first canonical one, the highest: a block is indexed after its parent (acceptCandidate,
   * reindex's replay and reattachForks need the parent there), so ids grow along every branch.
   * Without it (an older version's views, or version 3 before a writer added it): one scan of
   * block_tables, then blocks from the tip down (CROSS JOIN keeps that order).
   */
  latestTable (name: string): { name: string, sql: string, height: number } | undefined {
    if (this.olderView === undefined && this.stmt(`SELECT 1 FROM main.sqlite_schema WHERE name = '${LATEST_INDEX}'`).get() !== undefined) {
      return this.stmt<{ name: string, sql: string, height: number }>(`SELECT bt.name, bt.sql, b.height FROM block_tables bt INDEXED BY ${LATEST_INDEX}
        CROSS JOIN blocks b ON b.id = bt.block WHERE bt.name = ? COLLATE NOCASE AND b.canonical = 1 ORDER BY bt.block DESC LIMIT 1`).get(name)
    }
    if (this.stmt('SELECT 1 FROM block_tables WHERE name = ? COLLATE NOCASE LIMIT 1').get(name) === undefined) return undefined
    return this.stmt<{ name: string, sql: string, height: number }>(`SELECT bt.name, bt.sql, b.height FROM blocks b CROSS JOIN block_tables bt ON bt.block = b.id
      WHERE b.canonical = 1 AND bt.name = ? COLLATE NOCASE ORDER BY b.height DESC LIMIT 1`).get(name)
  }

  /**
   * Canonical blocks with from ≤ height ≤ to that have every table of `tables` (lower-case
   * names), each with those tables' CREATE TABLE texts; with no tables, every canonical block in
   * the range. Ascending by height.
   */
  blocksWithTables (tables: readonly string[], from: number, to: number): BlockWithTables[] {
    if (tables.length === 0) {
      return this.stmt<BlockRow>('SELECT * FROM blocks WHERE canonical = 1 AND height BETWEEN ? AND ? ORDER BY height').all(from, to).map(r => ({ block: toRecord(r), tables: [] }))
    }
    const rows = this.stmt<BlockRow & { tname: string, tsql: string }>(`SELECT b.*, lower(bt.name) AS tname, bt.sql AS tsql FROM blocks b JOIN block_tables bt ON bt.block = b.id
      WHERE b.canonical = 1 AND b.height BETWEEN ? AND ? AND lower(bt.name) IN (${tables.map(() => '?').join(', ')}) ORDER BY b.height, tname`).all(from, to, ...tables)
    const out: BlockWithTables[] = []
    for (const r of rows) {
      const last = out.at(-1)
      if (last?.block.hash === r.hash) last.tables.push([r.tname, r.tsql])
      else out.push({ block: toRecord(r), tables: [[r.tname, r.tsql]] })
    }
    return out.filter(b => b.tables.length === tables.length)
  }

  /** Whether this connection is inside a transaction (a write lock's, or readTransaction's). */
  get inTransaction (): boolean { return this.db.inTransaction }
  getMeta (key: string): string | undefined { return this.stmt<{ value: string }>('SELECT value FROM meta WHERE key = ?').get(key)?.value }

  setMeta (key: string, value: string): void {
    this.assertTx()
    this.stmt('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)').run(key, value)
  }

  deleteMeta (key: string): void { this.assertTx(); this.stmt('DELETE FROM meta WHERE key = ?').run(key) }

  countBlocks (): { canonical: number, side: number } {
    const tip = this.tip()
    const side = this.stmt<number>('SELECT COUNT(*) FROM blocks WHERE canonical = 0').pluck().get() ?? 0
    return { canonical: tip === undefined ? 0 : tip.height + 1, side }
  }

  // ---- writes (inside withWriteLock) ----

  insertBlock (b: BlockRecord, tables: readonly TableRecord[], keyOps: readonly KeyOpRecord[]): void {
    this.assertTx()
    const hkey = hashKey(b.hash)
    // A hash is stored once (the unique index on its text did this until schema 3).
    if (this.stmt('SELECT 1 FROM blocks WHERE hkey = ? AND hash = ?').get(hkey, b.hash) !== undefined) throw new Error(`UNIQUE constraint failed: blocks.hash (${b.hash})`)
    const { lastInsertRowid: id } = this.stmt(`INSERT INTO blocks (${BLOCK_COLUMNS}, hkey)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(b.hash, b.height, b.parent, b.canonical ? 1 : 0, b.version, b.signer, b.timestamp, b.rowsRoot, b.prevSig, b.seal, b.size, b.keyOpCount, b.receivedAt, hkey)
    const t = this.stmt('INSERT INTO block_tables (block, name, sql, rows, root) VALUES (?, ?, ?, ?, ?)')
    for (const x of tables) t.run(id, x.name, x.sql, x.rows, x.root)
    const k = this.stmt('INSERT INTO key_ops (hash, key_id, op, pubkey, signers) VALUES (?, ?, ?, ?, ?)')
    for (const x of keyOps) k.run(b.hash, x.keyId, x.op, x.pubkey, JSON.stringify(x.signers))
  }

  setCanonical (hash: string, canonical: boolean): void {
    this.assertTx()
    this.stmt('UPDATE blocks SET canonical = ? WHERE hkey = ? AND hash = ?').run(canonical ? 1 : 0, hashKey(hash), hash)
  }

  deleteBlock (hash: string): void {
    this.assertTx()
    // block_tables first, while the block's id can still be found.
    this.stmt('DELETE FROM block_tables WHERE block = (SELECT id FROM blocks WHERE hkey = ? AND hash = ?)').run(hashKey(hash), hash)
    this.stmt('DELETE FROM blocks WHERE hkey = ? AND hash = ?').run(hashKey(hash), hash)
    this.stmt('DELETE FROM key_ops WHERE hash = ?').run(hash)
  }

  /** Apply a canonical block's key operations to the signatory set. */
  applyKeyOps (height: number, ops: readonly KeyOpRecord[]): void {
    this.assertTx()
    for (const op of ops) {
      if (op.op === 'A') this.stmt('INSERT INTO signers (key_id, pubkey, added_at, revoked_at) VALUES (?, ?, ?, NULL)').run(op.keyId, op.pubkey, height)
      else this.stmt('UPDATE signers SET revoked_at = ? WHERE key_id = ?').run(height, op.keyId)
    }
  }

  /** Undo every key operation above `height` (a reorg back to the fork point). */
  undoKeyOpsAbove (height: number): void {
    this.assertTx()
    this.stmt('DELETE FROM signers WHERE added_at > ?').run(height)
    this.stmt('UPDATE signers SET revoked_at = NULL WHERE revoked_at > ?').run(height)
  }

  /** Empty every table (reindex rebuilds them in the same transaction). */
  clear (): void {
    this.assertTx()
    // Of an older version (a rebuild's write: WriteLockOptions.rebuilds): its tables remade empty, not moved.
    this.olderView?.settle(true)
    // Checkpoints stay, and their meta rows: signatures are not derived from the block files.
    this.db.exec(`DELETE FROM blocks; DELETE FROM block_tables; DELETE FROM key_ops; DELETE FROM signers; DELETE FROM chain_tree; DELETE FROM meta WHERE key <> 'schema_version' AND NOT ${CHECKPOINT_META};`)
    // An index written before session 25 sheds the indexes nothing reads, as a new one is made.
    for (const name of UNUSED_INDEXES) this.db.exec(`DROP INDEX IF EXISTS ${name}`)
    completeVersion3(this.db)
    this.indexed = true
  }
}
