import { createPublicKey, verify as nodeVerify } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { decodeDerSignature, derToP1363, encodeDerSignature, isStrictLowS, generateSigningKey, importPrivateKey, parsePublicKey, privateKeyToPem, signV1, signV2, verifyV1, verifyV2, sha256 } from '../../../src/crypto/index.js'
import { CryptoError } from '../../../src/crypto/index.js'

const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n

describe('v2 signatures', () => {
  const key = generateSigningKey()

  it('always produce low-S DER that verifies, 300 times', () => {
    for (let i = 0; i < 300; i++) {
      const sig = signV2(key, `message ${i}`)
      const rs = decodeDerSignature(sig)
      expect(rs).toBeDefined()
      expect((rs as { s: bigint }).s <= N >> 1n).toBe(true)
      expect(verifyV2(key.publicKey, `message ${i}`, sig)).toBe(true)
    }
  })

  it('reject the high-S twin of a valid signature (no malleability)', () => {
    const sig = signV2(key, 'm')
    const { r, s } = decodeDerSignature(sig) as { r: bigint, s: bigint }
    expect(verifyV2(key.publicKey, 'm', encodeDerSignature({ r, s: N - s }))).toBe(false)
  })

  it('reject non-canonical DER: trailing bytes, padded integers', () => {
    const sig = signV2(key, 'm')
    expect(verifyV2(key.publicKey, 'm', Uint8Array.of(...sig, 0))).toBe(false)
    // r with a superfluous leading zero byte: same integer, non-minimal encoding.
    const der = Buffer.from(sig)
    const rLen = der[3] as number
    const r = der.subarray(4, 4 + rLen)
    const rest = der.subarray(4 + rLen)
    const body = Buffer.concat([Buffer.from([0x02, rLen + 1, 0x00]), r, rest])
    const padded = Uint8Array.of(0x30, body.length, ...body)
    expect(decodeDerSignature(padded)).toBeUndefined()
    expect(verifyV2(key.publicKey, 'm', padded)).toBe(false)
  })

  it('fail for another message or another key', () => {
    const sig = signV2(key, 'm')
    expect(verifyV2(key.publicKey, 'n', sig)).toBe(false)
    expect(verifyV2(generateSigningKey().publicKey, 'm', sig)).toBe(false)
  })
})

describe('derToP1363 (the BigInt-free reading verifyV2 uses)', () => {
  // The reading it replaced: strict DER, 1 ≤ r < n, 1 ≤ s ≤ n/2, both as 32-byte big-endian.
  const reference = (der: Uint8Array): string | undefined => {
    const rs = decodeDerSignature(der)
    if (rs === undefined || rs.r < 1n || rs.r >= N || rs.s < 1n || rs.s > N >> 1n) return undefined
    return rs.r.toString(16).padStart(64, '0') + rs.s.toString(16).padStart(64, '0')
  }
  // isStrictLowS (verifyV2's check, read in place) gives derToP1363's verdict.
  const same = (der: Uint8Array): void => {
    expect(derToP1363(der)?.toString('hex')).toBe(reference(der))
    expect(isStrictLowS(der)).toBe(reference(der) !== undefined)
  }

  it('agrees on edge values of r and s (0, 1, n/2, n/2 + 1, n − 1, n, 2^256 − 1, short, 33-byte)', () => {
    const values = [0n, 1n, 0x7fn, 0x80n, 0xffn, (1n << 248n) - 1n, 1n << 248n, N >> 1n, (N >> 1n) - 1n, (N >> 1n) + 1n, N - 1n, N, N + 1n, (1n << 256n) - 1n, 1n << 255n, (1n << 255n) - 1n]
    for (const r of values) for (const s of values) same(encodeDerSignature({ r, s }))
  })

  it('agrees on real signatures and on every one-byte change and truncation of them', () => {
    const key = generateSigningKey()
    for (let i = 0; i < 20; i++) {
      const sig = signV2(key, `m${i}`)
      same(sig)
      for (let at = 0; at < sig.length; at++) {
        for (const v of [0x00, 0x01, 0x02, 0x20, 0x21, 0x30, 0x7f, 0x80, 0xff, (sig[at] ?? 0) ^ 1]) {
          const m = Uint8Array.from(sig)
          m[at] = v
          same(m)
        }
        same(sig.subarray(0, at))
      }
      same(Uint8Array.of(...sig, 0))
    }
  })
})

