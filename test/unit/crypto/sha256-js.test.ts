import { createHash, randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { generateSigningKey, keyIdOf } from '../../../src/crypto/index.js'
import { SHA256_JS_MAX, sha256HexJs } from '../../../src/crypto/sha256-js.js'

const reference = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

describe('SHA-256 in JavaScript (key ids without node:crypto)', () => {
  it('matches node:crypto on every length up to its maximum, at every padding boundary, and the FIPS 180-4 vectors', () => {
    expect(sha256HexJs(new TextEncoder().encode('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
    expect(sha256HexJs(new Uint8Array(0))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')
    for (let n = 0; n <= SHA256_JS_MAX; n += n < 200 ? 1 : 37) {
      const b = randomBytes(n)
      expect(sha256HexJs(b), `${n} bytes`).toBe(reference(b))
    }
    const max = new Uint8Array(SHA256_JS_MAX).fill(0xff)
    expect(sha256HexJs(max)).toBe(reference(max))
    expect(() => sha256HexJs(new Uint8Array(SHA256_JS_MAX + 1))).toThrow(RangeError)
  })

  it('gives the key id node:crypto gives, for new keys and for an SPKI longer than its maximum', () => {
    for (let i = 0; i < 20; i++) {
      const k = generateSigningKey()
      expect(k.id).toBe(`1:${reference(k.publicKey.spki)}`)
      expect(keyIdOf(k.publicKey.spki)).toBe(k.id)
    }
    const long = randomBytes(SHA256_JS_MAX + 100)
    expect(keyIdOf(long)).toBe(`1:${reference(long)}`)
  })
})
