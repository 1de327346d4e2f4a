import { leafHash } from '../crypto/index.js'
import type { BlockRecord } from '../storage/index.js'
import { ProofError } from './errors.js'
import type { NodeStore } from './tree/index.js'
import { encodeChainLeaf, type ChainLeaf } from './verifier/index.js'

/** The chain tree leaf of a block (docs/proofs.md "Chain tree"). */
export function chainLeafHash (b: ChainLeaf): Uint8Array {
  const bytes = encodeChainLeaf(b)
  if (bytes === undefined) throw new RangeError(`block ${b.height}: malformed hash, RowsRoot or creator key id`)
  return leafHash(bytes)
}

/** What the chain leaf of an indexed block commits to. */
export function chainLeafOf (r: Pick<BlockRecord, 'height' | 'hash' | 'rowsRoot' | 'signer'>): ChainLeaf {
  return { height: r.height, hash: r.hash, rowsRoot: r.rowsRoot, creator: r.signer }
}

/**
 * Append canonical blocks to the chain tree, in height order starting at the tree's size (leaf h is
 * the block at height h): the step phase 2 runs on accept, after truncating on a reorg.
 */
export function appendChainLeaves (store: NodeStore, blocks: Iterable<ChainLeaf>): void {
  for (const b of blocks) {
    if (b.height !== store.size) {
      throw new ProofError('PROOF_TREE_MISMATCH', `the chain tree has ${store.size} leaves; the next block must be at height ${store.size}, not ${b.height}`)
    }
    store.append(chainLeafHash(b))
  }
}
