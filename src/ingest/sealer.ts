import { rm } from 'node:fs/promises'
import { signImport, type Chain } from '../chain/index.js'
import type { SigningKey } from '../crypto/index.js'
import { refuseUnplaceable, tmpBlockPath } from '../storage/index.js'
import { failpoint, pausepoint, type Clock, type Logger } from '../util/index.js'
import { buildInput, reservedBytes } from './build-input.js'
import { encryptSpecFor, readPolicies } from './encrypt-policy.js'
import { IngestError } from './errors.js'
import { anchorHolds, RECONCILED_ANCHOR, RECONCILED_TIP, reconcileFloor } from './pending-summary.js'
import { MAX_TABLES_PER_BLOCK, type TableSchema } from './schema.js'
import type { PendingStore } from './store.js'

/**
 * Turning pending rows into blocks, and keeping every acknowledged row in exactly one canonical
 * block across crashes and reorgs (docs/ingest.md, "Exactly once"). Every function here runs
 * with the seal lock held: there is one sealer per data directory.
 *
 * A seal: claim rows (pending.db commit) → build an input file in tmp/ → signImport, which, under
 * the chain's write lock and before its commit, calls back to record the block's hash and the
 * rows' rowids in pending.db (and to check that none of the rows is already in a canonical block)
 * → mark the batch sealed. A crash anywhere leaves a batch that reconcile() resolves by asking
 * the chain index whether the recorded hash is there.
 */
export interface SealerContext {
  chain: Chain
  store: PendingStore
  key: SigningKey
  logger: Logger
  clock: Clock
}

export interface SealedBlock {
  height: number
  hash: string
  rows: number
  bytes: number
  /** Arrival time of the batch's oldest row (ms). */
  oldestAt: number
  sealedAt: number
}

export interface ReconcileResult {
  /** Rows whose batch had never reached the chain (a crashed or failed seal): pending again. */
  abandoned: number
  /** Rows whose block left the canonical chain: pending again. */
  requeued: number
  /** Rows whose block became canonical again. */
  restored: number
}

/** Room in a block for user rows, given the tables a batch may touch. */
export function blockBudget (chain: Chain, tables: Iterable<TableSchema>): number {
  return Math.max(4096, chain.params.maxBlockBytes - reservedBytes(tables))
}

/**
 * Bring pending.db in line with the chain: resolve batches left in flight (the recorded block is
 * in the index: sealed; otherwise its rows are pending again), then, for batches recent enough
 * that a reorg can still move them, follow their block in and out of the canonical chain.
 */
export async function reconcile (ctx: Omit<SealerContext, 'key'>): Promise<ReconcileResult> {
  const { chain, store } = ctx
  const result: ReconcileResult = { abandoned: 0, requeued: 0, restored: 0 }
  await store.write(() => {
    for (const b of store.batchesIn(['claimed', 'built'])) {
      const rec = b.hash === null ? undefined : chain.index.byHash(b.hash)
      if (b.state === 'built' && rec !== undefined) {
        store.markSealed(b.id, rec.height, ctx.clock.now())
      } else {
        store.abandon(b.id)
        result.abandoned += b.rows
      }
    }
    const tip = chain.tip()
    // Every batch a reorg can have moved since the last reconcile, not only the tip's window (review53b).
    const recent = store.recentBatches(reconcileFrom(chain, store))
    const canonical = (hash: string | null): boolean => hash !== null && chain.index.byHash(hash)?.canonical === true
    // Orphans first: a row is in at most one canonical block, so restoring after cannot clash.
    for (const b of recent) if (b.state === 'sealed' && !canonical(b.hash)) result.requeued += store.orphan(b.id)
    for (const b of recent) if (b.state === 'orphaned' && canonical(b.hash)) result.restored += store.restore(b.id)
    const note = store.stmt('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)')
    note.run(RECONCILED_TIP, String(tip.height))
    const floor = tip.height - chain.params.maxReorgDepth - 1
    note.run(RECONCILED_ANCHOR, floor < 0 ? '' : chain.index.byHeight(floor)?.hash ?? '')
  })
  if (result.abandoned + result.requeued + result.restored > 0) ctx.logger.info('pending rows reconciled with the chain', { ...result })
  return result
}

/** The lowest height of a batch a reorg can have moved since `store`'s last reconcile (reconcileFloor). */
export function reconcileFrom (chain: Chain, store: PendingStore): number {
  const anchored = anchorHolds(store.meta(RECONCILED_ANCHOR), hash => chain.index.byHash(hash)?.canonical === true)
  return reconcileFloor(chain.tip().height, chain.params.maxReorgDepth, store.meta(RECONCILED_TIP), anchored)
}

