import { createECDH, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto'
import { equalBytes, errorMessage, fromHex, toHex } from '../util/index.js'
import { CryptoError } from './errors.js'
import { sha256Hex } from './hash.js'
import { SHA256_JS_MAX, sha256HexJs } from './sha256-js.js'
import { loadedNativeOpenssl, nativeDigest, nativeOpenssl, type NativeKeyHandle, type NativeOpenssl } from './openssl-native.js'

/** Prefix of a key id: "1:" names SHA-256 over the SPKI DER (Daisy's format). */
export const KEY_ID_PREFIX = '1:'
const KEY_ID_RE = /^1:[0-9a-f]{64}$/

/** A P-256 public key in canonical SPKI DER (uncompressed point), with its key id. */
export interface PublicKey {
  readonly spki: Uint8Array
  /** `"1:" + hex(sha256(spki))` */
  readonly id: string
  /** hex of `spki`, the form stored in `_keys.pubkey` */
  readonly hex: string
}

/** A private signing key held in memory. */
export interface SigningKey {
  readonly id: string
  readonly publicKey: PublicKey
  /** node:crypto's key (for a key held natively, made at first read: that loads node:crypto). */
  readonly keyObject: KeyObject
  /** The key as OpenSSL holds it through the native addon (openssl-native.ts), when it was imported that way. */
  readonly native?: NativeKeyHandle
}

export function keyIdOf (spki: Uint8Array): string {
  // The same key is often hashed twice in one command (`status`, `mykeys`: the keystore's key is
  // the signatory read from the index): remembered, the second costs a lookup, not ~0.35 M
  // instructions (docs/performance/startup.md, "Session 25: start-up"). A few keys at a time; the memo is
  // emptied when full rather than grown.
  const bytes = Buffer.from(spki.buffer, spki.byteOffset, spki.byteLength).toString('latin1')
  const known = KEY_IDS.get(bytes)
  if (known !== undefined) return known
  if (KEY_IDS.size >= KEY_IDS_MAX) KEY_IDS.clear()
  const id = hashKeyId(spki)
  KEY_IDS.set(bytes, id)
  return id
}

const KEY_IDS = new Map<string, string>()
const KEY_IDS_MAX = 64

function hashKeyId (spki: Uint8Array): string {
  // Through the addon if this thread has loaded it (a signing command: interpreted, the JavaScript
  // hash ran ~0.35 M instructions a key id, six per signimportblock); else in JavaScript, so that
  // listing keys (status, mykeys) loads neither the addon nor node:crypto (sha256-js.ts).
  const lib = loadedNativeOpenssl()
  if (lib !== undefined) return KEY_ID_PREFIX + nativeDigest(lib, spki).toString('hex')
  return KEY_ID_PREFIX + (spki.length <= SHA256_JS_MAX ? sha256HexJs(spki) : sha256Hex(spki))
}

export function isKeyId (value: unknown): value is string {
  return typeof value === 'string' && KEY_ID_RE.test(value)
}

function badPublicKey (why: string): CryptoError {
  return new CryptoError('BAD_PUBLIC_KEY', `not a P-256 public key: ${why}`, {
    hint: 'give the key as hex SPKI DER (as `petal mykeys` prints it) or as a PEM file'
  })
}

function assertP256 (k: KeyObject): void {
  if (k.asymmetricKeyType !== 'ec' || k.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw badPublicKey(`key type ${k.asymmetricKeyType ?? '?'} ${k.asymmetricKeyDetails?.namedCurve ?? ''}`.trim())
  }
}

/** SPKI DER of a P-256 key up to its point: SEQUENCE { AlgorithmIdentifier { ecPublicKey, prime256v1 }, BIT STRING (66 bytes, 0 unused bits) }. */
export const SPKI_PREFIX = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex')

/**
 * The one encoding of a P-256 public key Petal accepts: the 91-byte SPKI DER with the named curve
 * and the uncompressed point (0x04 ‖ X ‖ Y), built from the decoded point itself. OpenSSL keeps
 * the encoding a key was imported with (compressed, hybrid, explicit parameters), so what it
 * exports cannot be the identity: the same point encoded another way would get another key id.
 */
function canonicalSpki (k: KeyObject): Uint8Array {
  const jwk = k.export({ format: 'jwk' })
  const x = jwk.x === undefined ? undefined : Buffer.from(jwk.x, 'base64url')
  const y = jwk.y === undefined ? undefined : Buffer.from(jwk.y, 'base64url')
  if (x?.length !== 32 || y?.length !== 32) throw badPublicKey('the point has no 32-byte coordinates')
  return new Uint8Array(Buffer.concat([SPKI_PREFIX, Buffer.of(0x04), x, y]))
}

function publicKeyFromObject (k: KeyObject): PublicKey {
  const spki = canonicalSpki(k)
  return { spki, id: keyIdOf(spki), hex: toHex(spki) }
}

// P-256 (FIPS 186-4 D.1.2.3): field prime and the curve's b; a = -3.
const P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn
const B = 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn

/**
 * Whether `der` is the canonical SPKI of a P-256 point (the 26-byte prefix, 0x04, x, y) with
 * x, y < p and y² = x³ − 3x + b (mod p): exactly the inputs OpenSSL accepts and re-encodes to the
 * same bytes (the cofactor is 1, so every point on the curve is a valid public key).
 */
function isCanonicalP256Spki (der: Uint8Array): boolean {
  if (der.length !== 91 || der[26] !== 0x04 || !equalBytes(der.subarray(0, 26), SPKI_PREFIX)) return false
  const x = BigInt('0x' + toHex(der.subarray(27, 59)))
  const y = BigInt('0x' + toHex(der.subarray(59, 91)))
  if (x >= P || y >= P) return false
  return (y * y - (x * x * x - 3n * x + B)) % P === 0n
}

/**
 * PEM text with every line's leading and trailing blanks removed. OpenSSL (and so Node) reads a
 * PEM block only where its lines start at the margin: a key indented as a whole (pasted from YAML,
 * Markdown or a mail) was refused, though nothing about it is ambiguous.
 */
function unindented (pem: string): string {
  return pem.replace(/^[ \t]+|[ \t]+$/gm, '')
}

/** The DER inside a single PEM `PUBLIC KEY` block. */
function pemBody (pem: string): Uint8Array {
  const m = /^-----BEGIN PUBLIC KEY-----\r?\n([A-Za-z0-9+/=\r\n]+)-----END PUBLIC KEY-----\s*$/.exec(unindented(pem).trim() + '\n')
  const body = m?.[1]
  if (body === undefined) throw badPublicKey('not a single PEM "PUBLIC KEY" block (give the public key as `petal keys export` writes it)')
  return new Uint8Array(Buffer.from(body.replace(/\s/g, ''), 'base64'))
}

/**
 * Parse a public key given as SPKI DER bytes, lower-case hex of SPKI DER, or a PEM `PUBLIC KEY`.
 * Only the canonical encoding is accepted — the 91-byte SPKI of the uncompressed point with the
 * named curve, and nothing after it — so that one key has one key id: a compressed (02/03) or
 * hybrid (06/07) point, explicit curve parameters, trailing or non-minimal DER, or a raw point is
 * PUBLIC_KEY_NOT_CANONICAL when it decodes to a P-256 key, else BAD_PUBLIC_KEY.
 */
export function parsePublicKey (input: Uint8Array | string): PublicKey {
  let k: KeyObject
  let der: Uint8Array
  try {
    if (typeof input === 'string' && input.includes('-----BEGIN')) der = pemBody(input)
    else {
      const d = typeof input === 'string' ? fromHex(input.trim()) : input
      if (d === undefined) throw badPublicKey('not lower-case hex')
      der = d
    }
    // The canonical form with a point on the curve is the answer as it is; OpenSSL's decoder
    // (~2 ms a key here) would only re-encode it to the same bytes. Anything else takes that way.
    if (isCanonicalP256Spki(der)) { const spki = new Uint8Array(der); return { spki, id: keyIdOf(spki), hex: toHex(spki) } }
    k = createPublicKey({ key: Buffer.from(der), format: 'der', type: 'spki' })
  } catch (err) {
    if (err instanceof CryptoError) throw err
    throw badPublicKey(errorMessage(err))
  }
  // Explicit parameters that spell out P-256 decode as prime256v1 too; the bytes below tell.
  assertP256(k)
  const pub = publicKeyFromObject(k)
  if (!equalBytes(der, pub.spki)) {
    throw new CryptoError('PUBLIC_KEY_NOT_CANONICAL', `not the canonical encoding of a P-256 public key (${der.length} bytes; Petal takes only the 91-byte SPKI of the uncompressed point): the same key is ${pub.id}`, {
      hint: 'give the key as `petal mykeys` or `petal keys export` prints it (uncompressed point, named curve)',
      details: { canonical: pub.hex, canonicalId: pub.id }
    })
  }
  return pub
}

export function generateSigningKey (): SigningKey {
  // Generated as DER and imported, not as a KeyObject: a KeyObject straight from
  // generateKeyPairSync shares a lock with its generator job, and Node 20 deadlocks when a garbage
  // collection that runs while the key's details are read finalises that job (a `petal init`
  // hung for minutes on it: KeyObjectHandle::GetKeyDetail -> GC -> ~KeyGenJob -> mutex lock).
  const { privateKey } = generateKeyPairSync('ec', {
    namedCurve: 'prime256v1',
    publicKeyEncoding: { type: 'spki', format: 'der' },
    privateKeyEncoding: { type: 'pkcs8', format: 'der' }
  })
  return signingKeyFromObject(createPrivateKey({ key: privateKey, format: 'der', type: 'pkcs8' }))
}

function signingKeyFromObject (k: KeyObject): SigningKey {
  if (k.type !== 'private') throw new CryptoError('BAD_PRIVATE_KEY', 'not a private key')
  try {
    assertP256(k)
  } catch {
    throw new CryptoError('BAD_PRIVATE_KEY', 'not a P-256 private key', { hint: 'Petal signs with ECDSA P-256 (prime256v1) keys' })
  }
  // OpenSSL decodes a scalar of 0 or ≥ n (RFC 5915 allows only 1..n-1) and fails only when a point
  // is computed from it (point at infinity), or never (d ≥ n with a point in the file): Node's
  // ECDH, which checks the range, says it here, as a key error rather than an internal one.
  let publicKey: PublicKey
  let derived: Uint8Array
  try {
    publicKey = publicKeyFromObject(createPublicKey(k))
    derived = derivedPoint(k)
  } catch (err) {
    if (err instanceof CryptoError && err.code === 'BAD_PRIVATE_KEY') throw err
    throw new CryptoError('BAD_PRIVATE_KEY', `not a usable P-256 private key: its scalar is 0 or not below the group order (${errorMessage(err)})`, { hint: 'the file is damaged or was assembled by hand: export the key again from where it was made, or generate a new one (petal keys generate)' })
  }
  // A PKCS#8 or SEC1 file carries the public point beside d, and OpenSSL keeps whatever point it
  // holds: a file whose point is not d·G would give the key that point's id, and every signature
  // made with d would then fail under it (a signatory whose blocks are refused). Refused here.
  if (!equalBytes(publicKey.spki.subarray(SPKI_PREFIX.length), derived)) {
    throw new CryptoError('BAD_PRIVATE_KEY', 'the key file\'s public point is not the one its private scalar gives', { hint: 'the file is damaged or was assembled by hand: export the key again from where it was made, or generate a new one (petal keys generate)' })
  }
  return { id: publicKey.id, publicKey, keyObject: k }
}

/** d·G of a P-256 private key, uncompressed (0x04 ‖ X ‖ Y). */
function derivedPoint (k: KeyObject): Uint8Array {
  const d = k.export({ format: 'jwk' }).d
  if (d === undefined) throw new CryptoError('BAD_PRIVATE_KEY', 'private key has no scalar')
  return pointOfScalar(Buffer.from(d, 'base64url'))
}

/** d·G for a P-256 scalar d, uncompressed; throws for d = 0 or d ≥ n. */
function pointOfScalar (d: Uint8Array): Buffer {
  const ecdh = createECDH('prime256v1')
  ecdh.setPrivateKey(d)
  return ecdh.getPublicKey()
}

/**
 * Import a P-256 private key: PEM (PKCS#8 or SEC1), DER bytes (PKCS#8 or SEC1), or hex of either
 * (Daisy's private.db stores hex SEC1).
 */
export function importPrivateKey (input: Uint8Array | string): SigningKey {
  if (typeof input !== 'string') {
    const key = importP256Pkcs8(input)
    if (key !== undefined) return key
  }
  const attempts: Array<() => KeyObject> = []
  if (typeof input === 'string' && input.includes('-----BEGIN')) {
    const pem = unindented(input)
    if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|^Proc-Type: *4, *ENCRYPTED/m.test(pem)) {
      throw new CryptoError('BAD_PRIVATE_KEY', 'the private key is encrypted (a PEM with a passphrase of its own)', { hint: 'decrypt it first (`openssl pkey -in FILE -out plain.pem`), import plain.pem and delete it; --passphrase-file (or PETAL_PASSPHRASE) keeps it encrypted in the keystore' })
    }
    attempts.push(() => createPrivateKey(pem))
  } else {
    const der = typeof input === 'string' ? fromHex(input.trim().toLowerCase()) : input
    if (der === undefined) throw new CryptoError('BAD_PRIVATE_KEY', 'private key is neither PEM, DER nor hex', { hint: 'export the key as PEM (PKCS#8 or SEC1)' })
    const buf = Buffer.from(der)
    attempts.push(() => createPrivateKey({ key: buf, format: 'der', type: 'pkcs8' }))
    attempts.push(() => createPrivateKey({ key: buf, format: 'der', type: 'sec1' }))
  }
  for (const attempt of attempts) {
    let k: KeyObject
    try {
      k = attempt()
    } catch {
      continue
    }
    return signingKeyFromObject(k)
  }
  throw new CryptoError('BAD_PRIVATE_KEY', 'could not parse the private key', { hint: 'give a P-256 key as PEM (PKCS#8 or SEC1), DER, or hex DER' })
}

