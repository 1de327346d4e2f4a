import { BlockError } from '../block/index.js'
import {
  StorageError, applyMoves, placeBlock, prepareBlock, removeBlock, removeJournal, undoMoves, writeJournal,
  type BlockRecord, type KeyOpRecord, type Move
} from '../storage/index.js'
import type { Chain } from './chain.js'
import { failpoint } from '../util/index.js'
import { isBetterTip } from './fork-choice.js'
import { appendToChainTree } from './chain-tree.js'
import { blockRecordOf } from './block-record.js'
import { validateOnParent, type Candidate } from './validate/index.js'
import type { TxContext } from './write-tx.js'

/** `repaired`: the block was known, and this copy replaced its damaged or missing stored file. */
export type ImportStatus = 'extended' | 'side' | 'reorg' | 'known' | 'repaired'

export interface ReorgInfo {
  /** Height of the last block both branches share. */
  forkHeight: number
  depth: number
  oldTip: BlockRecord
  newTip: BlockRecord
  /** Blocks that left the canonical chain, lowest first (now on a side branch). */
  orphaned: BlockRecord[]
}

export interface ImportResult {
  status: ImportStatus
  block: BlockRecord
  reorg?: ReorgInfo
  /** Set when the block made a better branch, but switching to it would exceed max_reorg_depth. */
  reorgRefused?: { depth: number, maxDepth: number }
}

// Side blocks that can no longer become canonical are pruned every this many heights.
export const PRUNE_EVERY = 32

/**
 * Validate a candidate against its parent and store it, all under the write lock: extend the tip,
 * keep it on a side branch, or switch branches (reorg) when it makes a better tip. File moves are
 * journaled before they start; the index transaction that records the block commits them.
 * `prepared`: `tmpFile` is flushed and its `.sig` written beside it (prepareBlockFiles).
 */
export function acceptCandidate (chain: Chain, c: Candidate, tmpFile: string, tx: TxContext, o: { prepared?: boolean } = {}): ImportResult {
  const { index, dir } = chain
  const known = index.byHash(c.hash)
  if (known !== undefined) return { status: 'known', block: known }
  const h = c.file.header
  const parent = index.byHash(h.previousHash)
  if (parent === undefined) {
    throw new BlockError('PARENT_UNKNOWN', `parent ${h.previousHash.slice(0, 12)}… of block ${h.height} is not known here`, { details: { height: h.height, parent: h.previousHash } })
  }
  const ops = validateOnParent(c, chain.contextAt(parent))
  const record = blockRecordOf(c, ops, false, chain.clock.now())
  const tip = chain.tip()

  if (parent.hash === tip.hash) {
    placeBlock(tmpFile, dir.blockPath(h.height), c.seal, o.prepared)
    failpoint('extend:placed')
    const block = { ...record, canonical: true }
    index.insertBlock(block, c.file.tables, ops)
    index.applyKeyOps(h.height, ops)
    appendToChainTree(index, block)
    failpoint('extend:indexed')
    if (h.height % PRUNE_EVERY === 0) pruneSideBlocks(chain, h.height, tx)
    // debug: a node catching up imports thousands; it logs the ones that follow the tip itself.
    chain.logger.debug('imported block', { height: h.height, hash: c.hash, signer: h.creator })
    return { status: 'extended', block }
  }

  if (!isBetterTip(record, tip)) {
    storeSide(chain, c, record, ops, tmpFile, tx)
    chain.logger.info('stored side-branch block', { height: h.height, hash: c.hash })
    return { status: 'side', block: record }
  }

  // A better branch: find where it leaves the canonical chain.
  const branch: BlockRecord[] = []
  let fork = parent
  while (!fork.canonical) {
    branch.unshift(fork)
    const up = index.byHash(fork.parent)
    if (up === undefined) throw new StorageError('INDEX_CORRUPT', `side block ${fork.hash} has no parent in the index`, { hint: 'rebuild the index with `petal reindex`' })
    fork = up
  }
  const depth = tip.height - fork.height
  if (depth > chain.params.maxReorgDepth) {
    storeSide(chain, c, record, ops, tmpFile, tx)
    chain.logger.warn('refused reorg deeper than max_reorg_depth', { depth, maxDepth: chain.params.maxReorgDepth, hash: c.hash })
    return { status: 'side', block: record, reorgRefused: { depth, maxDepth: chain.params.maxReorgDepth } }
  }
  return switchBranch(chain, c, record, ops, tmpFile, { fork, branch, tip, depth }, tx)
}

