import { applyMovesGrouped, prepareGroup, removeJournal, undoMoves, writeJournalAsync, type BlockRecord, type KeyOpRecord, type LockOptions, type Move } from '../storage/index.js'
import { failpoint, throwIfAborted } from '../util/index.js'
import { PRUNE_EVERY, pruneSideBlocks, type ImportResult } from './accept.js'
import { blockRecordOf } from './block-record.js'
import { appendToChainTree, type TreeCursor } from './chain-tree.js'
import { MAX_FUTURE_MS, type Chain } from './chain.js'
import { acceptLoaded, checkImportable, discardLoaded, type LoadedBlock } from './import.js'
import type { KeyState } from './key-state.js'
import { validateOnParent } from './validate/index.js'
import { writeTx, type TxContext } from './write-tx.js'

/** What importBatch did: one result per block taken, in order, and the block that stopped it. */
export interface BatchOutcome {
  results: ImportResult[]
  /** The block at `index` was refused (or could not be stored): it and every later one were not imported. */
  failure?: { index: number, error: unknown }
}

/**
 * Import loaded blocks in order. A run of blocks that each extend the one before it, starting at
 * the tip, is validated block by block (each on the key state its predecessor leaves) and placed
 * as one group: files and seals fsynced together, one journal, every rename, then ONE index
 * transaction for all of them. Anything else (a known block, a side branch, a reorg) goes
 * through the one-block path. A block that fails stops the batch: the blocks before it are kept
 * (committed), it and the rest are not imported. Consumes every loaded block (its tmp/ file is
 * placed or deleted).
 */
export async function importBatch (chain: Chain, blocks: readonly LoadedBlock[], options: LockOptions = {}): Promise<BatchOutcome> {
  const results: ImportResult[] = []
  // Blocks a group placed: their tmp/ files are in their slots now, nothing to delete.
  let placed = 0
  let i = 0
  try {
    while (i < blocks.length) {
      throwIfAborted(options.signal)
      const first = blocks[i] as LoadedBlock
      // A look without the lock; the group re-checks under it.
      if (extendsTip(chain, first)) {
        const r = await placeGroup(chain, blocks.slice(i), options)
        results.push(...r.results)
        if (placed === i) placed += r.results.length
        i += r.results.length
        if (r.failure !== undefined) return { results, failure: { index: i, error: r.failure } }
        if (r.results.length > 0) continue
      }
      try {
        results.push(await acceptLoaded(chain, first, options))
      } catch (error) {
        return { results, failure: { index: i, error } }
      }
      i++
    }
    return { results }
  } catch (error) {
    return { results, failure: { index: i, error } }
  } finally {
    await Promise.all(blocks.slice(placed).map(discardLoaded))
  }
}

function extendsTip (chain: Chain, b: LoadedBlock): boolean {
  const h = b.candidate.file.header
  return h.version === 2 && h.height > 0 && h.previousHash === chain.tip().hash && chain.index.byHash(b.candidate.hash) === undefined
}

interface Validated { block: LoadedBlock, record: BlockRecord, ops: KeyOpRecord[] }

/**
 * Under one write lock: validate the longest run of `blocks` that extends the tip, then place the
 * valid ones as a group. Returns the blocks placed, and the error of the first invalid one.
 */