/**
 * Seal the oldest pending rows (up to row id `upTo`) into one block. Returns undefined when
 * nothing is pending.
 */
export async function sealOne (ctx: SealerContext, upTo: number, signal?: AbortSignal, onWork?: (fraction: number, batchBytes: number) => void): Promise<SealedBlock | undefined> {
  const { chain, store, logger } = ctx
  // Before claiming rows: a refusal signImport finds costs the claim and its release at every retry.
  refuseUnplaceable(chain.dir, chain.tip().height + 1)
  const tables = store.tables()
  const policies = readPolicies(store)
  // Sealed values are larger than their plaintext (29 bytes more, and a BLOB header): a block with
  // encrypted columns is filled to a quarter of the budget, so that it never outgrows the limit.
  const budget = blockBudget(chain, tables.values()) * (policies.size > 0 ? 0.25 : 1)
  // Claim by the rows' encoded size with headroom for SQLite's per-row and per-page overhead;
  // the build then holds the file to the exact budget.
  const batch = await store.write(() => store.claim(Math.floor(budget * 0.8), MAX_TABLES_PER_BLOCK, ctx.clock.now(), upTo), signal)
  if (batch === undefined) return undefined
  failpoint('ingest:claimed')
  const path = tmpBlockPath(chain.dir)
  try {
    // Ended whatever happens: an iterator never started (the block's open failed, ENOSPC) kept
    // the store's connection "busy executing a query", so that every later seal and the node's
    // close failed until a restart (mend36; the fault torture's run lane, seed 355 #8).
    const rows = store.batchRows(batch.id)
    let built: Awaited<ReturnType<typeof buildInput>>
    try { built = await buildInput(path, rows, tables, budget, signal) } finally { rows.return?.() }
    await store.write(() => {
      for (const r of built.refused) {
        logger.error('a pending row cannot be sealed; it is set aside', { receipt: store.receiptOf(r.row), error: r.message })
        store.quarantine(r.row, r.message, ctx.clock.now())
      }
      store.releaseAfter(batch.id, built.lastRow)
    })
    if (built.rowids.length === 0) {
      await store.write(() => { store.abandon(batch.id) })
      return await sealOne(ctx, upTo, signal, onWork)
    }
    failpoint('ingest:built')
    // Tests hold a seal here (its input file built, the chain not yet locked) to stop its process.
    await pausepoint('ingest:built', signal)
    const r = await signImport(chain, path, ctx.key, {
      encrypt: encryptSpecFor(built.tables, policies),
      signal,
      onProgress: p => { onWork?.(p.total > 0 ? p.done / p.total : 0, built.bytes) },
      beforeAccept: async block => {
        // Under the chain's write lock: no reorg can happen between this check and the commit.
        for (const h of store.otherPlacements(batch.id)) {
          if (chain.index.byHash(h)?.canonical === true) {
            throw new IngestError('INGEST_ALREADY_SEALED', `rows of this batch are already in canonical block ${h}`, { details: { hash: h } })
          }
        }
        await store.write(() => { store.recordBuilt(batch.id, block.hash, built.rowids) })
        failpoint('ingest:recorded')
      }
    })
    failpoint('ingest:committed')
    const sealedAt = ctx.clock.now()
    await store.write(() => { store.markSealed(batch.id, r.block.height, sealedAt) })
    failpoint('ingest:sealed')
    return { height: r.block.height, hash: r.block.hash, rows: built.rowids.length, bytes: built.bytes, oldestAt: batch.oldestAt, sealedAt }
  } catch (err) {
    // Nothing reached the chain unless the recorded block is in the index: resolve the batch now
    // rather than at the next reconcile, so its rows are not held back.
    await store.write(() => {
      const b = store.batch(batch.id)
      if (b === undefined) return
      const rec = b.hash === null ? undefined : chain.index.byHash(b.hash)
      if (b.state === 'built' && rec !== undefined) store.markSealed(b.id, rec.height, ctx.clock.now())
      else if (b.state === 'claimed' || b.state === 'built') store.abandon(b.id)
    }).catch((e: unknown) => { logger.warn('could not release a failed batch (the next seal will)', { error: (e as Error).message }) })
    throw err
  } finally {
    await rm(path, { force: true })
  }
}