/** Run journaled moves; if anything fails before commit, put every file back. */
function journaled (chain: Chain, commit: string, moves: Move[], tx: TxContext, work: () => void): void {
  writeJournal(chain.dir, { commit, moves })
  failpoint('journal:written')
  try {
    applyMoves(moves)
    failpoint('journal:moved')
    work()
    failpoint('journal:indexed')
  } catch (err) {
    undoMoves(moves)
    removeJournal(chain.dir)
    throw err
  }
  tx.afterCommit(() => { removeJournal(chain.dir) })
}

function storeSide (chain: Chain, c: Candidate, record: BlockRecord, ops: KeyOpRecord[], tmpFile: string, tx: TxContext): void {
  prepareBlock(tmpFile, c.seal)
  journaled(chain, c.hash, [{ from: tmpFile, to: chain.dir.forkPath(c.hash) }], tx, () => {
    chain.index.insertBlock(record, c.file.tables, ops)
  })
}

function switchBranch (
  chain: Chain, c: Candidate, record: BlockRecord, ops: KeyOpRecord[], tmpFile: string,
  r: { fork: BlockRecord, branch: BlockRecord[], tip: BlockRecord, depth: number }, tx: TxContext
): ImportResult {
  const { index, dir } = chain
  const h = c.file.header
  const old = index.range(r.fork.height + 1, r.tip.height)
  const moves: Move[] = [
    ...old.map(b => ({ from: dir.blockPath(b.height), to: dir.forkPath(b.hash) })),
    ...r.branch.map(b => ({ from: dir.forkPath(b.hash), to: dir.blockPath(b.height) })),
    { from: tmpFile, to: dir.blockPath(h.height) }
  ]
  prepareBlock(tmpFile, c.seal)
  const newTip = { ...record, canonical: true }
  journaled(chain, c.hash, moves, tx, () => {
    for (const b of old) index.setCanonical(b.hash, false)
    index.undoKeyOpsAbove(r.fork.height)
    index.tree.truncate(r.fork.height + 1)
    for (const b of r.branch) {
      index.setCanonical(b.hash, true)
      index.applyKeyOps(b.height, index.keyOpsOf(b.hash))
      appendToChainTree(index, b)
    }
    index.insertBlock(newTip, c.file.tables, ops)
    index.applyKeyOps(h.height, ops)
    appendToChainTree(index, newTip)
  })
  const orphaned = old.map(b => ({ ...b, canonical: false }))
  chain.logger.info('reorganised chain', { forkHeight: r.fork.height, depth: r.depth, oldTip: r.tip.hash, newTip: c.hash, height: h.height })
  return { status: 'reorg', block: newTip, reorg: { forkHeight: r.fork.height, depth: r.depth, oldTip: r.tip, newTip, orphaned } }
}

/** Forget side blocks too deep to ever win; their files go after the commit. */
export function pruneSideBlocks (chain: Chain, tipHeight: number, tx: TxContext): void {
  const limit = tipHeight - chain.params.maxReorgDepth
  const dead = chain.index.sideBlocks().filter(b => b.height < limit)
  for (const b of dead) chain.index.deleteBlock(b.hash)
  if (dead.length > 0) {
    tx.afterCommit(() => { for (const b of dead) removeBlock(chain.dir.forkPath(b.hash)) })
    chain.logger.debug('pruned side blocks', { count: dead.length })
  }
}
