import type { ICryptoInterface } from '@libp2p/noise'
import { defaultCrypto } from '@libp2p/noise/crypto'
import type { Uint8ArrayList } from 'uint8arraylist'
import { nativeOpenssl, type NativeOpenssl } from '../crypto/index.js'
import { NetworkError } from './errors.js'

const TAG_BYTES = 16

/**
 * The `dst` that asks `chaCha20Poly1305Decrypt` of `nativeNoiseCrypto` to write the plaintext over
 * the ciphertext's own bytes, wherever they are (also when a message spans two socket reads, where
 * @libp2p/noise's own `dst` is a copy). Only lean-noise.ts passes it, and only on connections whose
 * crypto is this one; the handshake never does (it hashes the ciphertext after decrypting it).
 */
export const IN_PLACE = new Uint8Array(0)

type Aead = Required<Pick<NativeOpenssl, 'aeadSeal' | 'aeadOpen'>>

let opened = 0
let sealed = 0
/** Where the next seal writes its ciphertext and tag (`sealInto`), instead of a new buffer. */
let sealTarget: Uint8Array | undefined

/**
 * Run `seal` (one noise message's encryption through a cipher state, which holds the nonce) with
 * `nativeNoiseCrypto`'s next ciphertext written into `dst` (exactly the plaintext's length + 16)
 * rather than into a buffer of its own: lean-encrypt.ts lays a send's messages out in one buffer.
 * Returns what `seal` returns, which is `dst` when the native cipher sealed into it; any other
 * crypto ignores `dst` and returns its own buffer, which the caller must then copy.
 */
export function sealInto<T> (dst: Uint8Array, seal: () => T): T {
  sealTarget = dst
  try {
    return seal()
  } finally {
    sealTarget = undefined
  }
}

/** Messages this process has decrypted and encrypted through the native cipher (tests). */
export function nativeNoiseMessages (): { opened: number, sealed: number } { return { opened, sealed } }

function parts (data: Uint8Array | Uint8ArrayList): Uint8Array | Uint8Array[] {
  return data instanceof Uint8Array ? data : [...data]
}

function notAuthentic (): NetworkError<'MALFORMED'> {
  return new NetworkError('MALFORMED', 'a noise message did not authenticate (ChaCha20-Poly1305 tag mismatch)', {
    hint: 'the connection is closed: its bytes were altered on the way, or the sender does not hold the session\'s keys; if this recurs with one peer, check the network path to it'
  })
}

/**
 * @libp2p/noise's crypto with ChaCha20-Poly1305 through OpenSSL's EVP_CIPHER_CTX
 * (native/openssl-aead.c): one context per thread re-keyed for each message, where node:crypto
 * makes a Cipheriv or Decipheriv object and a new output buffer for every message of more than
 * 1,200 bytes (docs/performance/pull.md, "Session 29: the 1 MB pull"). The same cipher (RFC 8439), so
 * the same bytes on the wire: a peer with noise's own crypto reads them. The key exchange and
 * hashes stay noise's defaults.
 */
export function nativeNoiseCrypto (lib: Aead): ICryptoInterface {
  return {
    ...defaultCrypto,
    chaCha20Poly1305Encrypt (plaintext, nonce, ad, k) {
      const size = plaintext.byteLength + TAG_BYTES
      const target = sealTarget
      sealTarget = undefined // one message per sealInto
      const out = target !== undefined && target.byteLength === size ? target : Buffer.allocUnsafe(size)
      lib.aeadSeal(k, nonce, ad, parts(plaintext), out)
      sealed++
      return out
    },
    chaCha20Poly1305Decrypt (ciphertext, nonce, ad, k, dst) {
      const length = ciphertext.byteLength - TAG_BYTES
      if (length < 0) throw notAuthentic()
      opened++
      if (dst === IN_PLACE) {
        if (!lib.aeadOpen(k, nonce, ad, parts(ciphertext), null)) throw notAuthentic()
        return ciphertext instanceof Uint8Array ? ciphertext.subarray(0, length) : ciphertext.sublist(0, length)
      }
      const out = dst ?? Buffer.allocUnsafe(length)
      if (!lib.aeadOpen(k, nonce, ad, parts(ciphertext), out)) throw notAuthentic()
      return out.subarray(0, length)
    }
  }
}

// RFC 8439 §2.8.2's example: the addon is used only if it seals it to this tag and opens it again.
const RFC_KEY = '808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f'
const RFC_NONCE = '070000004041424344454647'
const RFC_AD = '50515253c0c1c2c3c4c5c6c7'
const RFC_TAG = '1ae10b594f09e26a7e902ecbd0600691'
export const RFC8439_PLAINTEXT = 'Ladies and Gentlemen of the class of \'99: If I could offer you only one tip for the future, sunscreen would be it.'

/** Whether `lib` seals and opens RFC 8439's example as the RFC says (exported for tests). */
export function aeadKnownAnswer (lib: Aead): boolean {
  const [key, nonce, ad] = [RFC_KEY, RFC_NONCE, RFC_AD].map(h => Buffer.from(h, 'hex')) as [Buffer, Buffer, Buffer]
  const plain = Buffer.from(RFC8439_PLAINTEXT)
  const out = Buffer.alloc(plain.byteLength + TAG_BYTES)
  lib.aeadSeal(key, nonce, ad, plain, out)
  const back = Buffer.alloc(plain.byteLength)
  return out.subarray(plain.byteLength).toString('hex') === RFC_TAG && lib.aeadOpen(key, nonce, ad, out, back) && back.equals(plain)
}

/**
 * The crypto for this process's noise connections: the native cipher when the OpenSSL addon is
 * loaded (not with PETAL_NATIVE_SHA256=0) and gives RFC 8439's answer, else noise's default crypto
 * (node:crypto and WebAssembly), with the same bytes on the wire either way. `native` says which.
 */
export function noiseCrypto (): { crypto: ICryptoInterface, native: boolean } {
  const lib = nativeOpenssl()
  if (lib?.aeadSeal === undefined || lib.aeadOpen === undefined) return { crypto: defaultCrypto, native: false }
  const aead = { aeadSeal: lib.aeadSeal, aeadOpen: lib.aeadOpen }
  try {
    if (!aeadKnownAnswer(aead)) return { crypto: defaultCrypto, native: false }
  } catch {
    return { crypto: defaultCrypto, native: false }
  }
  return { crypto: nativeNoiseCrypto(aead), native: true }
}