/**
 * The PKCS#8 DER Node writes for a P-256 key (what the keystore stores): the algorithm and curve,
 * an RFC 5915 ECPrivateKey with the 32-byte scalar d at 36, then the public point (0x04 ‖ X ‖ Y) at 73.
 */
const PKCS8_HEAD = Buffer.from('308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b0201010420', 'hex')
const PKCS8_POINT = Buffer.from('a14403420004', 'hex')
const PKCS8_BYTES = 138

/**
 * A key in exactly that layout, imported without OpenSSL's PKCS#8 decoder (~5 M instructions a
 * key here, most of a `signimportblock`'s key load; docs/performance/import.md, "Session 21: the 100-row
 * import"): d·G is computed (ECDH) and must be the point the file holds, then the key is imported
 * as a JWK of those same numbers. Anything else (another layout, a point that is not d·G, a d out of
 * range) returns undefined and takes the general path, whose verdict is then the answer.
 */
export function importP256Pkcs8 (der: Uint8Array): SigningKey | undefined {
  if (der.length !== PKCS8_BYTES) return undefined
  const b = Buffer.from(der.buffer, der.byteOffset, der.byteLength)
  if (!b.subarray(0, 36).equals(PKCS8_HEAD) || !b.subarray(68, 74).equals(PKCS8_POINT)) return undefined
  const d = b.subarray(36, 68)
  const point = b.subarray(73, 138)
  const lib = nativeOpenssl()
  if (lib !== undefined) {
    const k = lib.keyFromScalar(d)
    return k !== undefined && k.point.equals(point) ? nativeSigningKey(lib, k.handle, point) : undefined
  }
  let derived: Buffer
  try {
    derived = pointOfScalar(d)
  } catch {
    return undefined
  }
  if (!derived.equals(point)) return undefined
  let k: KeyObject
  try {
    k = createPrivateKey({ key: { kty: 'EC', crv: 'P-256', d: d.toString('base64url'), x: point.toString('base64url', 1, 33), y: point.toString('base64url', 33) }, format: 'jwk' })
  } catch {
    return undefined
  }
  const spki = new Uint8Array(Buffer.concat([SPKI_PREFIX, point]))
  const id = keyIdOf(spki)
  return { id, publicKey: { spki, id, hex: toHex(spki) }, keyObject: k }
}

