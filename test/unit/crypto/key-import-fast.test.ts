// The import paths that skip OpenSSL's decoders (docs/performance/import.md, "Session 21: the 100-row
// import"): a keystore key in Node's PKCS#8 layout (importP256Pkcs8) and a canonical public key for
// verification (pointKeyObject). Each must give the key the decoders give, and leave anything else
// to them.
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { generateSigningKey, importPrivateKey, privateKeyToPkcs8, signV2, verifyV2 } from '../../../src/crypto/index.js'
import { pointKeyObject } from '../../../src/crypto/ecdsa.js'
import { importP256Pkcs8 } from '../../../src/crypto/keys.js'

const N = Buffer.from('ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551', 'hex')

function pkcs8 (): Buffer {
  return generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'der' })
}

describe('importP256Pkcs8', () => {
  it('imports the keystore layout as the PKCS#8 decoder does: same id, same scalar, signatures that verify', () => {
    for (let i = 0; i < 16; i++) {
      const der = pkcs8()
      const fast = importP256Pkcs8(der)
      expect(fast).toBeDefined()
      if (fast === undefined) continue
      const decoded = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })
      expect(fast.keyObject.export({ type: 'pkcs8', format: 'der' }).equals(der)).toBe(true)
      expect(Buffer.from(fast.publicKey.spki).equals(createPublicKey(decoded).export({ type: 'spki', format: 'der' }))).toBe(true)
      expect(importPrivateKey(der).id).toBe(fast.id)
      const msg = `message ${i}`
      expect(verifyV2(fast.publicKey, msg, signV2(fast, msg))).toBe(true)
    }
    const k = generateSigningKey()
    expect(importP256Pkcs8(privateKeyToPkcs8(k))?.id).toBe(k.id)
  })

  it('leaves a point that is not d·G to the decoder, and the key is refused in every form', () => {
    const a = pkcs8()
    const b = pkcs8()
    const spliced = Buffer.concat([a.subarray(0, 73), b.subarray(73)])
    expect(importP256Pkcs8(spliced)).toBeUndefined()
    // OpenSSL keeps the file's point: the key would take b's id while signing with a's scalar.
    const decoded = createPrivateKey({ key: spliced, format: 'der', type: 'pkcs8' })
    expect(createPublicKey(decoded).export({ type: 'spki', format: 'der' }).subarray(-65).equals(b.subarray(73))).toBe(true)
    const pem = decoded.export({ type: 'pkcs8', format: 'pem' }).toString()
    const sec1 = decoded.export({ type: 'sec1', format: 'der' })
    for (const input of [spliced, pem, sec1.toString('hex'), new Uint8Array(sec1)]) {
      expect(() => importPrivateKey(input)).toThrow(expect.objectContaining({ code: 'BAD_PRIVATE_KEY' }))
    }
    expect(importPrivateKey(a).id).toBe(importP256Pkcs8(a)?.id)
  })

  it('refuses a scalar of 0 or of at least n, and any other layout', () => {
    const der = pkcs8()
    for (const d of [Buffer.alloc(32), N, Buffer.alloc(32, 0xff)]) expect(importP256Pkcs8(Buffer.concat([der.subarray(0, 36), d, der.subarray(68)]))).toBeUndefined()
    const sec1 = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }).export({ type: 'sec1', format: 'der' })
    expect(importP256Pkcs8(sec1)).toBeUndefined()
    expect(importP256Pkcs8(der.subarray(0, 137))).toBeUndefined()
    const otherCurve = Buffer.from(der)
    otherCurve[35] = (otherCurve[35] ?? 0) ^ 1
    expect(importP256Pkcs8(otherCurve)).toBeUndefined()
  })
})

// OpenSSL decodes a scalar of 0 or ≥ n: with the point in the file it keeps that point, without
// one it fails only when the point is computed (point at infinity) or computes (d mod n)·G. Each
// such key is a coded BAD_PRIVATE_KEY, never an internal error (a RangeError from the d·G check).
describe('a scalar out of range in the general path', () => {
  const hex32 = (d: bigint): string => d.toString(16).padStart(64, '0')
  const n = BigInt('0x' + N.toString('hex'))
  it('is BAD_PRIVATE_KEY in every form: PKCS#8 with and without the point, SEC1, PEM, hex', () => {
    const der = pkcs8()
    for (const d of [0n, n, n + 1n, (1n << 256n) - 1n]) {
      const withPoint = Buffer.concat([der.subarray(0, 36), Buffer.from(hex32(d), 'hex'), der.subarray(68)])
      const pkcs8NoPoint = Buffer.from('3041020100301306072a8648ce3d020106082a8648ce3d030107042730250201010420' + hex32(d), 'hex')
      const sec1NoPoint = Buffer.from('30310201010420' + hex32(d) + 'a00a06082a8648ce3d030107', 'hex')
      const pem = `-----BEGIN PRIVATE KEY-----\n${withPoint.toString('base64')}\n-----END PRIVATE KEY-----\n`
      for (const input of [withPoint, pkcs8NoPoint, new Uint8Array(sec1NoPoint), sec1NoPoint.toString('hex'), pem]) {
        expect(() => importPrivateKey(input), `d=${d}`).toThrow(expect.objectContaining({ code: 'BAD_PRIVATE_KEY' }))
      }
    }
    // 1 and n - 1, the ends of the range, are keys.
    for (const d of [1n, n - 1n]) {
      const k = importPrivateKey(Buffer.from('30310201010420' + hex32(d) + 'a00a06082a8648ce3d030107', 'hex'))
      expect(verifyV2(k.publicKey, 'm', signV2(k, 'm'))).toBe(true)
      expect(importPrivateKey(privateKeyToPkcs8(k)).id).toBe(k.id)
    }
  })
})

describe('pointKeyObject', () => {
  it('gives the key the SPKI decoder gives for a canonical P-256 key', () => {
    for (let i = 0; i < 16; i++) {
      const k = generateSigningKey()
      const o = pointKeyObject(k.publicKey.spki)
      expect(o?.export({ type: 'spki', format: 'der' }).equals(Buffer.from(k.publicKey.spki))).toBe(true)
    }
  })

  it('leaves anything else to the decoder: another prefix, a compressed point, a point off the curve', () => {
    const spki = Buffer.from(generateSigningKey().publicKey.spki)
    const prefix = Buffer.from(spki)
    prefix[3] = (prefix[3] ?? 0) ^ 1
    expect(pointKeyObject(prefix)).toBeUndefined()
    const compressed = Buffer.from(spki)
    compressed[26] = 0x02
    expect(pointKeyObject(compressed)).toBeUndefined()
    const off = Buffer.from(spki)
    off[90] = (off[90] ?? 0) ^ 1
    expect(pointKeyObject(off)).toBeUndefined()
    expect(pointKeyObject(spki.subarray(0, 90))).toBeUndefined()
  })
})
