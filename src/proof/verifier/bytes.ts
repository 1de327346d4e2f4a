// Byte helpers for the verifier: strict hex and base64, UTF-8, big-endian integers. Written
// against the language alone (no Buffer, no atob) so that the same file runs in a browser.

const HEX_RE = /^(?:[0-9a-f]{2})*$/
const HEX_DIGITS = '0123456789abcdef'

/** Lower-case hex. */
export function toHex (bytes: Uint8Array): string {
  let s = ''
  for (const b of bytes) s += (HEX_DIGITS[b >> 4] as string) + (HEX_DIGITS[b & 15] as string)
  return s
}

/** Strict hex: lower case, even length, nothing else. */
export function fromHex (hex: string): Uint8Array | undefined {
  if (!HEX_RE.test(hex)) return undefined
  const out = new Uint8Array(hex.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16)
  return out
}

/** 32 bytes from 64 lower-case hex digits (a SHA-256 digest), else undefined. */
export function hashFromHex (hex: unknown): Uint8Array | undefined {
  return typeof hex === 'string' && hex.length === 64 ? fromHex(hex) : undefined
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
const B64_INDEX = new Map([...B64].map((c, i) => [c, i]))

/** Standard base64 (RFC 4648 §4) with padding. */
export function toBase64 (bytes: Uint8Array): string {
  let s = ''
  for (let i = 0; i < bytes.length; i += 3) {
    const n = ((bytes[i] as number) << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0)
    const left = bytes.length - i
    s += (B64[(n >> 18) & 63] as string) + (B64[(n >> 12) & 63] as string) +
      (left > 1 ? B64[(n >> 6) & 63] as string : '=') + (left > 2 ? B64[n & 63] as string : '=')
  }
  return s
}

/**
 * Strict standard base64: padded, no whitespace, and canonical (the unused low bits of the last
 * character are zero), so that one byte string has exactly one text form.
 */
export function fromBase64 (text: string): Uint8Array | undefined {
  if (text.length % 4 !== 0) return undefined
  const pad = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0
  const body = text.length - pad
  const out = new Uint8Array((text.length / 4) * 3 - pad)
  let acc = 0
  let bits = 0
  let o = 0
  for (let i = 0; i < body; i++) {
    const v = B64_INDEX.get(text[i] as string)
    if (v === undefined) return undefined
    acc = ((acc << 6) | v) & 0xffffff
    bits += 6
    if (bits >= 8) {
      bits -= 8
      out[o++] = (acc >> bits) & 0xff
    }
  }
  // Leftover bits (2 with one '=' pad... 4 with two) must be zero in canonical base64.
  if ((acc & ((1 << bits) - 1)) !== 0) return undefined
  return o === out.length ? out : undefined
}

const encoder = new TextEncoder()
// Made at first use (a process that bundles this module without decoding then constructs none).
let strictDecoder: InstanceType<typeof TextDecoder> | undefined

export function utf8 (text: string): Uint8Array {
  return encoder.encode(text)
}

/** Decode UTF-8, or undefined when the bytes are not valid UTF-8. */
export function fromUtf8 (bytes: Uint8Array): string | undefined {
  try {
    return (strictDecoder ??= new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })).decode(bytes)
  } catch {
    return undefined
  }
}

export function concatBytes (...parts: Uint8Array[]): Uint8Array {
  let n = 0
  for (const p of parts) n += p.length
  const out = new Uint8Array(n)
  let pos = 0
  for (const p of parts) { out.set(p, pos); pos += p.length }
  return out
}

export function equalBytes (a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number)
  return diff === 0
}

export function u32be (n: number): Uint8Array {
  return Uint8Array.of((n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff)
}

/** Big-endian u64 of a safe non-negative integer. */
export function u64be (n: number): Uint8Array {
  const out = new Uint8Array(8)
  new DataView(out.buffer).setBigUint64(0, BigInt(n))
  return out
}

/** Canonical decimal of a non-negative safe integer ("0", "17"; no sign, no leading zeros). */
export function parseCount (text: string): number | undefined {
  if (!/^(0|[1-9][0-9]{0,15})$/.test(text)) return undefined
  const n = Number(text)
  return Number.isSafeInteger(n) ? n : undefined
}