/**
 * A key held by OpenSSL through the native addon: d never becomes a JavaScript string (the JWK of
 * the node:crypto path) and node:crypto is not loaded; `keyObject` is made from d at its first
 * read (export, PEM, ECIES), the scalar's copy cleared at once.
 */
function nativeSigningKey (lib: NativeOpenssl, handle: NativeKeyHandle, point: Uint8Array): SigningKey {
  // Set into one array rather than Buffer.concat (Node's JavaScript, compiled at its first call).
  const spki = new Uint8Array(SPKI_PREFIX.length + point.length)
  spki.set(SPKI_PREFIX)
  spki.set(point, SPKI_PREFIX.length)
  const id = keyIdOf(spki)
  const x = Buffer.from(point.buffer, point.byteOffset + 1, 32).toString('base64url')
  const y = Buffer.from(point.buffer, point.byteOffset + 33, 32).toString('base64url')
  let keyObject: KeyObject | undefined
  return {
    id,
    publicKey: { spki, id, hex: toHex(spki) },
    native: handle,
    get keyObject (): KeyObject {
      if (keyObject === undefined) {
        const d = lib.scalar(handle)
        try {
          keyObject = createPrivateKey({ key: { kty: 'EC', crv: 'P-256', d: d.toString('base64url'), x, y }, format: 'jwk' })
        } finally {
          d.fill(0)
        }
      }
      return keyObject
    }
  }
}

