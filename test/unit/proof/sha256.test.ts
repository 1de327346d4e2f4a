import { createHash, randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { sha256Sync } from '../../../src/proof/verifier/sha256.js'

describe('the verifier\'s SHA-256', () => {
  it('equals node:crypto at every padding edge and on long inputs', () => {
    for (const n of [0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 121, 127, 128, 129, 1000, 65_537]) {
      const d = randomBytes(n)
      expect(Buffer.from(sha256Sync(d)).toString('hex'), `${n} bytes`).toBe(createHash('sha256').update(d).digest('hex'))
    }
    expect(Buffer.from(sha256Sync(new TextEncoder().encode('abc'))).toString('hex')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
  })
})
