import { leafHash } from '../crypto/index.js'
import { StorageError, type BlockRecord, type IndexDb } from '../storage/index.js'
import { equalBytes } from '../util/index.js'
import type { Chain } from './chain.js'

// The chain tree (docs/proofs.md "Chain tree") is derived state of the index: leaf h commits to the
// canonical block at height h. Its 124-byte leaf is also encoded by the offline verifier
// (src/proof/verifier/chain-leaf.ts, which may import nothing); a unit test holds the two equal.
const TAG = Buffer.from('petal/v2/chain-leaf\n', 'utf8')

type LeafFields = Pick<BlockRecord, 'height' | 'hash' | 'rowsRoot' | 'signer'>

/** The leaf hash of a canonical block: SHA-256(0x00 ‖ tag ‖ height u64 BE ‖ hash ‖ RowsRoot ‖ creator key digest). */
export function chainTreeLeaf (b: LeafFields): Uint8Array {
  // Written into one array: a DataView's setter is a V8 builtin, where Buffer's writeBigUInt64BE
  // and Buffer.concat are Node's JavaScript, compiled at their first call. writeBigUInt64BE refused
  // a negative height; so does this (the view would wrap it).
  if (b.height < 0) throw new RangeError(`height ${b.height} is negative`)
  const creator = b.signer.startsWith('1:') ? b.signer.slice(2) : ''
  // Each field's hex decoded straight into its place, without a list of parts: `[…].map(…)` gave a
  // packed array from the builtin and a holey one from TurboFan's inlined `map`, and the optimised
  // code met the other kind at `parts.some` and was deoptimised at its first call
  // (docs/performance/catchup.md, "Session 50: the catch-up's last deoptimisations of Petal's code (catchup50)").
  // Buffer.alloc's memory is its own (never the pool's), so the view starts at 0.
  const leaf = Buffer.alloc(TAG.length + 8 + 3 * 32)
  leaf.set(TAG)
  new DataView(leaf.buffer, leaf.byteOffset).setBigUint64(TAG.length, BigInt(b.height))
  if (!hex32(leaf, TAG.length + 8, b.hash) || !hex32(leaf, TAG.length + 40, b.rowsRoot) || !hex32(leaf, TAG.length + 72, creator)) {
    throw new StorageError('INDEX_CORRUPT', `block ${b.height} has a malformed hash, RowsRoot or creator in the index`, { hint: 'rebuild it from the block files with `petal reindex`' })
  }
  return leafHash(leaf)
}

/**
 * Writes the 32 bytes `h` names in hex into `leaf` at `at`; false when `h` is not 32 bytes of hex as
 * Buffer.from(h, 'hex') reads it (that many bytes: its valid pairs up to the first invalid one,
 * and an odd last digit ignored).
 */
function hex32 (leaf: Buffer, at: number, h: string): boolean {
  return h.length >>> 1 === 32 && leaf.write(h, at, 32, 'hex') === 32
}

/**
 * What one write transaction's appends hand to the next: the tree's size and the roots of its
 * rightmost perfect subtrees by level (ChainTreeTable.append), so that a group's placement reads
 * neither back for each block. Valid only inside the transaction that made it.
 */
export interface TreeCursor { readonly size: number, readonly right: Map<number, Uint8Array> }

/**
 * Add a block that just became the canonical block at its height (inside the write transaction).
 * Returns the cursor for the next append. `cursor`: what the previous append in this transaction
 * returned (a group's placement appends a leaf per block); read from the table if not given.
 */
export function appendToChainTree (index: IndexDb, b: LeafFields, cursor?: TreeCursor): TreeCursor {
  const size = cursor?.size ?? index.tree.size
  if (size !== b.height) throw new StorageError('INDEX_CORRUPT', `the chain tree has ${size} leaves, so block ${b.height} cannot be appended`, { hint: 'rebuild the index with `petal reindex`' })
  const right = cursor?.right ?? new Map<number, Uint8Array>()
  index.tree.append(chainTreeLeaf(b), size, right)
  return { size: size + 1, right }
}

/**
 * Make the chain tree match the canonical chain, under the write lock: nothing to do when its
 * size and last leaf agree with the tip (constant cost); otherwise (an index written by a Petal
 * without the tree) rebuild it from the index's records. Returns whether it rebuilt.
 */
export function reconcileChainTree (chain: Chain): boolean {
  const { index } = chain
  const tip = index.tip()
  if (tip === undefined) return false
  const size = index.tree.size
  if (size === tip.height + 1 && equalBytes(index.tree.readNodes([{ level: 0, index: tip.height }])[0] ?? new Uint8Array(0), chainTreeLeaf(tip))) return false
  index.tree.clear()
  const step = 10_000
  for (let from = 0; from <= tip.height; from += step) {
    for (const b of index.range(from, Math.min(from + step - 1, tip.height), step)) appendToChainTree(index, b)
  }
  chain.logger.info('rebuilt the chain tree from the index', { leaves: tip.height + 1 })
  return true
}
