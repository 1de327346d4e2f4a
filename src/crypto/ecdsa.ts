import { createPublicKey, sign as nodeSign, verify as nodeVerify, type KeyObject } from 'node:crypto'
import { createRequire } from 'node:module'
import { CryptoError } from './errors.js'
import { privateScalar, SPKI_PREFIX, type PublicKey, type SigningKey } from './keys.js'
import { nativeDigest, nativeOpenssl, type NativeKeyHandle, type NativeOpenssl } from './openssl-native.js'

type Curve = typeof import('@noble/curves/nist.js')['p256']
let curve: Curve | undefined

/**
 * @noble/curves, loaded on first use: only v1 (Daisy) signatures need it, and loading it costs
 * most of what a command such as `petal status` takes beyond Node's own start (docs/performance.md).
 * A synchronous require of the ES module (Node ≥ 20.19) keeps the v1 functions synchronous.
 */
function p256 (): Curve {
  if (curve === undefined) {
    const nist: typeof import('@noble/curves/nist.js') = createRequire(import.meta.url)('@noble/curves/nist.js')
    curve = nist.p256
  }
  return curve
}

/** Order of the P-256 group. */
const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n
const HALF_N = N >> 1n

export interface RawSignature { r: bigint, s: bigint }

function bytesToBigint (b: Uint8Array): bigint {
  let v = 0n
  for (const x of b) v = (v << 8n) | BigInt(x)
  return v
}

function bigintTo32 (v: bigint): Uint8Array {
  const out = new Uint8Array(32)
  for (let i = 31; i >= 0; i--) { out[i] = Number(v & 0xffn); v >>= 8n }
  return out
}

function derInt (v: bigint): Uint8Array {
  let b = bigintTo32(v)
  let i = 0
  while (i < b.length - 1 && b[i] === 0) i++
  b = b.subarray(i)
  if (((b[0] ?? 0) & 0x80) !== 0) { const p = new Uint8Array(b.length + 1); p.set(b, 1); b = p }
  return Uint8Array.of(0x02, b.length, ...b)
}

/** DER `SEQUENCE { INTEGER r, INTEGER s }`. */
export function encodeDerSignature ({ r, s }: RawSignature): Uint8Array {
  const body = [...derInt(r), ...derInt(s)]
  return Uint8Array.of(0x30, body.length, ...body)
}

/**
 * Strict DER decoding: minimal lengths and integers, positive values, no trailing bytes.
 * Returns undefined for anything else, so a signature has exactly one encoding.
 */
export function decodeDerSignature (der: Uint8Array): RawSignature | undefined {
  if (der.length < 8 || der.length > 72 || der[0] !== 0x30 || der[1] !== der.length - 2) return undefined
  let pos = 2
  const readInt = (): bigint | undefined => {
    if (der[pos] !== 0x02) return undefined
    const len = der[pos + 1]
    if (len === undefined || len === 0 || len > 33 || pos + 2 + len > der.length) return undefined
    const v = der.subarray(pos + 2, pos + 2 + len)
    const [first = 0, second = 0] = v
    if ((first & 0x80) !== 0) return undefined // negative
    if (len > 1 && first === 0 && (second & 0x80) === 0) return undefined // not minimal
    pos += 2 + len
    return bytesToBigint(v)
  }
  const r = readInt()
  const s = readInt()
  if (r === undefined || s === undefined || pos !== der.length) return undefined
  return { r, s }
}

const keyCache = new Map<string, KeyObject>()
function keyObjectOf (pub: PublicKey): KeyObject {
  let k = keyCache.get(pub.hex)
  if (k === undefined) {
    k = pointKeyObject(pub.spki) ?? createPublicKey({ key: Buffer.from(pub.spki), format: 'der', type: 'spki' })
    if (keyCache.size >= 4096) keyCache.clear()
    keyCache.set(pub.hex, k)
  }
  return k
}

/**
 * The key of a canonical P-256 SPKI, imported as a JWK of its point's coordinates (OpenSSL checks
 * the point is on the curve), not through OpenSSL's SPKI decoder, whose first use in a process
 * costs ~3 M instructions more (docs/performance/import.md, "Session 21: the 100-row import"). Anything
 * else returns undefined and is decoded as before.
 */
