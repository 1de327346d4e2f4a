// A block's two signatures checked from their hex in one native call (verify2Text,
// src/crypto/native/verify-text.c; verifyV2PairHex in ecdsa.ts), as plain verify does per block:
// for every pair it takes, exactly verifyV2Pair's verdict on the decoded bytes; -1 (the
// JavaScript way) for every pair it does not take — hex that fromHex refuses or that only looks
// like hex as Latin-1, DER that isStrictLowS refuses, a message that may not fit its buffer — and
// a key's uses counted as verify2 counts them, none for a call it does not take.
import { afterEach, describe, expect, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import { derToP1363, encodeDerSignature, generateSigningKey, signV2, verifyV2Pair, verifyV2PairHex } from '../../../src/crypto/index.js'
import { loadNativeOpenssl, nativeOpenssl, resetNativeOpenssl, type NativeOpenssl } from '../../../src/crypto/openssl-native.js'
import { fromHex } from '../../../src/util/index.js'
import { signPrevious, signSeal, verifyPrevious, verifyPreviousAndSeal, verifySeal, type BlockHeader } from '../../../src/block/index.js'
import { nativeOpensslBuilt } from '../../helpers/native-build.js'
import { big, N } from '../../helpers/p256-math.js'

afterEach(() => { resetNativeOpenssl() })

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const der = (r: bigint, s: bigint): string => hex(encodeDerSignature({ r, s }))
const utf8 = (s: string): number => Buffer.byteLength(s, 'utf8')
/** hex with its first letter at an even (parity 0) or odd (1) position in upper case. */
function upperAt (h: string, parity: number): string {
  for (let i = parity; i < h.length; i += 2) if (h[i] !== undefined && /[a-f]/.test(h[i] as string)) return h.slice(0, i) + (h[i] as string).toUpperCase() + h.slice(i + 1)
  throw new Error('no letter')
}

describe.skipIf(!nativeOpensslBuilt())('verify2Text: two hex signatures and two messages in one native call', () => {
  const lib = loadNativeOpenssl().lib as NativeOpenssl

  it('gives verifyV2Pair\'s verdict for every pair it takes, and -1 for every other', () => {
    const key = generateSigningKey()
    const pub = key.publicKey
    const handle = (() => {
      const spki = pub.spki
      const k = lib.publicKey(spki.subarray(26))
      if (k === undefined) throw new Error('no key')
      return k
    })()
    const base = 'petal/v2/prev\n' + 'c'.repeat(64) + '\n7\n' + 'a'.repeat(64)
    // Messages: ASCII, not ASCII (2, 3, 4 bytes and a lone surrogate, replaced as Buffer.from does),
    // and about the 1,024-byte buffer's edge (taken up to 1,019 bytes of UTF-8).
    const messages = [base, `${base} é€😀`, `${base}\ud800x`, 'x'.repeat(1019), 'x'.repeat(1020), 'y'.repeat(5000), '€'.repeat(339), '€'.repeat(340), '']
    const sigs: string[] = []
    for (const m of messages.slice(0, 3)) sigs.push(hex(signV2(key, m)))
    const good = sigs[0] as string
    const raw = fromHex(good) as Uint8Array
    const p = derToP1363(raw) as Buffer
    const r = big(p.subarray(0, 32)), s = big(p.subarray(32))
    const HALF = N >> 1n
    sigs.push(
      der(r, N - s), // high S
      der(r, HALF), der(r, HALF + 1n), der(N - 1n, s), der(N, s), der(r, 1n), der(1n, 1n), // the bounds of r and s
      good.toUpperCase(), good.slice(0, -1), `${good}00`, `${good}0`, good.replace(/^30/, '31'), // case, length, trailing bytes, tag
      good.replace(/[0-9]/, 'g'), good.replace(/0/, '\u0130'), good.replace(/0/, '\u0230'), // not hex; İ and Ȱ end in the byte of '0'
      '', '3006020101020101', '30060201000201' + '01', // empty, minimal, r = 0
      '3026022100' + 'ff'.repeat(32) + '020101', // r of 33 bytes above 2^256 − 1
      '3045022100' + 'f'.repeat(64) + '0220' + '01'.repeat(32), // r ≥ n in 33 bytes
      '30070202007f020101', '300702020080020101', '3006020180020101', // not minimal, minimal with 0x00, negative
      der(r, 3n), 'ab'.repeat(72), 'ab'.repeat(73), // 144 and 146 hex digits
      // r and s, then a third element inside the sequence's length; one upper-case digit, high and low.
      `30${raw.length.toString(16)}${good.slice(4)}0500`, upperAt(good, 0), upperAt(good, 1),
      // One character put in, as the high and as the low digit of a byte: the hex digits' neighbours, upper case.
      ...['/', ':', '`', 'g', 'A', 'B', 'C', 'D', 'E', 'F', ' '].flatMap(c => [10, 11, 20, 21].map(i => good.slice(0, i) + c + good.slice(i + 1)))
    )
    let taken = 0
    for (const m1 of messages) {
      for (const m2 of [base, messages[1] as string, 'x'.repeat(1020)]) {
        for (const h1 of sigs) {
          for (const h2 of [good, sigs[1] as string, der(r, N - s), good.toUpperCase()]) {
            const d1 = /^(?:[0-9a-f]{2})*$/.test(h1) ? fromHex(h1) : undefined
            const d2 = /^(?:[0-9a-f]{2})*$/.test(h2) ? fromHex(h2) : undefined
            const takes = d1 !== undefined && d2 !== undefined && h1.length <= 144 && h2.length <= 144 &&
              derToP1363(d1) !== undefined && derToP1363(d2) !== undefined && utf8(m1) <= 1019 && utf8(m2) <= 1019
            const want = takes ? verifyV2Pair(pub, m1, d1, m2, d2) : -1
            expect({ m1: m1.slice(0, 40), m2: m2.slice(0, 40), h1, h2, v: lib.verify2Text?.(handle, m1, h1, m2, h2) }).toEqual({ m1: m1.slice(0, 40), m2: m2.slice(0, 40), h1, h2, v: want })
            if (takes) taken++
          }
        }
      }
    }
    // Valid pairs among those taken: both bits, one, none.
    expect(taken).toBeGreaterThan(200)
    expect(lib.verify2Text?.(handle, base, good, messages[1] as string, sigs[1] as string)).toBe(3)
    expect(lib.verify2Text?.(handle, base, sigs[1] as string, messages[1] as string, good)).toBe(0)
    expect(lib.verify2Text?.(handle, base, good, base, sigs[1] as string)).toBe(1)
  })

  it('counts two uses of the key a call taken, as verify2 does, and none for a call not taken', () => {
    const key = generateSigningKey()
    const k = lib.publicKey(key.publicKey.spki.subarray(26))
    if (k === undefined) throw new Error('no key')
    const m = 'petal/v2/seal\nmessage'
    const h = hex(signV2(key, m))
    const tables = lib.p256Tables?.(k)
    if (tables?.available !== true) return
    for (let i = 0; i < 100; i++) expect(lib.verify2Text?.(k, m, h.toUpperCase(), m, h)).toBe(-1)
    expect(lib.p256Tables?.(k).table).toBe(false)
    for (let i = 0; i < 31; i++) expect(lib.verify2Text?.(k, m, h, m, h)).toBe(3)
    expect(lib.p256Tables?.(k).table).toBe(false)
    expect(lib.verify2Text?.(k, m, h, m, h)).toBe(3)
    expect(lib.p256Tables?.(k).table).toBe(true)
    for (let i = 0; i < 10; i++) expect(lib.verify2Text?.(k, m, h, `${m}!`, h)).toBe(1)
  })

  it('refuses arguments of the wrong type', () => {
    const k = lib.publicKey(generateSigningKey().publicKey.spki.subarray(26))
    if (k === undefined) throw new Error('no key')
    const loose = lib.verify2Text as unknown as (...args: unknown[]) => number
    expect(() => loose(k, 'm', 'ab', 'm')).toThrow(TypeError)
    expect(() => loose(k, Buffer.from('m'), 'ab', 'm', 'ab')).toThrow(TypeError)
    expect(() => loose(k, 'm', 'ab', 'm', 7)).toThrow(TypeError)
    expect(() => loose({}, 'm', 'ab', 'm', 'ab')).toThrow(TypeError)
  })
})

describe('verifyPreviousAndSeal through verifyV2PairHex', () => {
  it('keeps verifyPrevious\'s and verifySeal\'s verdicts, with the addon and without it', () => {
    const key = generateSigningKey()
    const other = generateSigningKey()
    const chainId = 'c'.repeat(64)
    for (let i = 0; i < 80; i++) {
      const hash = hex(randomBytes(32))
      const header = { version: 2, chainId, height: i + 1, previousHash: 'a'.repeat(64), rowsRoot: 'b'.repeat(64) } as unknown as BlockHeader
      header.previousHashSignature = signPrevious(key, chainId, i + 1, header.previousHash)
      const seal = signSeal(key, header, hash)
      const p = derToP1363(fromHex(seal) as Uint8Array) as Buffer
      const high = der(big(p.subarray(0, 32)), N - big(p.subarray(32)))
      const variants: Array<[BlockHeader, string, string]> = [
        [header, hash, seal], [header, hash.replace(/^./, hash[0] === 'f' ? 'e' : 'f'), seal], [{ ...header, previousHash: 'c'.repeat(64) }, hash, seal],
        [header, hash, signSeal(other, header, hash)], [header, hash, seal.toUpperCase()], [header, hash, high], [header, hash, `${seal}00`],
        [{ ...header, previousHashSignature: header.previousHashSignature.toUpperCase() }, hash, seal], [{ ...header, chainId: 'é'.repeat(400) }, hash, seal]
      ]
      for (const [h, s, sealHex] of variants) {
        const want = { prev: verifyPrevious(key.publicKey, h), seal: verifySeal(key.publicKey, h, s, sealHex) }
        expect(verifyPreviousAndSeal(key.publicKey, h, s, sealHex)).toEqual(want)
      }
      expect(verifyPreviousAndSeal(key.publicKey, header, hash, seal)).toEqual({ prev: true, seal: true })
      expect(verifyPreviousAndSeal(other.publicKey, header, hash, seal)).toEqual({ prev: false, seal: false })
    }
    // Without the addon the hex way answers -1 and the JavaScript way decides.
    process.env.PETAL_NATIVE_SHA256 = '0'
    try {
      resetNativeOpenssl()
      expect(nativeOpenssl()).toBeUndefined()
      const h = 'petal'
      const sig = hex(signV2(key, h))
      expect(verifyV2PairHex(key.publicKey, h, sig, h, sig)).toBe(-1)
    } finally {
      delete process.env.PETAL_NATIVE_SHA256
      resetNativeOpenssl()
    }
  })
})
