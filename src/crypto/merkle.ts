import { createHash, hash } from 'node:crypto'
import { equalBytes } from '../util/index.js'
import { nativeDigest, nativeOpenssl } from './openssl-native.js'

// RFC 6962 §2.1: leaf = SHA-256(0x00 ‖ data), node = SHA-256(0x01 ‖ left ‖ right), the tree split
// at the largest power of two below n, and the empty tree hashes to SHA-256("").
const LEAF = Uint8Array.of(0x00)

// Each hash goes through the native addon when it is loaded (openssl-native.ts: a process that
// hashes a few rows then loads no node:crypto), else node:crypto; the same digests.

export function leafHash (data: Uint8Array): Uint8Array {
  const lib = nativeOpenssl()
  if (lib !== undefined) {
    const h = lib.hasherNew()
    lib.hasherUpdate(h, LEAF, 0, 1)
    lib.hasherUpdate(h, data, 0, data.length)
    return new Uint8Array(lib.hasherDigest(h))
  }
  return new Uint8Array(createHash('sha256').update(LEAF).update(data).digest())
}

/**
 * Leaf hash of data that already starts with the 0x00 leaf prefix: one-shot hashing of one buffer,
 * the hot path when hashing millions of rows (`crypto.hash` avoids a Hash object per call).
 */
export function prefixedLeafHash (prefixed: Uint8Array): Uint8Array {
  const lib = nativeOpenssl()
  if (lib !== undefined) return nativeDigest(lib, prefixed)
  return hash('sha256', prefixed, 'buffer')
}

/**
 * The RFC 6962 root of leaves given as one buffer of their 0x00-prefixed data, leaf i ending at
 * ends[i] (the next starting there): the native addon hashes them and folds the tree in one call
 * (docs/performance/import.md, "Session 25: the 100-row import"), else MerkleBuilder. No leaves: the
 * empty tree's root.
 */
export function leavesRoot (prefixed: Uint8Array, ends: Uint32Array): Uint8Array {
  if (ends.length === 0) return EMPTY_TREE_ROOT
  const lib = nativeOpenssl()
  if (lib !== undefined) {
    const out = Buffer.allocUnsafe(32)
    lib.merkleRoot(prefixed, ends, out)
    return out
  }
  const tree = new MerkleBuilder()
  let at = 0
  for (const end of ends) {
    if (end < at || end > prefixed.length) throw new RangeError('leaf ends out of order or past the buffer')
    tree.push(prefixedLeafHash(prefixed.subarray(at, end)))
    at = end
  }
  return tree.root()
}

// Interior nodes are hashed from one reused buffer: 0x01 ‖ left ‖ right. Its first byte is set
// rather than filled: Buffer.alloc's fill compiles node:buffer's fill path, ~0.4 M instructions
// of every start whose bundle holds this module (docs/performance/startup.md, "Session 24: start-up").
const scratch = Buffer.alloc(65)
scratch[0] = 0x01

export function nodeHash (left: Uint8Array, right: Uint8Array): Uint8Array {
  scratch.set(left, 1)
  scratch.set(right, 33)
  const lib = nativeOpenssl()
  if (lib !== undefined) return nativeDigest(lib, scratch, 0, 65)
  return hash('sha256', scratch, 'buffer')
}

// SHA-256 of no bytes, written out: computing it when the module loads made every command load
// node:crypto at start, used or not (a unit test checks the value).
export const EMPTY_TREE_ROOT: Uint8Array = Uint8Array.from(Buffer.from('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'hex'))

/**
 * Streaming RFC 6962 tree head: push leaf hashes one by one, read the root at the end. Keeps one
 * hash per set bit of the leaf count (a perfect subtree each), so memory is O(log n).
 */
export class MerkleBuilder {
  private readonly stack: Array<{ hash: Uint8Array, size: number }> = []
  private count = 0

  get size (): number { return this.count }

  push (leaf: Uint8Array): void {
    this.pushSubtree(leaf, 1)
  }

  /**
   * Push the root of a perfect subtree of `size` leaves (a power of two). Equivalent to pushing its
   * leaves one by one, provided the leaves before it number a multiple of `size` — which is what
   * lets chunks of 2^k rows be hashed in parallel and folded here.
   */
  pushSubtree (hash: Uint8Array, size: number): void {
    let node = { hash, size }
    let top = this.stack.at(-1)
    while (top !== undefined && top.size === node.size) {
      this.stack.pop()
      node = { hash: nodeHash(top.hash, node.hash), size: top.size * 2 }
      top = this.stack.at(-1)
    }
    this.stack.push(node)
    this.count += size
  }

  /** The perfect subtrees pushed so far (largest first): a partial tree to fold into another. */
  nodes (): Array<{ hash: Uint8Array, size: number }> {
    return this.stack.map(n => ({ ...n }))
  }

  /** The tree head; the perfect subtrees are folded right to left, as the RFC's split implies. */
  root (): Uint8Array {
    let acc: Uint8Array | undefined
    for (const n of [...this.stack].reverse()) acc = acc === undefined ? n.hash : nodeHash(n.hash, acc)
    return acc ?? EMPTY_TREE_ROOT
  }
}

export function merkleRoot (leaves: readonly Uint8Array[]): Uint8Array {
  const b = new MerkleBuilder()
  for (const l of leaves) b.push(l)
  return b.root()
}

function largestPowerOfTwoBelow (n: number): number {
  let k = 1
  while (k * 2 < n) k *= 2
  return k
}

/** RFC 6962 §2.1.1 PATH(m, D[n]): the audit path of leaf `index`, bottom-up. */
export function inclusionProof (leaves: readonly Uint8Array[], index: number): Uint8Array[] {
  if (!Number.isInteger(index) || index < 0 || index >= leaves.length) throw new RangeError(`leaf index ${index} out of range 0..${leaves.length - 1}`)
  const path = (m: number, d: readonly Uint8Array[]): Uint8Array[] => {
    if (d.length <= 1) return []
    const k = largestPowerOfTwoBelow(d.length)
    return m < k
      ? [...path(m, d.slice(0, k)), merkleRoot(d.slice(k))]
      : [...path(m - k, d.slice(k)), merkleRoot(d.slice(0, k))]
  }
  return path(index, leaves)
}

/** RFC 9162 §2.1.3.2: does `proof` show that `leaf` is at `index` in the tree of `size` with `root`? */
export function verifyInclusion (leaf: Uint8Array, index: number, size: number, proof: readonly Uint8Array[], root: Uint8Array): boolean {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) return false
  let fn = index
  let sn = size - 1
  let r = leaf
  for (const p of proof) {
    if (sn === 0) return false
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r)
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2) }
      }
    } else {
      r = nodeHash(r, p)
    }
    fn = Math.floor(fn / 2)
    sn = Math.floor(sn / 2)
  }
  return sn === 0 && equalBytes(r, root)
}
