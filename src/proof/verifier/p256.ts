// P-256 public keys and ECDSA verification through WebCrypto. WebCrypto wants the IEEE P1363 form
// (r ‖ s, 32 bytes each); Petal and the C2SP ECDSA note type carry DER, converted here strictly.
import { equalBytes, fromBase64, fromHex, toHex } from './bytes.js'
import { own, sha256, webCrypto } from './sha256.js'

// SPKI DER of a P-256 key with an uncompressed point: this fixed 27-byte prefix, then X ‖ Y.
const SPKI_PREFIX = fromHex('3059301306072a8648ce3d020106082a8648ce3d03010703420004') as Uint8Array
export const SPKI_BYTES = 91

/** Is this the canonical SPKI DER of a P-256 key (the only form Petal uses, so key ids are unambiguous)? */
export function isP256Spki (spki: Uint8Array): boolean {
  return spki.length === SPKI_BYTES && equalBytes(spki.subarray(0, SPKI_PREFIX.length), SPKI_PREFIX)
}

/** Petal's key id of a public key: "1:" + hex(SHA-256(SPKI DER)). */
export async function petalKeyId (spki: Uint8Array): Promise<string> {
  return '1:' + toHex(await sha256(spki))
}

/** The SPKI DER inside every `-----BEGIN PUBLIC KEY-----` block of a PEM text. */
export function spkisFromPem (text: string): Uint8Array[] | string {
  const out: Uint8Array[] = []
  const re = /-----BEGIN PUBLIC KEY-----\r?\n([A-Za-z0-9+/=\r\n]+?)-----END PUBLIC KEY-----/g
  for (const m of text.matchAll(re)) {
    const der = fromBase64((m[1] as string).replace(/\r?\n/g, ''))
    if (der === undefined) return 'a PEM public key block is not valid base64'
    if (!isP256Spki(der)) return 'a PEM public key is not a P-256 key in canonical (uncompressed) form'
    out.push(der)
  }
  return out
}

const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n
const HALF_N = N >> 1n

function toBig (b: Uint8Array): bigint {
  let v = 0n
  for (const x of b) v = (v << 8n) | BigInt(x)
  return v
}

function to32 (v: bigint): Uint8Array {
  const out = new Uint8Array(32)
  for (let i = 31; i >= 0; i--) { out[i] = Number(v & 0xffn); v >>= 8n }
  return out
}

/**
 * Strict DER `SEQUENCE { INTEGER r, INTEGER s }` to P1363: minimal lengths and integers, positive,
 * no trailing bytes, 1 ≤ r, s < n. With `lowS`, also s ≤ n/2 (Petal's own signatures).
 */
export function derToP1363 (der: Uint8Array, options: { lowS: boolean }): Uint8Array | undefined {
  if (der.length < 8 || der.length > 72 || der[0] !== 0x30 || der[1] !== der.length - 2) return undefined
  let pos = 2
  const readInt = (): bigint | undefined => {
    if (der[pos] !== 0x02) return undefined
    const len = der[pos + 1] as number
    if (len === 0 || len > 33 || pos + 2 + len > der.length) return undefined
    const v = der.subarray(pos + 2, pos + 2 + len)
    if (((v[0] as number) & 0x80) !== 0) return undefined
    if (len > 1 && v[0] === 0 && ((v[1] as number) & 0x80) === 0) return undefined
    pos += 2 + len
    return toBig(v)
  }
  const r = readInt()
  const s = readInt()
  if (r === undefined || s === undefined || pos !== der.length) return undefined
  if (r < 1n || r >= N || s < 1n || s >= N || (options.lowS && s > HALF_N)) return undefined
  const out = new Uint8Array(64)
  out.set(to32(r), 0)
  out.set(to32(s), 32)
  return out
}

type Key = Awaited<ReturnType<ReturnType<typeof webCrypto>['importKey']>>
const keys = new Map<string, Promise<Key>>()

async function importKey (spki: Uint8Array): Promise<Key> {
  const id = toHex(spki)
  let k = keys.get(id)
  if (k === undefined) {
    k = webCrypto().importKey('spki', own(spki), { name: 'ECDSA', namedCurve: 'P-256' }, false, ['verify'])
    if (keys.size >= 256) keys.clear()
    keys.set(id, k)
  }
  return await k
}

/** ECDSA P-256 / SHA-256 over `message` with a DER signature. False for any malformed input. */
export async function verifyP256 (spki: Uint8Array, message: Uint8Array, der: Uint8Array, options: { lowS: boolean }): Promise<boolean> {
  if (!isP256Spki(spki)) return false
  const sig = derToP1363(der, options)
  if (sig === undefined) return false
  try {
    return await webCrypto().verify({ name: 'ECDSA', hash: 'SHA-256' }, await importKey(spki), own(sig), own(message))
  } catch {
    return false
  }
}

/** A key given as hex SPKI DER (as `petal mykeys` prints it) or base64 SPKI DER. */
export function spkiFromText (text: string): Uint8Array | undefined {
  const t = text.trim()
  const der = fromHex(t) ?? fromBase64(t)
  return der !== undefined && isP256Spki(der) ? der : undefined
}
