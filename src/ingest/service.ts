import type { Chain } from '../chain/index.js'
import type { SigningKey } from '../crypto/index.js'
import { Mutex, nullLogger, systemClock, type Clock, type Logger } from '../util/index.js'
import { AppendStore } from './append-store.js'
import { AppendTx, type AppendJob } from './append-tx.js'
import { IngestError, NO_KEY_HINT } from './errors.js'
import { IngestListeners } from './event-listeners.js'
import { GroupCommit } from './group-commit.js'
import { encodeJsonRecord } from './json-encode.js'
import { DEFAULT_MAX_ROWS, parseRecords, type RecordFormat } from './parse.js'
import { trySealLock, waitSealLock } from './seal-lock.js'
import { reconcile, reconcileFrom, sealOne, type ReconcileResult, type SealedBlock, type SealerContext } from './sealer.js'
import { checkTableName, declareTable } from './schema.js'
import { conflictWithPending, declaredOnChain } from './declare-table.js'
import { receiptCount } from './receipt-range.js'
import { PendingStore } from './store.js'
import { pendingSummaryOf } from './pending-summary.js'
import type { AppendResult, IngestEvents, IngestService, IngestStats, Receipt } from './types.js'
import { checkPolicy, readPolicies, savePolicy, type EncryptPolicy } from './encrypt-policy.js'
import { isTextRows, type IngestRow } from './values.js'

export interface IngestOptions {
  chain: Chain
  /** The key that seals blocks; appends are accepted while it is an active signatory at the tip. */
  key?: SigningKey
  /** The signatory checked by append() when no private key is loaded (`petal append`). */
  keyId?: string
  logger?: Logger
  clock?: Clock
  /** Open pending.db read-only (receipts only). */
  readonly?: boolean
  /** At most this many rows per append() (default 1,000,000). */
  maxAppendRows?: number
}

/** Progress of sealNow(): rows and bytes of pending rows sealed so far, of those pending when it began. */
export interface SealProgress { rows: number, bytes: number, totalRows: number, totalBytes: number, block?: SealedBlock }

/** Appends count as concurrent this long after two were last under way at once (docs/ingest.md, "Group commit"). */
export const CONCURRENT_MS = 100

/**
 * When a seal is due (the node's seal loop, docs/ingest.md "Sealing policy"): once the oldest
 * pending row is `everyMs` old, or once `rows` rows or `bytes` bytes are pending.
 */
export interface SealPolicy { everyMs: number, rows?: number, bytes?: number }

/**
 * The ingest service: rows in, blocks out, receipts. One per process and data directory; several
 * processes may append at once, and one of them seals at a time (the seal lock).
 */
export class Ingest implements IngestService {
  private readonly commits: GroupCommit<AppendJob, AppendResult>
  private readonly appendTx: AppendTx
  private readonly listeners: IngestListeners
  private readonly sealMutex = new Mutex()
  private readonly logger: Logger
  private readonly clock: Clock
  private readonly maxAppendRows: number
  private closed = false
  private inFlight = 0
  /** Appends under way now, and when two or more last were (GroupCommit: whether to overlap fsyncs). */
  private appending = 0
  private concurrentAt = -Infinity
  private idle: (() => void) | undefined
  private sealedRows = 0
  private sealedBlocks = 0
  private lastSeal: IngestStats['lastSeal']
  private reconciledAt = ''
  /** The tip at which the key was last found to be an active signatory. */
  private signatoryAt = ''
  /** Whether the signing key is active at a tip (key state changes only with the tip). */
  private activeAt: { tip: string, active: boolean } | undefined

  /** pending.db's connection for appends (append-store.ts); `store` is for everything else. */
  readonly appends: PendingStore

  private constructor (readonly chain: Chain, readonly store: PendingStore, private readonly config: IngestOptions) {
    this.logger = config.logger ?? nullLogger
    this.listeners = new IngestListeners(this.logger)
    this.clock = config.clock ?? systemClock
    this.maxAppendRows = config.maxAppendRows ?? DEFAULT_MAX_ROWS
    try {
      this.appends = AppendStore.of(store)
    } catch (err) {
      store.close()
      throw err
    }
    this.appendTx = new AppendTx(chain, this.appends, this.clock)
    this.commits = new GroupCommit(this.appends, job => this.appendTx.run(job), r => { if (this.listeners.has('appended')) this.listeners.emit('appended', { table: r.table, rows: receiptCount(r) }) },
      () => performance.now() - this.concurrentAt < CONCURRENT_MS, job => this.appendTx.runAlone(job))
  }

  static open (o: IngestOptions): Ingest {
    return new Ingest(o.chain, PendingStore.open(o.chain.dir.pendingDb, { readonly: o.readonly, resealsSince: o.chain.tip().height }), o)
  }

