import { createHash, randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { sha256, sha256Hex } from '../../../src/crypto/index.js'

// sha256Hex of one part goes through node:crypto's one-shot hash (plain verify hashes every small
// block file with it); it must give createHash's digest for everything it is given.
describe('sha256Hex', () => {
  it('gives createHash\'s hex for one part of every kind, and for several', () => {
    const ref = (...parts: Array<Uint8Array | string>): string => { const h = createHash('sha256'); for (const p of parts) h.update(p); return h.digest('hex') }
    const big = randomBytes(70_000)
    const parts: Array<Uint8Array | string> = [
      '', 'abc', 'héllo ✓ 𝄞', '\u0000\uffff', 'lone \ud800 surrogate',
      new Uint8Array(0), Uint8Array.of(1, 2, 3), big, big.subarray(3, 7003),
      new Uint8Array(big.buffer, big.byteOffset + 5, 4096), Buffer.from('petal/v2/seal\n')
    ]
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
    for (const p of parts) {
      expect(sha256Hex(p)).toBe(ref(p))
      expect(sha256Hex(p)).toBe(Buffer.from(sha256(p)).toString('hex'))
    }
    expect(sha256Hex('ab', Uint8Array.of(99))).toBe(ref('abc'))
  })
})