export function pointKeyObject (spki: Uint8Array): KeyObject | undefined {
  if (spki.length !== 91 || spki[26] !== 0x04) return undefined
  const b = Buffer.from(spki.buffer, spki.byteOffset, spki.byteLength)
  if (!b.subarray(0, 26).equals(SPKI_PREFIX)) return undefined
  try {
    return createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: b.toString('base64url', 27, 59), y: b.toString('base64url', 59, 91) }, format: 'jwk' })
  } catch {
    return undefined
  }
}

const nativeKeys = new Map<string, NativeKeyHandle | null>()
/** The native addon's key of a canonical P-256 SPKI (cached like keyObjectOf's), null when its point is off the curve. */
function nativeKeyOf (lib: NativeOpenssl, pub: PublicKey): NativeKeyHandle | null {
  let k = nativeKeys.get(pub.hex)
  if (k === undefined) {
    const b = pub.spki
    k = b.length === 91 && b[26] === 0x04 && Buffer.from(b.buffer, b.byteOffset, 26).equals(SPKI_PREFIX) ? lib.publicKey(b.subarray(26)) ?? null : null
    if (nativeKeys.size >= 4096) nativeKeys.clear()
    nativeKeys.set(pub.hex, k)
  }
  return k
}

function digestOf (lib: NativeOpenssl, message: string | Uint8Array): Buffer {
  return nativeDigest(lib, typeof message === 'string' ? Buffer.from(message, 'utf8') : message)
}

/**
 * v2 signature: ECDSA P-256 over SHA-256(message), DER, normalised to low S (s ≤ n/2) so that a
 * signature cannot be re-encoded into a second valid one. A key held by the native addon signs
 * there (openssl-native.ts: the same OpenSSL, without loading node:crypto), any other through
 * node:crypto; the same r ‖ s form either way, so the same low-S rule and encoding.
 */
export function signV2 (key: SigningKey, message: string | Uint8Array): Uint8Array {
  const lib = key.native === undefined ? undefined : nativeOpenssl()
  const p1363 = lib !== undefined && key.native !== undefined
    ? lib.sign(key.native, digestOf(lib, message))
    : nodeSign('sha256', typeof message === 'string' ? Buffer.from(message, 'utf8') : message, { key: key.keyObject, dsaEncoding: 'ieee-p1363' })
  const r = bytesToBigint(p1363.subarray(0, 32))
  let s = bytesToBigint(p1363.subarray(32))
  if (s > HALF_N) s = N - s
  return encodeDerSignature({ r, s })
}

// N and N/2 as 32 big-endian bytes, for comparing integers without BigInt.
const N_BYTES = bigintTo32(N)
const HALF_N_BYTES = bigintTo32(HALF_N)

/**
 * Compare the 32-byte big-endian integers a[at…at+32] and b: negative, zero or positive.
 * Every byte is read, with no early return: a loop that ended at its first byte on nearly every
 * call reached its increment only when a signature's first byte equalled the bound's (1 in 128
 * for s), past the optimiser's feedback, and each verify worker's derToP1363 was deoptimised
 * there and compiled again (docs/performance/verify.md, "Session 19: plain verify").
 */
function compare32 (a: Uint8Array, at: number, b: Uint8Array): number {
  let d = 0
  for (let i = 0; i < 32; i++) if (d === 0) d = (a[at + i] ?? 0) - (b[i] ?? 0)
  return d
}

/**
 * The IEEE P1363 form (r ‖ s, 32 bytes each) of a DER signature that decodeDerSignature accepts
 * with 1 ≤ r < n and 1 ≤ s ≤ n/2, else undefined: the verdict is isStrictLowS's, read from the
 * bytes (BigInt arithmetic cost more than the rest of a verify's preparation, and plain verify
 * checks two signatures per block). `into`: a 64-byte buffer to write it in, instead of a new one.
 */
