// RFC 9162 verification of RFC 6962 Merkle inclusion (§2.1.3.2) and consistency (§2.1.4.2) proofs.
// Sizes and indexes are numbers up to 2^53 (halved by division: bit operators are 32-bit).
import { equalBytes } from './bytes.js'
import { nodeHash } from './sha256.js'

/** Why a proof does not verify; `undefined` means it does. */
export type MerkleFailure =
  | 'index-out-of-range'
  | 'bad-hash-length'
  | 'wrong-path-length'
  | 'root-mismatch'
  | 'first-tree-larger'
  | 'first-tree-empty'
  | 'proof-not-empty'
  | 'proof-empty'

export const MERKLE_FAILURE_TEXT: Record<MerkleFailure, string> = {
  'index-out-of-range': 'the leaf index is not below the tree size',
  'bad-hash-length': 'a hash is not 32 bytes',
  'wrong-path-length': 'the path has the wrong number of hashes for this index and size',
  'root-mismatch': 'the path does not lead to the expected root',
  'first-tree-larger': 'the first tree is larger than the second',
  'first-tree-empty': 'a consistency proof from the empty tree proves nothing',
  'proof-not-empty': 'trees of equal size need an empty proof',
  'proof-empty': 'the proof is empty'
}

const HASH_BYTES = 32
const half = (n: number): number => Math.floor(n / 2)
const odd = (n: number): boolean => n % 2 === 1

function isCount (n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0
}

/** Does `path` show that `leaf` is leaf `index` of the tree of `size` leaves with head `root`? */
export async function verifyInclusion (leaf: Uint8Array, index: number, size: number, path: readonly Uint8Array[], root: Uint8Array): Promise<MerkleFailure | undefined> {
  if (!isCount(index) || !isCount(size) || index >= size) return 'index-out-of-range'
  if (leaf.length !== HASH_BYTES || path.some(p => p.length !== HASH_BYTES)) return 'bad-hash-length'
  let fn = index
  let sn = size - 1
  let r = leaf
  for (const p of path) {
    if (sn === 0) return 'wrong-path-length'
    if (odd(fn) || fn === sn) {
      r = await nodeHash(p, r)
      if (!odd(fn)) {
        while (!odd(fn) && fn !== 0) { fn = half(fn); sn = half(sn) }
      }
    } else {
      r = await nodeHash(r, p)
    }
    fn = half(fn)
    sn = half(sn)
  }
  if (sn !== 0) return 'wrong-path-length'
  return equalBytes(r, root) ? undefined : 'root-mismatch'
}

/**
 * Does `path` show that the tree of `size1` leaves with head `root1` is a prefix of the tree of
 * `size2` leaves with head `root2`? Both heads are recomputed from the same path, so neither can
 * be chosen freely.
 */
export async function verifyConsistency (size1: number, size2: number, path: readonly Uint8Array[], root1: Uint8Array, root2: Uint8Array): Promise<MerkleFailure | undefined> {
  if (!isCount(size1) || !isCount(size2)) return 'index-out-of-range'
  if (size2 < size1) return 'first-tree-larger'
  if (size1 === 0) return 'first-tree-empty'
  if (size1 === size2) {
    if (path.length > 0) return 'proof-not-empty'
    return equalBytes(root1, root2) ? undefined : 'root-mismatch'
  }
  if (path.length === 0) return 'proof-empty'
  if (path.some(p => p.length !== HASH_BYTES)) return 'bad-hash-length'
  // A first tree that is a perfect subtree is its own first node: RFC 9162 prepends root1.
  const nodes = Number.isInteger(Math.log2(size1)) && 2 ** Math.log2(size1) === size1 ? [root1, ...path] : [...path]
  let fn = size1 - 1
  let sn = size2 - 1
  while (odd(fn)) { fn = half(fn); sn = half(sn) }
  let fr = nodes[0] as Uint8Array
  let sr = fr
  for (const c of nodes.slice(1)) {
    if (sn === 0) return 'wrong-path-length'
    if (odd(fn) || fn === sn) {
      fr = await nodeHash(c, fr)
      sr = await nodeHash(c, sr)
      if (!odd(fn)) {
        while (!odd(fn) && fn !== 0) { fn = half(fn); sn = half(sn) }
      }
    } else {
      sr = await nodeHash(sr, c)
    }
    fn = half(fn)
    sn = half(sn)
  }
  if (sn !== 0) return 'wrong-path-length'
  return equalBytes(fr, root1) && equalBytes(sr, root2) ? undefined : 'root-mismatch'
}
