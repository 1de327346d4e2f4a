import { ChainError, type Chain } from '../chain/index.js'
import { buildConsistencyProof, buildProofBundle, type RowLocator } from './build.js'
import { readCheckpointNote } from './checkpoint.js'
import { chunkCache } from './chunk-cache.js'
import type { ChunkPool } from './table-chunks.js'
import { ProofError, proofErrorDocs } from './errors.js'
import type { NoCheckpointHint } from './no-checkpoint.js'
import { findCheckpoint, storedChainTree, type StoredCheckpoint } from './stored.js'
import type { BundleDocument, ConsistencyDocument } from './verifier/index.js'

// What `petal prove` and the HTTP API serve: proofs made from a data directory's canonical block
// files, its chain tree and the signed checkpoints it keeps.

export interface ProveRowsRequest {
  /** height of a canonical block */
  height: number
  table: string
  /** rows by rowid, or by position in the table's canonical order (WITHOUT ROWID tables) */
  rows: Array<{ rowid: bigint } | { index: number }>
  /** prove against a final checkpoint (every block in it at least max_reorg_depth below its signer's tip) */
  final?: boolean
  signal?: AbortSignal
  /** the thread that hashes chunk roots of large tables (the caller owns it; default: this thread) */
  chunkPool?: ChunkPool
  /** PROOF_NO_CHECKPOINT's hint for whoever asks (noCheckpointHint), when the caller knows who that is */
  noCheckpointHint?: NoCheckpointHint
}

/**
 * The checkpoint a proof of `height` uses, or PROOF_NO_CHECKPOINT with what to do: `hint` for whoever
 * asks (noCheckpointHint), when the caller knows who that is.
 */
export function checkpointForHeight (chain: Chain, height: number, final = false, hint?: NoCheckpointHint): StoredCheckpoint {
  const c = findCheckpoint(chain, { height, final })
  if (c !== undefined) return c
  const tip = chain.tip().height
  const notFinalYet = final && height > tip - chain.params.maxReorgDepth
  throw new ProofError('PROOF_NO_CHECKPOINT', final
    ? `no final signed checkpoint covers height ${height}${notFinalYet ? ` (it is within max_reorg_depth ${chain.params.maxReorgDepth} of the tip ${tip})` : ''}`
    : `no signed checkpoint of the current chain covers height ${height}`, {
    hint: notFinalYet
      ? 'leave out --final (over HTTP, final=true), or wait until the block is max_reorg_depth blocks below the tip'
      // Who asks not known: the code's documented hint, which says what each of them does.
      : hint?.({ height, final }) ?? proofErrorDocs().PROOF_NO_CHECKPOINT.hint,
    details: { height, final }
  })
}

/** A bundle proving rows of one table of one canonical block, against the latest fitting checkpoint. */
export async function proveRows (chain: Chain, r: ProveRowsRequest): Promise<BundleDocument> {
  const block = chain.get(r.height)
  if (block === undefined) {
    throw new ChainError('BLOCK_NOT_FOUND', `no canonical block at height ${r.height}`, { hint: `the tip is at height ${chain.tip().height}` })
  }
  if (r.rows.length === 0) throw new ProofError('PROOF_ROW_NOT_FOUND', 'no row named to prove', { hint: 'name a row with --rowid (or --index)' })
  const checkpoint = checkpointForHeight(chain, block.height, r.final, r.noCheckpointHint)
  const rows: RowLocator[] = r.rows.map(x => 'rowid' in x ? { table: r.table, rowid: x.rowid } : { table: r.table, index: x.index })
  return await buildProofBundle([{ path: chain.pathOf(block), hash: block.hash, rows }], {
    chainId: chain.chainId, tree: storedChainTree(chain), checkpoint: checkpoint.note, maxBlockBytes: chain.params.maxBlockBytes, signal: r.signal,
    chunks: chunkCache(chain.dir.proofCache, chain.logger), chunkPool: r.chunkPool
  })
}

/**
 * A consistency proof between two checkpoints, each given as a tree size (a stored checkpoint of
 * the current chain of that size) or as a signed note (one a client kept).
 */
export function proveConsistency (chain: Chain, from: number | string, to: number | string, o: { missingHint?: (size: number) => string } = {}): ConsistencyDocument {
  const note = (x: number | string): string => {
    if (typeof x === 'string') { readCheckpointNote(x); return x }
    const c = findCheckpoint(chain, { size: x })
    if (c === undefined) {
      // Not every size is kept (a node that pulled keeps the checkpoints it was sent): the nearest
      // ones it keeps, for a client that can only give sizes (the API: api-hints.ts).
      const latest = findCheckpoint(chain)?.size
      const below = latest === undefined || latest < x ? latest : x > 1 ? findCheckpoint(chain, { maxSize: x - 1 })?.size : undefined
      const answers = latest === undefined ? undefined : answeringSizes(chain, from, to, latest)
      throw new ProofError('PROOF_NO_CHECKPOINT', `no signed checkpoint of size ${x} of the current chain is stored here`, {
        hint: o.missingHint?.(x) ?? '`petal checkpoint --list` shows the stored ones; or give a checkpoint file', details: { size: x, ...(below === undefined ? {} : { below }), ...(latest === undefined ? {} : { latest }), ...(answers === undefined ? {} : { answers }) }
      })
    }
    return c.note
  }
  return buildConsistencyProof({ chainId: chain.chainId, tree: storedChainTree(chain), from: note(from), to: note(to) })
}

/**
 * Two sizes this node keeps around those asked, smaller first: `from` or the largest kept below it
 * (else one kept above it), and `to` or one kept above it (else the latest). The request that
 * answers, for a client that can only give sizes (the API's hint: api-hints.ts). Before session 56
 * the hint named the size kept nearest to the missing one only: given with the other size asked, it
 * was refused again when that one was not kept either, or came out smaller.
 */
function answeringSizes (chain: Chain, from: number | string, to: number | string, latest: number): { from: number, to: number } | undefined {
  if (typeof from !== 'number' || typeof to !== 'number') return undefined
  const atOrBelow = (n: number): number | undefined => n < 1 ? undefined : findCheckpoint(chain, { maxSize: n })?.size
  // One kept at or above n, near it: windows doubling up to the latest (not a walk of every note).
  const atOrAbove = (n: number): number | undefined => {
    for (let m = Math.max(n, 1); ; m = Math.min(m * 2, latest)) {
      const c = findCheckpoint(chain, { height: Math.max(n, 1) - 1, maxSize: m })?.size
      if (c !== undefined || m >= latest) return c
    }
  }
  const f = atOrBelow(from) ?? atOrAbove(from) ?? latest
  const t = Math.max(atOrAbove(Math.max(to, f)) ?? latest, f)
  return { from: f, to: t }
}
