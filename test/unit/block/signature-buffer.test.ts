import { describe, expect, it } from 'vitest'
import { signPrevious, signSeal, verifyPrevious, verifySeal, type BlockHeader } from '../../../src/block/index.js'
import { generateSigningKey } from '../../../src/crypto/index.js'

// verifyPrevious and verifySeal decode each signature's hex into one buffer per thread: a verdict
// must never come from the bytes a previous call left there.
describe('signature checks with a reused decoding buffer', () => {
  const key = generateSigningKey()
  const other = generateSigningKey()
  const hash = (c: string): string => c.repeat(64)
  const header = (height: number, sig: string): BlockHeader => ({
    version: 2, chainId: hash('c'), height, previousHash: hash('a'), previousHashSignature: sig, creator: key.id,
    timestamp: '2026-12-02T00:00:00Z', time: Date.parse('2026-12-02T00:00:00Z'), rowsRoot: hash('e')
  })
  const good = signPrevious(key, hash('c'), 7, hash('a'))
  const seal = signSeal(key, header(7, good), hash('b'))

  it('a bad signature after a good one fails, and a good one after a bad one passes', () => {
    const bad = [
      signPrevious(other, hash('c'), 7, hash('a')), // another key's
      signPrevious(key, hash('c'), 8, hash('a')), // another message's
      good.slice(0, -2), // truncated: the good bytes are still in the buffer beyond its end
      good.slice(0, -2) + (good.endsWith('00') ? '01' : '00'),
      good.toUpperCase(), // not lower-case hex
      good + '0', // odd length
      good + '00', // a trailing byte
      '', 'zz', good + '00'.repeat(60) // longer than any DER signature
    ]
    for (const b of bad) {
      expect(verifyPrevious(key.publicKey, header(7, good))).toBe(true)
      expect(verifyPrevious(key.publicKey, header(7, b))).toBe(false)
      expect(verifySeal(key.publicKey, header(7, b), hash('b'), seal)).toBe(true)
      expect(verifySeal(key.publicKey, header(7, good), hash('b'), b)).toBe(false)
    }
    expect(verifySeal(key.publicKey, header(7, good), hash('b'), seal)).toBe(true)
    expect(verifySeal(key.publicKey, header(7, good), hash('d'), seal)).toBe(false)
  })
})