export function derToP1363 (der: Uint8Array, into?: Buffer): Buffer | undefined {
  if (!isStrictLowS(der)) return undefined
  // Zeroed and filled byte by byte: Buffer's fill and set inlined Node's argument handling into
  // the optimised code, which each verify worker compiled (TurboFan) for two calls per block.
  const out = into ?? Buffer.alloc(64)
  for (let i = 0; i < 64; i++) out[i] = 0
  let pos = 2
  for (let k = 0; k < 2; k++) {
    const len = der[pos + 1] ?? 0
    // isStrictLowS checked the shape: a 33-byte value is 0x00 then 32 bytes; values right-aligned.
    const n = len === 33 ? 32 : len
    const from = pos + 2 + len - n
    for (let i = 0, to = 32 * k + 32 - n; i < n; i++) out[to + i] = der[from + i] ?? 0
    pos += 2 + len
  }
  return out
}

/**
 * Whether derToP1363 accepts `der` (strict DER, 1 ≤ r < n, 1 ≤ s ≤ n/2), read where it lies:
 * verifyV2 wants only the verdict, and derToP1363's zeroing, copying and scans of two 32-byte
 * slots were ~4 K instructions per signature in each verify worker (docs/performance/verify.md,
 * "Session 20: plain verify"). In minimal DER the value 0 has one encoding, the single byte 0x00,
 * and a value of fewer than 32 bytes is below 2^248, under both bounds; only a 32-byte value is
 * compared with its bound, every byte read (compare32, for derToP1363's reason).
 */
export function isStrictLowS (der: Uint8Array): boolean {
  if (der.length < 8 || der.length > 72 || der[0] !== 0x30 || der[1] !== der.length - 2) return false
  let pos = 2
  for (let k = 0; k < 2; k++) {
    if (der[pos] !== 0x02) return false
    const len = der[pos + 1]
    if (len === undefined || len === 0 || len > 33 || pos + 2 + len > der.length) return false
    const first = der[pos + 2] ?? 0
    if ((first & 0x80) !== 0) return false // negative
    if (len > 1 && first === 0 && ((der[pos + 3] ?? 0) & 0x80) === 0) return false // not minimal
    if (len === 33 && first !== 0) return false // at least 2^256
    if (len === 1 && first === 0) return false // zero
    // r < n (k = 0), s ≤ n/2 (k = 1): a 32-byte value (33 with its 0x00) against the bound.
    const n = len === 33 ? 32 : len
    const d = n === 32 ? compare32(der, pos + 2 + len - 32, k === 0 ? N_BYTES : HALF_N_BYTES) : -1
    if (d > 0 || (k === 0 && d === 0)) return false
    pos += 2 + len
  }
  return pos === der.length
}

/**
 * Verify a v2 signature: strict DER, low S, then node:crypto's verifier, given the DER itself.
 * OpenSSL decodes DER, re-encodes it and refuses a signature whose bytes differ, then checks
 * 1 ≤ r, s < n: on a signature isStrictLowS accepts that is exactly the verdict of the same
 * r and s in IEEE P1363 form, which Node would turn into this very DER (~10 µs per call saved).
 */
export function verifyV2 (pub: PublicKey, message: string | Uint8Array, der: Uint8Array): boolean {
  if (!isStrictLowS(der)) return false
  // Through the native addon when it is loaded: r and s in P1363 form are the DER's exactly (the
  // strict checks above); a key it cannot take goes to node:crypto, whose verdict (or error) stays.
  const lib = nativeOpenssl()
  const k = lib === undefined ? null : nativeKeyOf(lib, pub)
  if (lib !== undefined && k !== null) {
    const rs = derToP1363(der)
    if (rs !== undefined) return lib.verify(k, digestOf(lib, message), rs)
  }
  return nodeVerify('sha256', typeof message === 'string' ? Buffer.from(message, 'utf8') : message, keyObjectOf(pub), der)
}

/**
 * Two v2 signatures under one key (a block's previous-hash signature and seal): bit 0 set iff
 * verifyV2(pub, m1, der1), bit 1 iff verifyV2(pub, m2, der2), each judged on its own. Through
 * the native addon both go in one call, which computes one inverse for the two s values once
 * the key has a table (native/p256-table.c, table_verify2); otherwise, or when either is not
 * strict low-S DER, verifyV2 twice.
 */