  get keyId (): string | undefined { return this.config.key?.id ?? this.config.keyId }

  // ---- writes ----

  async putTable (name: string, createSql: string, encrypt?: { columns: unknown, recipients: unknown } | null): Promise<{ created: boolean, sql: string, encrypt?: EncryptPolicy }> {
    return await this.guard(async () => {
      const declared = declareTable(name, createSql)
      return await this.store.write(() => {
        const existing = this.store.tables().get(name.toLowerCase())
        const t = existing === undefined ? declaredOnChain(this.chain, declared) : declared
        // encrypt: a policy sets it, null drops it, absent leaves it as it is.
        const policy = encrypt === undefined || encrypt === null ? undefined : checkPolicy(existing ?? t, encrypt, readPolicies(this.store))
        const setPolicy = (): EncryptPolicy | undefined => {
          if (encrypt !== undefined) savePolicy(this.store, t.name, policy)
          return readPolicies(this.store).get(t.name.toLowerCase())
        }
        if (existing !== undefined) {
          if (existing.declared === t.declared) {
            const p = setPolicy()
            return { created: false, sql: existing.sql, ...(p === undefined ? {} : { encrypt: p }) }
          }
          throw conflictWithPending(existing)
        }
        this.store.saveTable(t, this.clock.now())
        const p = setPolicy()
        return { created: true, sql: t.sql, ...(p === undefined ? {} : { encrypt: p }) }
      })
    })
  }

  async append (table: string, rows: IngestRow[], options: { signal?: AbortSignal } = {}): Promise<AppendResult> {
    return await this.guard(async () => {
      this.checkAppend(table, rows.length)
      if (rows.length === 0) return { receipts: [], table, created: false, addedColumns: [] }
      return await this.submit({ table, rows, text: isTextRows(rows) }, options.signal)
    })
  }

  /**
   * Parse records (a request body, a file) and append them: parseRecords, then append(). JSON
   * rows that fit an existing table as they are are encoded straight from the bytes instead
   * (json-encode.ts), with the same result.
   */
  appendRecords (table: string, input: Uint8Array, format: RecordFormat, options: { maxRows?: number, signal?: AbortSignal } = {}): Promise<AppendResult> {
    // Not an async function: the JSON lane's append (a lone HTTP request's) costs one promise, the
    // group commit's, instead of one per layer; every error still comes back as a rejection.
    try {
      const maxRows = Math.min(options.maxRows ?? DEFAULT_MAX_ROWS, this.maxAppendRows)
      // The tables as last read: the transaction checks the table again (AppendTx.run), and rows
      // encoded for a table that changed meanwhile are typed again there.
      const t = format === 'csv' || this.closed ? undefined : this.appends.cachedTables().get(table.toLowerCase())
      const encoded = t === undefined ? undefined : encodeJsonRecord(input, format === 'ndjson' ? 'ndjson' : 'json', t, maxRows)
      if (t === undefined || encoded === undefined) return this.append(table, parseRecords(input, format, { maxRows: options.maxRows }), options)
      this.checkOpen()
      this.checkAppend(table, encoded.n)
      return this.submit({ table, encoded, schema: t }, options.signal)
    } catch (err) {
      return Promise.reject(err)
    }
  }

  /** Hand an append to the group commit; it counts as in flight (close() waits) until it settles. */
  private submit (job: AppendJob, signal: AbortSignal | undefined): Promise<AppendResult> {
    this.inFlight++
    if (++this.appending > 1) this.concurrentAt = performance.now()
    return this.commits.submit(job, signal, this.appendSettled)
  }

  private readonly appendSettled = (): void => {
    if (this.appending-- > 1) this.concurrentAt = performance.now() // the overlap ends here
    if (--this.inFlight === 0) this.idle?.()
  }

  private checkAppend (table: string, rows: number): void {
    checkTableName(table)
    if (rows > this.maxAppendRows) {
      throw new IngestError('INGEST_TOO_MANY_ROWS', `${rows} rows in one append; at most ${this.maxAppendRows} are accepted`, { hint: `split the input into parts of at most ${this.maxAppendRows} rows`, details: { limit: this.maxAppendRows } })
    }
    this.assertSignatory()
  }

  /** Refuse before anything is stored when this node cannot seal what it accepts. */
  private assertSignatory (): void {
    const id = this.keyId
    if (id === undefined) {
      throw new IngestError('INGEST_NO_KEY', 'this node has no signing key, so it cannot seal records into blocks', { hint: NO_KEY_HINT })
    }
    // The key state changes only with the tip: computing it costs more than the rest of an append,
    // and even reading the tip's whole record is a large part of a single-row append.
    if (this.signatoryAt === this.chain.index.tipHash()) return
    const tip = this.chain.tip()
    const s = this.chain.keysAt(tip).get(id)
    if (s === undefined || s.revokedAt !== null) {
      throw new IngestError('INGEST_NOT_SIGNATORY', `this node's key ${id.slice(0, 14)}… ${s === undefined ? `is not a signatory at height ${tip.height}` : `was revoked at height ${s.revokedAt} (the tip is ${tip.height})`}`, {
        hint: s === undefined ? 'write to a signatory node, or have the signatories add this key (`petal signkey KEY --op add`, then `signimportblock --keyops`)' : 'write to a node whose key is an active signatory',
        details: { key: id, height: tip.height }
      })
    }
    this.signatoryAt = tip.hash
  }

