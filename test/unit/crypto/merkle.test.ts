import { describe, expect, it } from 'vitest'
import { EMPTY_TREE_ROOT, inclusionProof, leafHash, MerkleBuilder, merkleRoot, nodeHash, verifyInclusion } from '../../../src/crypto/index.js'
import { fromHex, toHex } from '../../../src/util/index.js'

// RFC 6962 test data (certificate-transparency's merkle_tree_test): leaves, tree heads of sizes
// 0..8, and audit paths.
const LEAVES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map(h => leafHash(fromHex(h) as Uint8Array))
const ROOTS = [
  'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328'
]
const PATHS: Array<[number, number, string[]]> = [
  [0, 8, ['96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7', '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4']],
  [5, 8, ['bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b', 'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0', 'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7']],
  [2, 3, ['fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125']],
  [1, 5, ['6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d', '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', 'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b']]
]

describe('RFC 6962 Merkle tree', () => {
  it('gives the published tree head for every size 0..8', () => {
    expect(toHex(EMPTY_TREE_ROOT)).toBe(ROOTS[0])
    for (let n = 0; n <= 8; n++) expect(toHex(merkleRoot(LEAVES.slice(0, n))), `size ${n}`).toBe(ROOTS[n])
  })

  it('streams: the builder root equals the batch root at every size', () => {
    const b = new MerkleBuilder()
    for (let n = 1; n <= 8; n++) {
      b.push(LEAVES[n - 1] as Uint8Array)
      expect(toHex(b.root())).toBe(ROOTS[n])
    }
  })

  it('produces and verifies the published audit paths', () => {
    for (const [index, size, path] of PATHS) {
      const proof = inclusionProof(LEAVES.slice(0, size), index)
      expect(proof.map(toHex), `leaf ${index} of ${size}`).toEqual(path)
      expect(verifyInclusion(LEAVES[index] as Uint8Array, index, size, proof, fromHex(ROOTS[size] as string) as Uint8Array)).toBe(true)
    }
  })

  it('verifies every leaf of every tree up to 40 leaves and rejects tampering', () => {
    const leaves = Array.from({ length: 40 }, (_, i) => leafHash(Uint8Array.of(i, i * 3)))
    for (let size = 1; size <= 40; size++) {
      const tree = leaves.slice(0, size)
      const root = merkleRoot(tree)
      for (let i = 0; i < size; i++) {
        const proof = inclusionProof(tree, i)
        expect(verifyInclusion(tree[i] as Uint8Array, i, size, proof, root), `leaf ${i}/${size}`).toBe(true)
        expect(verifyInclusion(nodeHash(tree[i] as Uint8Array, tree[i] as Uint8Array), i, size, proof, root)).toBe(false)
        if (size > 1) expect(verifyInclusion(tree[i] as Uint8Array, (i + 1) % size, size, proof, root)).toBe(false)
      }
    }
  })

  it('rejects out-of-range indexes', () => {
    expect(verifyInclusion(LEAVES[0] as Uint8Array, 8, 8, [], EMPTY_TREE_ROOT)).toBe(false)
    expect(() => inclusionProof(LEAVES, 8)).toThrow(RangeError)
  })
})
