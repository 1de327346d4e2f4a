import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { leafHash, merkleRoot, inclusionProof as referenceInclusion } from '../../../src/crypto/index.js'
import { consistencyProof, inclusionProof, MemoryNodeStore, PathCollector, treeRoot } from '../../../src/proof/tree/index.js'
import { verifyConsistency, verifyInclusion } from '../../../src/proof/verifier/index.js'
import { FIXTURES } from '../../helpers/fixtures.js'

// Published vectors: transparency-dev/merkle testdata (Apache-2.0), transcribed into the fixture.
interface InclusionVector { case: string, leafIdx: number, treeSize: number, root: string, leafHash: string, proof: string[], desc: string, wantErr: boolean }
interface ConsistencyVector { case: string, size1: number, size2: number, root1: string, root2: string, proof: string[], desc: string, wantErr: boolean }
const VECTORS = JSON.parse(readFileSync(join(FIXTURES, 'merkle', 'transparency-dev-vectors.json'), 'utf8')) as { inclusion: InclusionVector[], consistency: ConsistencyVector[] }
const b64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'))
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

// The RFC 6962 test leaves (certificate-transparency's merkle_tree_test), from which the vectors' trees are built.
const CT_LEAVES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map(h => leafHash(Buffer.from(h, 'hex')))

function storeOf (leaves: readonly Uint8Array[]): MemoryNodeStore {
  const s = new MemoryNodeStore()
  for (const l of leaves) s.append(l)
  return s
}

/** RFC 6962 §2.1.2 PROOF(m, D[n]), straight from the definition, as the reference. */
function referenceConsistency (m: number, leaves: readonly Uint8Array[]): Uint8Array[] {
  const sub = (m: number, d: readonly Uint8Array[], whole: boolean): Uint8Array[] => {
    if (m === d.length) return whole ? [] : [merkleRoot(d)]
    let k = 1
    while (k * 2 < d.length) k *= 2
    return m <= k ? [...sub(m, d.slice(0, k), whole), merkleRoot(d.slice(k))] : [...sub(m - k, d.slice(k), false), merkleRoot(d.slice(0, k))]
  }
  return sub(m, leaves, true)
}

describe('RFC 6962 proofs: published vectors', () => {
  it(`verifies every transparency-dev inclusion vector as published (${VECTORS.inclusion.length} cases)`, async () => {
    for (const v of VECTORS.inclusion) {
      const failure = await verifyInclusion(b64(v.leafHash), v.leafIdx, v.treeSize, v.proof.map(b64), b64(v.root))
      expect(failure === undefined, `${v.case}: ${v.desc} (${failure ?? 'accepted'})`).toBe(!v.wantErr)
    }
  })

  it(`verifies every transparency-dev consistency vector as published (${VECTORS.consistency.length} cases)`, async () => {
    for (const v of VECTORS.consistency) {
      const failure = await verifyConsistency(v.size1, v.size2, v.proof.map(b64), b64(v.root1), b64(v.root2))
      expect(failure === undefined, `${v.case}: ${v.desc} (${failure ?? 'accepted'})`).toBe(!v.wantErr)
    }
  })

  it('generates exactly the published happy-path proofs from stored nodes', () => {
    const store = storeOf(CT_LEAVES)
    let checked = 0
    for (const v of VECTORS.inclusion.filter(v => v.desc === 'happy path')) {
      expect(hex(treeRoot(store, v.treeSize)), v.case).toBe(hex(b64(v.root)))
      expect(inclusionProof(store, v.leafIdx, v.treeSize).map(hex), v.case).toEqual(v.proof.map(p => hex(b64(p))))
      checked++
    }
    for (const v of VECTORS.consistency.filter(v => v.desc === 'happy path')) {
      expect(consistencyProof(store, v.size1, v.size2).map(hex), v.case).toEqual(v.proof.map(p => hex(b64(p))))
      checked++
    }
    expect(checked).toBe(10)
  })
})