  // ---- receipts ----

  receipt (id: string): Receipt | undefined {
    const rowId = this.store.rowIdOf(id)
    if (rowId === undefined) return undefined
    const row = this.store.row(rowId)
    if (row === undefined) return undefined
    const base: Receipt = { id, table: row.table, state: 'pending', acceptedAt: new Date(row.at).toISOString() }
    // Derived from the chain index, not from what pending.db last noted: always the truth. Inside
    // a write transaction on this process's index connection (a seal between its import and its
    // commit), a block of a batch not yet marked sealed may be uncommitted: not trusted then.
    const writing = this.chain.index.inTransaction
    for (const p of this.store.placementsOf(rowId)) {
      if (writing && p.state !== 'sealed') continue
      const b = p.hash === null ? undefined : this.chain.index.byHash(p.hash)
      if (b?.canonical === true) {
        return { ...base, state: 'sealed', sealed: { height: b.height, blockHash: b.hash, table: row.table, rowid: p.rowid.toString(), sealedAt: b.timestamp } }
      }
    }
    const problem = this.store.problemOf(rowId)
    return problem === undefined ? base : { ...base, problem }
  }

  // ---- sealing ----

  /** Seal every row pending now, in as many blocks as needed. */
  async sealNow (options: { signal?: AbortSignal, onWait?: () => void, onProgress?: (p: SealProgress) => void } = {}): Promise<{ blocks: Array<{ height: number, hash: string, rows: number }> }> {
    return await this.guard(async () => {
      const key = this.sealingKey()
      return await this.sealMutex.run(async () => {
        const lock = await waitSealLock(this.chain.dir.root, { signal: options.signal, onWait: options.onWait })
        try {
          await this.reconcileLocked()
          const upTo = this.store.lastRowId()
          const total = this.store.pendingStats()
          const progress: SealProgress = { rows: 0, bytes: 0, totalRows: total.rows, totalBytes: total.bytes }
          options.onProgress?.(progress)
          const blocks: Array<{ height: number, hash: string, rows: number }> = []
          for (;;) {
            const b = await sealOne(this.ctx(key), upTo, options.signal, (fraction, bytes) => {
              options.onProgress?.({ ...progress, bytes: progress.bytes + Math.round(fraction * bytes) })
            })
            if (b === undefined) break
            this.sealed(b)
            blocks.push({ height: b.height, hash: b.hash, rows: b.rows })
            progress.rows += b.rows
            progress.bytes += b.bytes
            options.onProgress?.({ ...progress, block: b })
          }
          return { blocks }
        } finally {
          lock.release()
        }
      })
    })
  }

  /**
   * One step of the node's seal loop: follow reorgs, and seal when `policy` says a seal is due.
   * Never waits for the seal lock (another process sealing is as good). Returns the blocks sealed.
   */
  async sealDue (policy: SealPolicy, signal?: AbortSignal): Promise<SealedBlock[]> {
    const key = this.config.key
    if (key === undefined || this.closed) return []
    // The tip's hash (a pass runs every poll interval, between requests); the record when it moved.
    const tipHash = this.chain.index.tipHash() ?? this.chain.tip().hash
    const oldest = this.store.oldestPendingAt()
    const due = oldest !== undefined && (this.clock.now() - oldest >= policy.everyMs || this.store.pendingReaches(policy.rows, policy.bytes))
    if (this.activeAt?.tip !== tipHash) this.activeAt = { tip: tipHash, active: this.chain.keysAt(this.chain.tip()).isActive(key.id) }
    const active = this.activeAt.active
    if (!(active && due)) {
      // Reconciled at this tip, unless a batch is left claimed: another process's seal that ended (review51).
      if (tipHash === this.reconciledAt && !this.store.hasLiveBatches(Number.MAX_SAFE_INTEGER)) return []
      // A new tip matters only to batches a reorg can still move (a node that never ingested has none).
      if (!this.store.hasLiveBatches(reconcileFrom(this.chain, this.store))) { this.reconciledAt = tipHash; return [] }
    }
    return await this.guard(async () => await this.sealMutex.run(async () => {
      const lock = trySealLock(this.chain.dir.root)
      if (lock === undefined) return []
      try {
        const r = await this.reconcileLocked() // rows a reorg or a failed seal sent back: at once
        if (!(active && (due || r.requeued > 0 || r.abandoned > 0))) return []
        const upTo = this.store.lastRowId()
        const out: SealedBlock[] = []
        try {
          for (;;) {
            const b = await sealOne(this.ctx(key), upTo, signal)
            if (b === undefined) break
            this.sealed(b)
            out.push(b)
          }
        } catch (err) {
          // Its batch may be left claimed (a full disk failed its release too): reconcile at the retry.
          this.reconciledAt = ''
          throw err
        }
        return out
      } finally {
        lock.release()
      }
    }))
  }

