import { nodeHash } from '../../crypto/index.js'
import { ProofError } from '../errors.js'
import type { NodeId } from './plan.js'

/**
 * Read access to the perfect-subtree hashes of a tree (tile-like storage): node (level k, index i)
 * covers leaves [i·2^k, (i+1)·2^k). Only complete nodes exist. One call per proof, so a store
 * backed by SQLite answers a proof with one query.
 */
export interface NodeReader {
  /** The hashes of `ids`, in order; throws PROOF_NODE_MISSING when one is not stored. */
  readNodes: (ids: readonly NodeId[]) => Uint8Array[]
}

/** A tree that grows by appending leaves and shrinks on a reorg; O(n) nodes in all. */
export interface NodeStore extends NodeReader {
  /** number of leaves */
  readonly size: number
  /** Append one leaf hash, storing every perfect node it completes. */
  append: (leaf: Uint8Array) => void
  /** Drop leaves from `size` on, and every node that covers one of them. */
  truncate: (size: number) => void
}

export function missingNode (id: NodeId, size: number): ProofError {
  return new ProofError('PROOF_NODE_MISSING', `the tree of ${size} leaves has no node at level ${id.level}, index ${id.index}`, { details: { level: id.level, index: id.index, size } })
}

/** The nodes an append of leaf number `size` completes, bottom-up: [level, index, hash]. */
export function completedNodes (leaf: Uint8Array, size: number, left: (level: number, index: number) => Uint8Array): Array<[number, number, Uint8Array]> {
  const out: Array<[number, number, Uint8Array]> = [[0, size, leaf]]
  let index = size
  let hash = leaf
  let level = 0
  while (index % 2 === 1) {
    hash = nodeHash(left(level, index - 1), hash)
    index = (index - 1) / 2
    level++
    out.push([level, index, hash])
  }
  return out
}

/** In-memory node store: one array per level. For tests, and for trees small enough to rebuild. */
export class MemoryNodeStore implements NodeStore {
  private readonly levels: Uint8Array[][] = []
  private leaves = 0
  /** node reads served, for tests of the O(log n) bound */
  reads = 0

  get size (): number { return this.leaves }

  append (leaf: Uint8Array): void {
    if (leaf.length !== 32) throw new RangeError('a leaf hash is 32 bytes')
    for (const [level, index, hash] of completedNodes(leaf, this.leaves, (l, i) => this.levels[l]?.[i] as Uint8Array)) {
      const row = this.levels[level] ?? (this.levels[level] = [])
      row[index] = hash
    }
    this.leaves++
  }

  truncate (size: number): void {
    if (!Number.isSafeInteger(size) || size < 0 || size > this.leaves) throw new RangeError(`cannot truncate a tree of ${this.leaves} leaves to ${size}`)
    for (let level = 0; level < this.levels.length; level++) (this.levels[level] as Uint8Array[]).length = Math.floor(size / 2 ** level)
    this.leaves = size
  }

  readNodes (ids: readonly NodeId[]): Uint8Array[] {
    this.reads += ids.length
    return ids.map(id => {
      const h = this.levels[id.level]?.[id.index]
      if (h === undefined) throw missingNode(id, this.leaves)
      return h
    })
  }
}