describe('verifyV2 hands node:crypto the DER itself', () => {
  // The verdict it replaced: the signature as IEEE P1363 (r ‖ s) through node:crypto.
  const viaP1363 = (pub: ReturnType<typeof generateSigningKey>['publicKey'], message: string, der: Uint8Array): boolean => {
    const p1363 = derToP1363(der)
    return p1363 !== undefined && nodeVerify('sha256', Buffer.from(message), { key: createPublicKey({ key: Buffer.from(pub.spki), format: 'der', type: 'spki' }), dsaEncoding: 'ieee-p1363' }, p1363)
  }

  it('gives the same verdict on real signatures, their high-S twins, every one-byte change and truncation, and edge values', () => {
    const key = generateSigningKey()
    const other = generateSigningKey()
    let accepted = 0
    let checked = 0
    const same = (message: string, der: Uint8Array): void => {
      for (const pub of [key.publicKey, other.publicKey]) {
        const want = viaP1363(pub, message, der)
        expect(verifyV2(pub, message, der)).toBe(want)
        if (want) accepted++
        if (derToP1363(der) !== undefined) checked++
      }
    }
    for (let i = 0; i < 12; i++) {
      const sig = signV2(key, `m${i}`)
      same(`m${i}`, sig)
      same(`m${i + 1}`, sig)
      const { r, s } = decodeDerSignature(sig) as { r: bigint, s: bigint }
      same(`m${i}`, encodeDerSignature({ r, s: N - s }))
      for (let at = 0; at < sig.length; at++) {
        for (const v of [0x00, 0x01, 0x7f, 0x80, 0xff, (sig[at] ?? 0) ^ 1]) {
          const m = Uint8Array.from(sig)
          m[at] = v
          same(`m${i}`, m)
        }
        same(`m${i}`, sig.subarray(0, at))
      }
    }
    const values = [0n, 1n, 0x80n, N >> 1n, (N >> 1n) + 1n, N - 1n, N, (1n << 256n) - 1n]
    for (const r of values) for (const s of values) same('m', encodeDerSignature({ r, s }))
    // Both verdicts were compared, many of them on signatures only node:crypto could refuse (a
    // change of value that left the DER strict); a change to the same byte value still verifies.
    expect(accepted).toBeGreaterThanOrEqual(12)
    expect(checked - accepted).toBeGreaterThan(500)
  })
})

describe('v1 (Daisy) signatures', () => {
  it('sign the raw digest and verify with high S accepted', () => {
    const key = generateSigningKey()
    const digest = sha256('block')
    expect(verifyV1(key.publicKey, digest, signV1(key, digest))).toBe(true)
    const { r, s } = decodeDerSignature(signV1(key, digest)) as { r: bigint, s: bigint }
    expect(verifyV1(key.publicKey, digest, encodeDerSignature({ r, s: N - s }))).toBe(true)
  })
})

describe('keys', () => {
  it('round-trip through PEM, SEC1 and hex', () => {
    const key = generateSigningKey()
    expect(importPrivateKey(privateKeyToPem(key)).id).toBe(key.id)
    expect(importPrivateKey(privateKeyToPem(key, 'sec1')).id).toBe(key.id)
    const sec1Der = key.keyObject.export({ type: 'sec1', format: 'der' })
    expect(importPrivateKey(sec1Der.toString('hex')).id).toBe(key.id)
  })

  it('refuse non-P-256 and non-canonical public keys with BAD_PUBLIC_KEY', () => {
    expect(() => parsePublicKey('00')).toThrow(CryptoError)
    try {
      parsePublicKey('3059301306072a8648ce3d020106082a8648ce3d030107034200' + '04' + '00'.repeat(64))
    } catch (err) {
      expect((err as CryptoError).code).toBe('BAD_PUBLIC_KEY')
    }
    const key = generateSigningKey()
    expect(parsePublicKey(key.publicKey.hex).id).toBe(key.id)
    expect(() => parsePublicKey(key.publicKey.hex.toUpperCase())).toThrow(CryptoError)
  })

  it('decide canonical points without OpenSSL exactly as OpenSSL does', () => {
    const prefix = '3059301306072a8648ce3d020106082a8648ce3d030107034200'
    const p = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn
    const hex32 = (v: bigint): string => v.toString(16).padStart(64, '0')
    /** The verdict of node:crypto (OpenSSL) on a canonical-looking SPKI: its re-encoding, or undefined. */
    const openssl = (spki: string): string | undefined => {
      try {
        return createPublicKey({ key: Buffer.from(spki, 'hex'), format: 'der', type: 'spki' }).export({ format: 'der', type: 'spki' }).toString('hex')
      } catch {
        return undefined
      }
    }
    const verdict = (spki: string): string | undefined => {
      try { return parsePublicKey(spki).hex } catch (err) { expect((err as CryptoError).code).toBe('BAD_PUBLIC_KEY'); return undefined }
    }
    const cases: string[] = []
    for (let i = 0; i < 20; i++) {
      const hex = generateSigningKey().publicKey.hex
      const x = BigInt('0x' + hex.slice(54, 118))
      const y = BigInt('0x' + hex.slice(118))
      cases.push(hex, prefix + '04' + hex32(x) + hex32((y + 1n) % p), prefix + '04' + hex32(x) + hex32(p - y), prefix + '04' + hex32(x) + hex32(y + p < 2n ** 256n ? y + p : y))
    }
    cases.push(prefix + '04' + hex32(p) + hex32(0n), prefix + '04' + 'ff'.repeat(64), prefix + '04' + '00'.repeat(64))
    for (const c of cases) expect(verdict(c), c).toBe(openssl(c))
  })
})