  /** Bring pending.db in line with the chain now (after a crash, a reorg). Takes the seal lock. */
  async reconcile (options: { signal?: AbortSignal } = {}): Promise<ReconcileResult> {
    return await this.guard(async () => await this.sealMutex.run(async () => {
      const lock = await waitSealLock(this.chain.dir.root, { signal: options.signal })
      try {
        return await this.reconcileLocked()
      } finally {
        lock.release()
      }
    }))
  }

  private async reconcileLocked (): Promise<ReconcileResult> {
    const tip = this.chain.tip().hash
    const r = await reconcile({ chain: this.chain, store: this.store, logger: this.logger, clock: this.clock })
    this.reconciledAt = tip
    if (r.requeued > 0) this.listeners.emit('requeued', { rows: r.requeued })
    return r
  }

  private ctx (key: SigningKey): SealerContext {
    return { chain: this.chain, store: this.store, key, logger: this.logger, clock: this.clock }
  }

  private sealingKey (): SigningKey {
    const key = this.config.key
    if (key === undefined) {
      if (this.config.keyId !== undefined) throw new IngestError('INGEST_NO_KEY', 'sealing needs the private signing key, which is not loaded', { hint: 'restart the node with the passphrase of its key (--passphrase-file FILE or PETAL_PASSPHRASE)' })
      throw new IngestError('INGEST_NO_KEY', 'this node has no signing key, so it cannot seal records into blocks', { hint: NO_KEY_HINT })
    }
    this.assertSignatory()
    return key
  }

  private sealed (b: SealedBlock): void {
    this.sealedRows += b.rows
    this.sealedBlocks++
    const latencyMs = Math.max(0, b.sealedAt - b.oldestAt)
    this.lastSeal = { height: b.height, hash: b.hash, rows: b.rows, latencyMs }
    this.logger.info('sealed pending rows into a block', { height: b.height, hash: b.hash, rows: b.rows, latencyMs })
    this.listeners.emit('sealed', { height: b.height, hash: b.hash, rows: b.rows, receipts: b.rows, latencyMs })
  }

  /** True when `hash` is a block this data directory's ingest service sealed (its rows are re-sealed by it, not by the generic reseal). */
  ownsBlock (hash: string): boolean {
    return !this.closed && this.store.ownsBlock(hash)
  }

  // ---- observation ----

  /** How long the oldest pending row has waited (ms), or undefined when none is pending. Cheap. */
  oldestPendingMs (): number | undefined {
    const at = this.store.oldestPendingAt()
    return at === undefined ? undefined : Math.max(0, this.clock.now() - at)
  }

  stats (): IngestStats {
    // As `petal status` counts them, claimed rows included (api54), in one snapshot of the chain.
    const c = this.chain
    const p = c.index.readTransaction(() => pendingSummaryOf(this.store.db, h => c.index.byHash(h)?.canonical === true, { height: c.tip().height, depth: c.params.maxReorgDepth }))
    return {
      pendingRows: p.rows,
      pendingBytes: p.bytes,
      claimedRows: p.claimedRows,
      oldestPendingMs: p.oldestAt === undefined ? undefined : Math.max(0, this.clock.now() - p.oldestAt),
      sealed: this.sealedRows,
      sealedBlocks: this.sealedBlocks,
      lastSeal: this.lastSeal
    }
  }

  on<E extends keyof IngestEvents> (event: E, fn: (e: IngestEvents[E]) => void): () => void {
    return this.listeners.on(event, fn)
  }

  /** Stop taking work, wait for what is running, close pending.db. */
  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    if (this.inFlight > 0) await new Promise<void>(resolve => { this.idle = resolve })
    this.appendTx.close()
    if (this.appends !== this.store) this.appends.close()
    this.store.close()
  }

  private checkOpen (): void {
    if (this.closed) throw new IngestError('INGEST_CLOSED', 'the ingest service is shutting down', { hint: 'retry once the node is back' })
  }

  private async guard<T> (fn: () => Promise<T>): Promise<T> {
    this.checkOpen()
    this.inFlight++
    try {
      return await fn()
    } finally {
      if (--this.inFlight === 0) this.idle?.()
    }
  }
}