describe('RFC 6962 proofs from a node store', () => {
  const leaves = Array.from({ length: 70 }, (_, i) => leafHash(Uint8Array.of(i, i >> 3, 7)))

  it('agrees with the definition for every leaf and every pair of sizes up to 70, and the verifier accepts each', async () => {
    const store = storeOf(leaves)
    for (let n = 1; n <= leaves.length; n++) {
      const tree = leaves.slice(0, n)
      const root = merkleRoot(tree)
      expect(hex(treeRoot(store, n))).toBe(hex(root))
      for (let i = 0; i < n; i++) {
        const p = inclusionProof(store, i, n)
        expect(p.map(hex), `leaf ${i} of ${n}`).toEqual(referenceInclusion(tree, i).map(hex))
        expect(await verifyInclusion(tree[i] as Uint8Array, i, n, p, root)).toBeUndefined()
      }
      for (let m = 1; m <= n; m++) {
        const p = consistencyProof(store, m, n)
        expect(p.map(hex), `${m} → ${n}`).toEqual(referenceConsistency(m, tree).map(hex))
        expect(await verifyConsistency(m, n, p, merkleRoot(leaves.slice(0, m)), root), `${m} → ${n}`).toBeUndefined()
      }
    }
  })

  it('reads O(log n) nodes per proof from a store of O(n) nodes', () => {
    const n = 10_000
    const store = new MemoryNodeStore()
    for (let i = 0; i < n; i++) store.append(leafHash(Uint8Array.of(i & 255, i >> 8)))
    const bound = 2 * Math.ceil(Math.log2(n))
    for (const i of [0, 1, 4095, 4096, 8191, 9998, 9999]) {
      store.reads = 0
      inclusionProof(store, i, n)
      expect(store.reads, `leaf ${i}`).toBeLessThanOrEqual(bound)
      store.reads = 0
      consistencyProof(store, i + 1, n)
      expect(store.reads, `consistency ${i + 1} → ${n}`).toBeLessThanOrEqual(bound)
    }
  })

  it('truncates (a reorg) to exactly the tree of the remaining leaves, and grows again', () => {
    const store = storeOf(leaves.slice(0, 50))
    store.truncate(37)
    expect(store.size).toBe(37)
    expect(hex(treeRoot(store, 37))).toBe(hex(merkleRoot(leaves.slice(0, 37))))
    expect(() => inclusionProof(store, 40, 41)).toThrow(/no node/)
    const other = leafHash(Uint8Array.of(9, 9, 9))
    store.append(other)
    const expected = [...leaves.slice(0, 37), other]
    expect(hex(treeRoot(store, 38))).toBe(hex(merkleRoot(expected)))
    for (let i = 0; i < 38; i++) expect(inclusionProof(store, i, 38).map(hex)).toEqual(referenceInclusion(expected, i).map(hex))
  })

  it('collects the same paths from one pass over streamed leaves, for nested and repeated positions', () => {
    for (const n of [1, 2, 3, 8, 13, 64, 70]) {
      const tree = leaves.slice(0, n)
      const indexes = [...new Set([0, n - 1, Math.floor(n / 2), Math.min(5, n - 1)])]
      const c = new PathCollector(n, indexes)
      for (const l of tree) c.push(l)
      const r = c.finish()
      expect(r, `n = ${n}`).toBeDefined()
      expect(hex(r?.root ?? new Uint8Array())).toBe(hex(merkleRoot(tree)))
      indexes.forEach((i, k) => {
        expect(r?.paths[k]?.map(hex), `leaf ${i} of ${n}`).toEqual(referenceInclusion(tree, i).map(hex))
        expect(hex(r?.leaves[k] ?? new Uint8Array())).toBe(hex(tree[i] as Uint8Array))
      })
    }
    const short = new PathCollector(5, [1])
    for (const l of leaves.slice(0, 4)) short.push(l)
    expect(short.finish(), 'fewer leaves than the size').toBeUndefined()
  })

  it('refuses impossible requests', () => {
    const store = storeOf(leaves.slice(0, 8))
    expect(() => inclusionProof(store, 8, 8)).toThrow(RangeError)
    expect(() => consistencyProof(store, 0, 8)).toThrow(RangeError)
    expect(() => consistencyProof(store, 9, 8)).toThrow(RangeError)
    expect(() => store.truncate(9)).toThrow(RangeError)
  })
})
