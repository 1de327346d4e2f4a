// Two signatures under one key verified in one native call (verify2, src/crypto/native/p256-table.c
// table_verify2: one inversion for both s values, Montgomery's trick), as plain verify checks a
// block's previous-hash signature and seal: each verdict must be exactly the one verify gives that
// signature alone, through the table (mode 3) and through OpenSSL (mode 2), whatever the other
// signature is (valid, tampered, out of range, the same s, s2 = s1⁻¹, s2 = n − s1, an addition
// at infinity); and verifyV2Pair / verifyPreviousAndSeal keep verifyV2's verdicts one by one.
import { afterEach, describe, expect, it } from 'vitest'
import { createHash, randomBytes } from 'node:crypto'
import { p256 } from '@noble/curves/nist.js'
import { generateSigningKey, signV2, verifyV2, verifyV2Pair } from '../../../src/crypto/index.js'
import { loadNativeOpenssl, resetNativeOpenssl, type NativeOpenssl } from '../../../src/crypto/openssl-native.js'
import { prevMessage, sealMessage, signPrevious, signSeal, verifyPrevious, verifyPreviousAndSeal, verifySeal } from '../../../src/block/index.js'
import type { BlockHeader } from '../../../src/block/index.js'
import { nativeOpensslBuilt } from '../../helpers/native-build.js'
import { big, be, G, inv, mod, N, rs } from '../../helpers/p256-math.js'

afterEach(() => { resetNativeOpenssl() })

describe.skipIf(!nativeOpensslBuilt())('two signatures under one key in one call (verify2)', () => {
  const lib = loadNativeOpenssl().lib as NativeOpenssl

  /** A valid signature under d with s chosen: (digest, r ‖ s). */
  function withS (d: bigint, s: bigint): [Buffer, Buffer] {
    const nonce = mod(big(randomBytes(32))) || 1n
    const r = mod(G.multiply(nonce).x)
    return [be(mod(s * nonce - r * d)), rs(r, s)]
  }

  it('gives each signature of a pair the verdict it gets alone, through the table and through OpenSSL', () => {
    for (let round = 0; round < 3; round++) {
      const d = mod(big(randomBytes(32))) || 1n
      const k = lib.keyFromScalar(be(d))
      if (k === undefined) throw new Error('no key')
      const key = lib.publicKey(k.point)
      if (key === undefined) throw new Error('no public key')
      const digest = createHash('sha256').update(randomBytes(8)).digest()
      const sig = lib.sign(k.handle, digest)
      const r = big(sig.subarray(0, 32)), s = big(sig.subarray(32))
      const tampered = Buffer.from(sig)
      tampered[5] = (tampered[5] as number) ^ 0x10
      const other = Buffer.from(digest)
      other[0] = (other[0] as number) ^ 1
      const s1 = mod(big(randomBytes(32))) || 3n
      const cases: Array<[Buffer, Buffer]> = [
        [digest, sig], [other, sig], [digest, tampered], [digest, randomBytes(64)],
        [digest, rs(r, N - s)], // high S: valid ECDSA (the low-S rule is ecdsa.ts's)
        [digest, rs(0n, s)], [digest, rs(r, 0n)], [digest, rs(N, s)], [digest, rs(r, N)], [digest, rs(2n ** 256n - 1n, s)],
        withS(d, 1n), withS(d, N - 1n), withS(d, 2n), withS(d, 2n ** 255n + 1n), withS(d, (N + 1n) / 2n),
        withS(d, s1), withS(d, s1), withS(d, inv(s1)), withS(d, N - s1), // the same s twice, s1·s2 = 1, s1·s2 = −s1²
        [be(mod(-r * d)), rs(r, 7n)], // u1·G = −u2·Q: the sum at infinity, never valid
        [be(0n), withS(d, 5n)[1]]
      ]
      const alone = cases.map(([dg, sg]) => {
        const t = lib.verify(key, dg, sg, 3)
        expect(lib.verify(key, dg, sg, 2)).toBe(t)
        return t
      })
      expect(alone.filter(v => v).length).toBeGreaterThanOrEqual(11)
      for (let i = 0; i < cases.length; i++) {
        for (let j = 0; j < cases.length; j++) {
          const [d1, g1] = cases[i] as [Buffer, Buffer]
          const [d2, g2] = cases[j] as [Buffer, Buffer]
          const want = (alone[i] === true ? 1 : 0) | (alone[j] === true ? 2 : 0)
          for (const mode of [3, 2] as const) expect({ i, j, mode, v: lib.verify2(key, d1, g1, d2, g2, mode) }).toEqual({ i, j, mode, v: want })
        }
      }
    }
  })

  // The default mode (0): a key verified only through verify2 counts two uses a call and earns its
  // table at the second lookup of its 32nd call (the first signature through OpenSSL, the second
  // through the new table), then both through the table: every verdict OpenSSL's (mode 2), for
  // random pairs of valid, flipped-bit, high-S, wrong-digest and out-of-range signatures.
  it('in the default mode, before, while and after the key earns its table, gives OpenSSL\'s verdicts', () => {
    for (let round = 0; round < 4; round++) {
      const d = mod(big(randomBytes(32))) || 1n
      const k = lib.keyFromScalar(be(d))
      const key = k === undefined ? undefined : lib.publicKey(k.point)
      if (k === undefined || key === undefined) throw new Error('no key')
      const one = (i: number): [Buffer, Buffer] => {
        const digest = createHash('sha256').update(randomBytes(8)).digest()
        const sig = lib.sign(k.handle, digest)
        const r = big(sig.subarray(0, 32)), s = big(sig.subarray(32))
        switch (i % 6) {
          case 1: { const t = Buffer.from(sig); t[i % 64] = (t[i % 64] as number) ^ (1 << (i % 8)); return [digest, t] }
          case 2: return [digest, rs(r, N - s)]
          case 3: return [createHash('sha256').update(digest).digest(), sig]
          case 4: return [digest, rs(r + N < 2n ** 256n ? r + N : N, s)]
          default: return [digest, sig]
        }
      }
      const tables = lib.p256Tables?.(key)
      if (tables !== undefined) expect(tables.table).toBe(false)
      for (let i = 0; i < 40; i++) {
        const [d1, g1] = one(i + round)
        const [d2, g2] = one(i * 5 + round + 1)
        const want = (lib.verify(key, d1, g1, 2) ? 1 : 0) | (lib.verify(key, d2, g2, 2) ? 2 : 0)
        expect({ i, v: lib.verify2(key, d1, g1, d2, g2) }).toEqual({ i, v: want })
      }
      if (tables?.available === true) expect(lib.p256Tables?.(key).table).toBe(true)
    }
  })

  it('refuses arguments of the wrong shape as verify does', () => {
    const k = lib.keyFromScalar(be(7n))
    const key = k === undefined ? undefined : lib.publicKey(k.point)
    if (key === undefined) throw new Error('no key')
    const dg = Buffer.alloc(32, 1), sg = Buffer.alloc(64, 2)
    const loose = lib.verify2 as (...args: unknown[]) => number
    expect(() => loose(key, dg, sg, dg)).toThrow(TypeError)
    expect(() => lib.verify2(key, dg, sg, dg, Buffer.alloc(63))).toThrow(RangeError)
    expect(() => lib.verify2(key, Buffer.alloc(31), sg, dg, sg)).toThrow(RangeError)
  })
})

