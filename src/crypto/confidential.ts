import { createCipheriv, createDecipheriv, createECDH, createPublicKey, hkdfSync, randomBytes, type KeyObject } from 'node:crypto'
import { CryptoError } from './errors.js'
import type { PublicKey } from './keys.js'

/**
 * Confidential columns (docs/confidential.md): AES-256-GCM for values, ECIES on P-256 to wrap a
 * block's data key for each recipient. node:crypto does the work (OpenSSL's AES-GCM and ECDH are
 * several times faster than JavaScript). Randomness can be injected so that the documented test
 * vectors are reproducible; production callers never pass it.
 */

/** Version byte that opens every sealed value and every wrapped key. */
export const CONFIDENTIAL_VERSION = 1
export const DATA_KEY_BYTES = 32
export const NONCE_BYTES = 12
export const TAG_BYTES = 16
/** version ‖ nonce ‖ ciphertext ‖ tag: the smallest sealed value has a one-byte plaintext. */
export const MIN_SEALED_BYTES = 1 + NONCE_BYTES + 1 + TAG_BYTES
const POINT_BYTES = 65
/** version ‖ ephemeral point (uncompressed) ‖ encrypted data key ‖ tag */
export const WRAPPED_KEY_BYTES = 1 + POINT_BYTES + DATA_KEY_BYTES + TAG_BYTES

const WRAP_LABEL = Buffer.from('petal/v2/wrap\u0000', 'utf8')

export function newDataKey (): Uint8Array {
  return new Uint8Array(randomBytes(DATA_KEY_BYTES))
}

// Nonces are taken from a pool filled by the CSPRNG a few hundred at a time: one RAND_bytes call
// per value costs as much as the encryption of a short value.
const POOL = 12 * 512
let pool = Buffer.alloc(0)
let poolAt = POOL

function freshNonce (): Buffer {
  if (poolAt + NONCE_BYTES > pool.length) { pool = randomBytes(POOL); poolAt = 0 }
  const n = pool.subarray(poolAt, poolAt + NONCE_BYTES)
  poolAt += NONCE_BYTES
  return n
}

/** AES-256-GCM: version ‖ nonce ‖ ciphertext ‖ tag. `nonce` only for test vectors. */
export function sealValue (key: Uint8Array, aad: Uint8Array, plaintext: Uint8Array, nonce: Uint8Array = freshNonce()): Uint8Array {
  const c = createCipheriv('aes-256-gcm', key, nonce)
  c.setAAD(aad)
  const out = Buffer.allocUnsafe(1 + NONCE_BYTES + plaintext.length + TAG_BYTES)
  out[0] = CONFIDENTIAL_VERSION
  out.set(nonce, 1)
  const body = c.update(plaintext)
  body.copy(out, 1 + NONCE_BYTES)
  c.final()
  c.getAuthTag().copy(out, 1 + NONCE_BYTES + plaintext.length)
  return out
}

/**
 * The plaintext of a sealed value, or undefined when it does not authenticate: another key,
 * another cell (AAD), a changed byte. The caller says which cell it was and raises the error.
 */