/**
 * PKCS#8 DER of a signing key (what the keystore stores), always in the layout importP256Pkcs8
 * reads. A key read without its public point (a SEC1 or PKCS#8 that omits it, which RFC 5915
 * allows) is exported by OpenSSL without one too (67 bytes), which only OpenSSL's decoder reads
 * (~5 M instructions on each load); written with the point its id is of, it loads on the fast path.
 * Files already stored in the short layout stay readable (the decoder reads them).
 */
export function privateKeyToPkcs8 (key: SigningKey): Uint8Array {
  const der = key.keyObject.export({ type: 'pkcs8', format: 'der' })
  if (der.length === PKCS8_BYTES) return new Uint8Array(der)
  const d = privateScalar(key)
  // PKCS8_POINT ends with the point's 0x04, SPKI_PREFIX does not.
  const full = Buffer.concat([PKCS8_HEAD, d, PKCS8_POINT, key.publicKey.spki.subarray(SPKI_PREFIX.length + 1)])
  // d·G is checked again on the way: whatever fails it keeps OpenSSL's own export.
  return d.length === 32 && importP256Pkcs8(full)?.id === key.id ? new Uint8Array(full) : new Uint8Array(der)
}

export function privateKeyToPem (key: SigningKey, format: 'pkcs8' | 'sec1' = 'pkcs8'): string {
  return key.keyObject.export({ type: format, format: 'pem' }).toString()
}

export function publicKeyToPem (key: PublicKey): string {
  return createPublicKey({ key: Buffer.from(key.spki), format: 'der', type: 'spki' }).export({ type: 'spki', format: 'pem' }).toString()
}

/** The 32-byte private scalar, for @noble/curves (v1 signing in tests and tools). */
export function privateScalar (key: SigningKey): Uint8Array {
  const lib = key.native === undefined ? undefined : nativeOpenssl()
  if (lib !== undefined && key.native !== undefined) {
    const d = lib.scalar(key.native)
    const out = new Uint8Array(d)
    d.fill(0)
    return out
  }
  const d = key.keyObject.export({ format: 'jwk' }).d
  if (d === undefined) throw new CryptoError('BAD_PRIVATE_KEY', 'private key has no scalar')
  return new Uint8Array(Buffer.from(d, 'base64url'))
}