describe('verifyV2Pair and verifyPreviousAndSeal', () => {
  it('keep verifyV2\'s verdicts one by one, before and after the key\'s table (64 uses)', () => {
    const key = generateSigningKey()
    const other = generateSigningKey()
    const chainId = 'c'.repeat(64)
    for (let i = 0; i < 60; i++) {
      const m1 = `prev ${i}`, m2 = `seal ${i}`
      const d1 = signV2(key, m1), d2 = signV2(key, m2)
      // High S (n − s): refused by the low-S rule, whatever the other signature is.
      const raw = p256.Signature.fromBytes(d2, 'der')
      const high = new p256.Signature(raw.r, N - raw.s).toBytes('der')
      // Messages of every size about verifyV2Pair's 1,024-byte scratch (a string of up to 341 UTF-16
      // units is written there), and not ASCII (2, 3 and 4 bytes a character, a lone surrogate).
      const long = [`${m1}${'x'.repeat(341 - m1.length)}`, `${m1}${'x'.repeat(342 - m1.length)}`, `${m1}${'y'.repeat(2000)}`, `${m1} é€😀\ud800`, `${m1}${'€'.repeat(400)}`]
      const signed = long.map(m => [m, signV2(key, m)] as [string, Uint8Array])
      const cases: Array<[string, Uint8Array]> = [[m1, d1], [m2, d2], [`${m1}!`, d1], [m1, d2], [m2, high], [m1, Uint8Array.of(0x30, 0)], ...(i % 10 === 0 ? signed : [])]
      for (const [a, da] of cases) {
        for (const [b, db] of cases) {
          const want = (verifyV2(key.publicKey, a, da) ? 1 : 0) | (verifyV2(key.publicKey, b, db) ? 2 : 0)
          expect(verifyV2Pair(key.publicKey, a, da, b, db)).toBe(want)
        }
      }
      expect(verifyV2Pair(other.publicKey, m1, d1, m2, d2)).toBe(0)
      // A block's two signatures, as preverify checks them.
      const hash = createHash('sha256').update(`block ${i}`).digest('hex')
      const header = { version: 2, chainId, height: i + 1, previousHash: 'a'.repeat(64), rowsRoot: 'b'.repeat(64) } as unknown as BlockHeader
      header.previousHashSignature = signPrevious(key, chainId, i + 1, header.previousHash)
      const seal = signSeal(key, header, hash)
      expect(prevMessage(chainId, i + 1, header.previousHash)).toContain('petal/v2/prev')
      expect(sealMessage(chainId, i + 1, hash, header.rowsRoot)).toContain('petal/v2/seal')
      const variants: Array<[BlockHeader, string, string]> = [[header, hash, seal], [header, hash.replace(/^./, 'f'), seal], [{ ...header, previousHash: 'c'.repeat(64) }, hash, seal], [header, hash, signSeal(other, header, hash)]]
      for (const [h, s, sealHex] of variants) {
        const both = verifyPreviousAndSeal(key.publicKey, h, s, sealHex)
        expect(both).toEqual({ prev: verifyPrevious(key.publicKey, h), seal: verifySeal(key.publicKey, h, s, sealHex) })
      }
      expect(verifyPreviousAndSeal(key.publicKey, header, hash, seal)).toEqual({ prev: true, seal: true })
    }
  })
})