async function placeGroup (chain: Chain, blocks: readonly LoadedBlock[], options: LockOptions): Promise<{ results: ImportResult[], failure?: unknown }> {
  let failure: unknown
  // syncOffLoop: the group's journal undoes it if a crash loses the commit, so chain.db-wal is
  // flushed on the thread pool after it, before the group is reported and its journal removed.
  const results = await writeTx(chain, async tx => {
    const group: Validated[] = []
    let parent = chain.tip()
    let keys: KeyState | undefined
    const now = chain.clock.now()
    // A block of the run is new unless it is a side block the index holds already: those are
    // above the tip (the run extends it), so one query for them, not a lookup per block.
    const known = chain.index.sideHashesAbove(parent.height)
    for (const b of blocks) {
      const c = b.candidate
      const h = c.file.header
      if (h.previousHash !== parent.hash || h.version !== 2 || h.height === 0 || known.has(c.hash)) break
      keys ??= chain.keysAt(parent)
      let ops: KeyOpRecord[]
      try {
        checkImportable(chain, c)
        ops = validateOnParent(c, { chainId: chain.chainId, parent: { hash: parent.hash, height: parent.height, time: Date.parse(parent.timestamp) }, keys, quorumRule: chain.params.quorumRule, now, maxFutureMs: MAX_FUTURE_MS })
      } catch (err) {
        failure = err
        break
      }
      const record = blockRecordOf(c, ops, true, now)
      group.push({ block: b, record, ops })
      keys = keys.apply(ops, h.height)
      parent = record
    }
    if (group.length > 0) await storeGroup(chain, group, tx)
    return group.map((g): ImportResult => ({ status: 'extended', block: g.record }))
  }, { work: `import ${blocks.length} blocks from height ${blocks[0]?.candidate.file.header.height ?? '?'}`, ...options, syncOffLoop: true, placesBlocks: true })
  for (const b of blocks.slice(0, results.length)) b.meter?.finish()
  return { results, failure }
}

/**
 * Place a validated group on the tip: files and seals durable in tmp/, a journal naming every
 * move (committed by the index row of the group's last block), the renames, each directory
 * fsynced once, then the index rows, key operations and chain-tree leaves in the write
 * transaction. A crash before the commit leaves the journal, and recovery moves every file back;
 * after it, the whole group is in the index. Never part of a group.
 *
 * The journal is written while the files are flushed, not after: recovery reads nothing of a
 * block but its moves, and no rename starts before both are durable (docs/data-directory.md,
 * "Crash safety").
 */
async function storeGroup (chain: Chain, group: readonly Validated[], tx: TxContext): Promise<void> {
  const { dir, index } = chain
  for (const g of group) g.block.meter?.stage('storing', g.block.candidate.file.size)
  const moves: Move[] = group.map(g => ({ from: g.block.tmp, to: dir.blockPath(g.record.height) }))
  const last = group[group.length - 1] as Validated
  // The journal first: its fsync is then not queued behind the files' on libuv's pool.
  const journaled = writeJournalAsync(dir, { commit: last.record.hash, moves }).then(() => { failpoint('batch:journaled') })
  const flushed = prepareGroup(group.map(g => ({ file: g.block.tmp, seal: g.block.candidate.seal, prepared: g.block.prepared, sealWritten: g.block.sealWritten }))).then(() => { failpoint('batch:prepared') })
  const failed = (await Promise.allSettled([journaled, flushed])).find(r => r.status === 'rejected')
  if (failed !== undefined) {
    // Nothing moved yet: a journal that made it would only be rolled back (to nothing) by recovery.
    removeJournal(dir)
    throw failed.reason
  }
  try {
    await applyMovesGrouped(moves)
    failpoint('batch:moved')
    let tree: TreeCursor | undefined
    for (const g of group) {
      index.insertBlock(g.record, g.block.candidate.file.tables, g.ops)
      index.applyKeyOps(g.record.height, g.ops)
      tree = appendToChainTree(index, g.record, tree)
      chain.logger.debug('imported block', { height: g.record.height, hash: g.record.hash, signer: g.record.signer })
    }
    const first = group[0] as Validated
    if (Math.floor(last.record.height / PRUNE_EVERY) > Math.floor((first.record.height - 1) / PRUNE_EVERY)) pruneSideBlocks(chain, last.record.height, tx)
    failpoint('batch:indexed')
  } catch (err) {
    undoMoves(moves)
    removeJournal(dir)
    throw err
  }
  tx.afterCommit(() => { removeJournal(dir) })
}