export function verifyV2Pair (pub: PublicKey, m1: string | Uint8Array, der1: Uint8Array, m2: string | Uint8Array, der2: Uint8Array): number {
  const lib = nativeOpenssl()
  const k = lib === undefined ? null : nativeKeyOf(lib, pub)
  if (lib !== undefined && k !== null) {
    const rs1 = derToP1363(der1, RS1)
    const rs2 = rs1 === undefined ? undefined : derToP1363(der2, RS2)
    if (rs1 !== undefined && rs2 !== undefined) return lib.verify2(k, digestInto(lib, m1, D1), rs1, digestInto(lib, m2, D2), rs2)
  }
  return (verifyV2(pub, m1, der1) ? 1 : 0) | (verifyV2(pub, m2, der2) ? 2 : 0)
}

/**
 * verifyV2Pair of two messages and two signatures as lower-case hex (a block's previous-hash
 * signature and seal, as the block and its seal file hold them) in one native call, which
 * decodes, checks (strict low-S DER), hashes and verifies as verifyV2Pair does: its verdict bits,
 * or -1 when the addon is not loaded, the key is not one it takes, or the call leaves anything to
 * the JavaScript way (hex or DER it does not take, a long message). Plain verify calls this per
 * block (docs/performance/verify.md, "Session 40: plain verify of small blocks").
 */
export function verifyV2PairHex (pub: PublicKey, m1: string, hex1: string, m2: string, hex2: string): number {
  const lib = nativeOpenssl()
  if (lib?.verify2Text === undefined) return -1
  const k = nativeKeyOf(lib, pub)
  return k === null ? -1 : lib.verify2Text(k, m1, hex1, m2, hex2)
}

// verifyV2Pair's scratch, reused by every call (the addon has read them when verify2 returns): the
// two signatures as r ‖ s, the messages' bytes, their digests. Made per call they were six Buffers
// a block in each verify worker (docs/performance/verify.md, "Session 29: plain verify").
const RS1 = Buffer.alloc(64)
const RS2 = Buffer.alloc(64)
const D1 = Buffer.alloc(32)
const D2 = Buffer.alloc(32)
const MSG = Buffer.alloc(1024)

/** SHA-256 of the message (a string as UTF-8, as digestOf) into `out`; a string that surely fits goes through MSG. */
function digestInto (lib: NativeOpenssl, message: string | Uint8Array, out: Buffer): Buffer {
  // UTF-8 takes at most 3 bytes a UTF-16 unit (a lone surrogate's replacement character among them).
  if (typeof message !== 'string') lib.sha256Into(message, 0, message.length, out)
  else if (message.length * 3 <= MSG.length) lib.sha256Into(MSG, 0, MSG.write(message, 0, MSG.length, 'utf8'), out)
  else lib.sha256Into(Buffer.from(message, 'utf8'), 0, Buffer.byteLength(message, 'utf8'), out)
  return out
}

function rawPoint (pub: PublicKey): Uint8Array {
  // Canonical P-256 SPKI = 26-byte prefix + 65-byte uncompressed point.
  if (pub.spki.length !== 91) throw new CryptoError('BAD_PUBLIC_KEY', 'unexpected SPKI length')
  return pub.spki.subarray(26)
}

/**
 * v1 (Daisy) signature: ECDSA over the raw 32-byte digest (no hashing), DER, high S accepted.
 */
export function verifyV1 (pub: PublicKey, digest: Uint8Array, der: Uint8Array): boolean {
  if (digest.length !== 32) return false
  try {
    return p256().verify(der, digest, rawPoint(pub), { format: 'der', prehash: false, lowS: false })
  } catch {
    return false
  }
}

/** v1 signing (Daisy-compatible), used to build v1 test blocks. */
export function signV1 (key: SigningKey, digest: Uint8Array): Uint8Array {
  return p256().sign(digest, privateScalar(key), { format: 'der', prehash: false, lowS: false })
}