export function openValue (key: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Uint8Array | undefined {
  if (sealed.length < MIN_SEALED_BYTES || sealed[0] !== CONFIDENTIAL_VERSION) return undefined
  const nonce = sealed.subarray(1, 1 + NONCE_BYTES)
  const tag = sealed.subarray(sealed.length - TAG_BYTES)
  try {
    const d = createDecipheriv('aes-256-gcm', key, nonce)
    d.setAAD(aad)
    d.setAuthTag(tag)
    const out = d.update(sealed.subarray(1 + NONCE_BYTES, sealed.length - TAG_BYTES))
    d.final()
    return new Uint8Array(out)
  } catch {
    return undefined
  }
}

/** The uncompressed point (04 ‖ X ‖ Y) of a canonical SPKI: its last 65 bytes. */
function pointOf (pub: PublicKey): Buffer {
  return Buffer.from(pub.spki.subarray(pub.spki.length - POINT_BYTES))
}

/** Key and nonce of one wrap: HKDF-SHA256 over the ECDH secret, bound to both public keys. */
function wrapSecrets (shared: Buffer, ephemeral: Buffer, recipient: PublicKey): { kek: Buffer, nonce: Buffer } {
  const info = Buffer.concat([WRAP_LABEL, ephemeral, Buffer.from(recipient.spki)])
  const okm = Buffer.from(hkdfSync('sha256', shared, Buffer.alloc(0), info, DATA_KEY_BYTES + NONCE_BYTES))
  return { kek: okm.subarray(0, DATA_KEY_BYTES), nonce: okm.subarray(DATA_KEY_BYTES) }
}

/** Additional data of a wrap: the chain and the recipient's key id. */
function wrapAad (chainId: string, recipient: PublicKey): Buffer {
  return Buffer.concat([WRAP_LABEL, Buffer.from(chainId, 'utf8'), Buffer.of(0), Buffer.from(recipient.id, 'utf8')])
}

/**
 * ECIES: wrap a data key for a recipient's P-256 key (a fresh ephemeral key per wrap, so the
 * derived key and nonce are never reused). `ephemeralScalar` only for test vectors.
 */
export function wrapDataKey (dataKey: Uint8Array, recipient: PublicKey, chainId: string, ephemeralScalar?: Uint8Array): Uint8Array {
  const ecdh = createECDH('prime256v1')
  if (ephemeralScalar === undefined) ecdh.generateKeys()
  else ecdh.setPrivateKey(Buffer.from(ephemeralScalar))
  const ephemeral = ecdh.getPublicKey()
  const shared = ecdh.computeSecret(pointOf(recipient))
  const { kek, nonce } = wrapSecrets(shared, ephemeral, recipient)
  const c = createCipheriv('aes-256-gcm', kek, nonce)
  c.setAAD(wrapAad(chainId, recipient))
  const body = Buffer.concat([c.update(dataKey), c.final()])
  return new Uint8Array(Buffer.concat([Buffer.of(CONFIDENTIAL_VERSION), ephemeral, body, c.getAuthTag()]))
}

/** The 32-byte private scalar of a P-256 private key. */
function scalarOf (key: KeyObject): Buffer {
  const d = key.export({ format: 'jwk' }).d
  if (d === undefined) throw new CryptoError('BAD_PRIVATE_KEY', 'the encryption key has no private scalar')
  return Buffer.from(d, 'base64url')
}

/**
 * Unwrap a data key with the recipient's private key. A wrap made for another key, on another
 * chain, or changed in any byte is UNWRAP_FAILED.
 */
export function unwrapDataKey (wrapped: Uint8Array, recipient: { publicKey: PublicKey, keyObject: KeyObject }, chainId: string): Uint8Array {
  const fail = (why: string): CryptoError => new CryptoError('UNWRAP_FAILED', `the data key wrapped for ${recipient.publicKey.id} does not open with that key: ${why}`, {
    hint: 'the block\'s _recipients row is not a wrap for this key (made for another key or chain, or altered); ask its signatory to re-wrap the key (docs/confidential.md)',
    details: { recipient: recipient.publicKey.id }
  })
  if (wrapped.length !== WRAPPED_KEY_BYTES || wrapped[0] !== CONFIDENTIAL_VERSION) throw fail(`${wrapped.length} bytes, version ${wrapped[0] ?? '-'}`)
  const ephemeral = Buffer.from(wrapped.subarray(1, 1 + POINT_BYTES))
  const ecdh = createECDH('prime256v1')
  ecdh.setPrivateKey(scalarOf(recipient.keyObject))
  let shared: Buffer
  try {
    shared = ecdh.computeSecret(ephemeral)
  } catch {
    throw fail('the ephemeral key is not a P-256 point')
  }
  const { kek, nonce } = wrapSecrets(shared, ephemeral, recipient.publicKey)
  try {
    const d = createDecipheriv('aes-256-gcm', kek, nonce)
    d.setAAD(wrapAad(chainId, recipient.publicKey))
    d.setAuthTag(wrapped.subarray(wrapped.length - TAG_BYTES))
    const key = Buffer.concat([d.update(wrapped.subarray(1 + POINT_BYTES, wrapped.length - TAG_BYTES)), d.final()])
    return new Uint8Array(key)
  } catch {
    throw fail('authentication failed')
  }
}

/** Whether the first bytes of a wrapped key name a P-256 point (a cheap structural check for validators). */
export function isWrappedKeyShape (wrapped: Uint8Array): boolean {
  if (wrapped.length !== WRAPPED_KEY_BYTES || wrapped[0] !== CONFIDENTIAL_VERSION || wrapped[1] !== 0x04) return false
  try {
    createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: Buffer.from(wrapped.subarray(2, 34)).toString('base64url'), y: Buffer.from(wrapped.subarray(34, 66)).toString('base64url') }, format: 'jwk' })
    return true
  } catch {
    return false
  }
}
