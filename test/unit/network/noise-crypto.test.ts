// noise-crypto.ts and native/openssl-aead.c: noise's ChaCha20-Poly1305 through OpenSSL's
// EVP_CIPHER_CTX. RFC 8439's test vectors (§2.8.2 sealed, Appendix A.5 opened), whole and cut
// into parts as socket reads cut a message; in place and into a separate output; a wrong tag, a
// wrong nonce, wrong associated data or a flipped ciphertext byte fail with MALFORMED and leave
// no plaintext behind; the same bytes as noise's own crypto both ways; the fallback to noise's
// crypto with PETAL_NATIVE_SHA256=0.
import { afterEach, describe, expect, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import { defaultCrypto } from '@libp2p/noise/crypto'
import { Uint8ArrayList } from 'uint8arraylist'
import { resetNativeOpenssl } from '../../../src/crypto/openssl-native.js'
import { IN_PLACE, noiseCrypto, RFC8439_PLAINTEXT } from '../../../src/network/noise-crypto.js'
import { nativeOpensslBuilt } from '../../helpers/native-build.js'

const hex = (h: string): Buffer => Buffer.from(h, 'hex')

// RFC 8439 §2.8.2 (seal) and Appendix A.5 (open).
const SEALED = {
  key: hex('808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f'),
  nonce: hex('070000004041424344454647'),
  ad: hex('50515253c0c1c2c3c4c5c6c7'),
  plain: Buffer.from(RFC8439_PLAINTEXT),
  cipher: hex('d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116' +
    '1ae10b594f09e26a7e902ecbd0600691')
}
const OPENED = {
  key: hex('1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0'),
  nonce: hex('000000000102030405060708'),
  ad: hex('f33388860000000000004e91'),
  cipher: hex('64a0861575861af460f062c79be643bd5e805cfd345cf389f108670ac76c8cb24c6cfc18755d43eea09ee94e382d26b0bdb7b73c321b0100d4f03b7f355894cf332f830e710b97ce98c8a84abd0b948114ad176e008d33bd60f982b1ff37c8559797a06ef4f0ef61c186324e2b3506383606907b6a7c02b0f9f6157b53c867e4b9166c767b804d46a59b5216cde7a4e99040c5a40433225ee282a1b0a06c523eaf4534d7f83fa1155b0047718cbc546a0d072b04b3564eea1b422273f548271a0bb2316053fa76991955ebd63159434ecebb4e466dae5a1073a6727627097a1049e617d91d361094fa68f0ff77987130305beaba2eda04df997b714d6c6f2c29a6ad5cb4022b02709b' +
    'eead9d67890cbb22392336fea1851f38'),
  plain: hex('496e7465726e65742d4472616674732061726520647261667420646f63756d656e74732076616c696420666f722061206d6178696d756d206f6620736978206d6f6e74687320616e64206d617920626520757064617465642c207265706c616365642c206f72206f62736f6c65746564206279206f7468657220646f63756d656e747320617420616e792074696d652e20497420697320696e617070726f70726961746520746f2075736520496e7465726e65742d447261667473206173207265666572656e6365206d6174657269616c206f7220746f2063697465207468656d206f74686572207468616e206173202fe2809c776f726b20696e2070726f67726573732e2fe2809d')
}

const cipher = noiseCrypto()
const { chaCha20Poly1305Encrypt: seal, chaCha20Poly1305Decrypt: open } = cipher.crypto

/** A message cut into reads at the given offsets (fresh copies: decryption in place writes into them). */
function cut (m: Uint8Array, ...at: number[]): Uint8ArrayList {
  const ends = [0, ...at, m.byteLength]
  return new Uint8ArrayList(...ends.slice(1).map((e, i) => Uint8Array.from(m.subarray(ends[i], e))))
}

const bytes = (d: Uint8Array | Uint8ArrayList): Buffer => Buffer.from(d.subarray())

const switchBefore = process.env.PETAL_NATIVE_SHA256
afterEach(() => {
  if (switchBefore === undefined) delete process.env.PETAL_NATIVE_SHA256
  else process.env.PETAL_NATIVE_SHA256 = switchBefore
  resetNativeOpenssl()
})

describe('noise\'s ChaCha20-Poly1305 through OpenSSL', () => {
  it('is the crypto of this process\'s noise connections whenever the addon is built', () => {
    expect(cipher.native).toBe(nativeOpensslBuilt() && process.env.PETAL_NATIVE_SHA256 !== '0')
    if (!cipher.native) expect(cipher.crypto).toBe(defaultCrypto)
  })

  it('seals RFC 8439 §2.8.2 and opens Appendix A.5, whole, cut into parts, in place and into an output', () => {
    expect(bytes(seal(SEALED.plain, SEALED.nonce, SEALED.ad, SEALED.key)).equals(SEALED.cipher)).toBe(true)
    expect(bytes(seal(cut(SEALED.plain, 1, 50, 51), SEALED.nonce, SEALED.ad, SEALED.key)).equals(SEALED.cipher)).toBe(true)
    const n = OPENED.cipher.byteLength
    // Whole; cut in the ciphertext; cut inside the tag; a byte at a time at the end.
    for (const at of [[], [100], [n - 8], [n - 17, n - 16, n - 15, n - 1]]) {
      expect(bytes(open(cut(OPENED.cipher, ...at), OPENED.nonce, OPENED.ad, OPENED.key)).equals(OPENED.plain)).toBe(true)
      expect(bytes(open(cut(OPENED.cipher, ...at), OPENED.nonce, OPENED.ad, OPENED.key, IN_PLACE)).equals(OPENED.plain)).toBe(true)
      const dst = Buffer.alloc(n - 16)
      expect(bytes(open(cut(OPENED.cipher, ...at), OPENED.nonce, OPENED.ad, OPENED.key, dst)).equals(OPENED.plain)).toBe(true)
      expect(dst.equals(OPENED.plain)).toBe(true)
    }
    // In place: the plaintext is in the received bytes themselves, which the handshake's call (no dst) leaves alone.
    const received = Uint8Array.from(OPENED.cipher)
    open(received, OPENED.nonce, OPENED.ad, OPENED.key)
    expect(Buffer.from(received).equals(OPENED.cipher)).toBe(true)
    const got = open(received, OPENED.nonce, OPENED.ad, OPENED.key, IN_PLACE)
    expect(Buffer.from(received.subarray(0, n - 16)).equals(OPENED.plain)).toBe(true)
    expect(got.subarray().buffer).toBe(received.buffer)
  })

  it('the same bytes as noise\'s own crypto, both ways, for transport-sized messages and empty ones', () => {
    for (const size of [0, 1, 1199, 1200, 20_000, 65_519]) {
      const key = randomBytes(32)
      const nonce = randomBytes(12)
      const ad = randomBytes(size % 2 === 0 ? 0 : 32)
      const plain = randomBytes(size)
      const mine = bytes(seal(plain, nonce, ad, key))
      expect(mine.equals(bytes(defaultCrypto.chaCha20Poly1305Encrypt(plain, nonce, ad, key)))).toBe(true)
      expect(bytes(defaultCrypto.chaCha20Poly1305Decrypt(mine, nonce, ad, key)).equals(plain)).toBe(true)
      expect(bytes(open(cut(mine, size >> 1), nonce, ad, key, IN_PLACE)).equals(plain)).toBe(true)
    }
  })

  it('a wrong tag, nonce or associated data, a flipped byte or a message shorter than its tag: MALFORMED, no plaintext left behind', () => {
    if (!cipher.native) return
    const m = OPENED.cipher
    const flip = (i: number): Buffer => { const b = Buffer.from(m); b[i] = (b[i] as number) ^ 1; return b }
    const wrongNonce = Buffer.from(OPENED.nonce)
    wrongNonce[4] = (wrongNonce[4] as number) + 1
    const cases: Array<[string, Uint8Array, Uint8Array, Uint8Array]> = [
      ['tag', flip(m.byteLength - 1), OPENED.nonce, OPENED.ad],
      ['ciphertext', flip(7), OPENED.nonce, OPENED.ad],
      ['nonce', Buffer.from(m), wrongNonce, OPENED.ad],
      ['associated data', Buffer.from(m), OPENED.nonce, OPENED.ad.subarray(1)]
    ]
    for (const [what, c, nonce, ad] of cases) {
      const list = cut(c, 100, c.byteLength - 8)
      expect(() => open(list, nonce, ad, OPENED.key, IN_PLACE), what).toThrow(expect.objectContaining({ code: 'MALFORMED' }))
      // The bytes decrypted before the tag was found wrong are zeroed, not left as unauthenticated plaintext.
      expect(bytes(list).subarray(0, c.byteLength - 16).every(b => b === 0), what).toBe(true)
      const dst = Buffer.alloc(c.byteLength - 16, 0xaa)
      expect(() => open(c, nonce, ad, OPENED.key, dst), what).toThrow(expect.objectContaining({ code: 'MALFORMED' }))
      expect(dst.every(b => b === 0), what).toBe(true)
    }
    expect(() => open(new Uint8Array(15), OPENED.nonce, OPENED.ad, OPENED.key, IN_PLACE)).toThrow(expect.objectContaining({ code: 'MALFORMED' }))
    // The context is re-keyed per message: a good message opens right after the failures.
    expect(bytes(open(cut(m, 3), OPENED.nonce, OPENED.ad, OPENED.key, IN_PLACE)).equals(OPENED.plain)).toBe(true)
  })

  it('falls back to noise\'s own crypto with PETAL_NATIVE_SHA256=0', () => {
    process.env.PETAL_NATIVE_SHA256 = '0'
    resetNativeOpenssl()
    const off = noiseCrypto()
    expect(off.native).toBe(false)
    expect(off.crypto).toBe(defaultCrypto)
  })
})
