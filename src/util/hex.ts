const HEX_RE = /^(?:[0-9a-f]{2})*$/

/** Lower-case hex of bytes. */
export function toHex (bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
}

/** Strict hex decoding: lower-case, even length, nothing else. Returns undefined on bad input. */
export function fromHex (hex: string): Uint8Array | undefined {
  if (!HEX_RE.test(hex)) return undefined
  return new Uint8Array(Buffer.from(hex, 'hex'))
}

/** True when fromHex would decode it (lower-case, even length), without decoding it. */
export function isHex (value: string): boolean {
  return HEX_RE.test(value)
}

/** True for a 64-digit lower-case hex string (a SHA-256 digest). */
export function isHash (value: unknown): value is string {
  return typeof value === 'string' && value.length === 64 && HEX_RE.test(value)
}

export function equalBytes (a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false
  return true
}

// A hex digit's value by character code (-1: not a lower-case hex digit).
const DIGIT = new Int8Array(128).fill(-1)
for (let i = 0; i < 16; i++) DIGIT['0123456789abcdef'.charCodeAt(i)] = i

/**
 * fromHex into `into` instead of a new array: the number of bytes written, or -1 when fromHex
 * would refuse `hex` or it does not fit. For hot paths that use the bytes at once and keep nothing
 * (a signature checked per block): no regular expression, no allocation.
 */
export function hexInto (hex: string, into: Uint8Array): number {
  const n = hex.length >> 1
  if ((hex.length & 1) !== 0 || n > into.length) return -1
  for (let i = 0; i < n; i++) {
    const hi = DIGIT[hex.charCodeAt(2 * i)] ?? -1
    const lo = DIGIT[hex.charCodeAt(2 * i + 1)] ?? -1
    if (hi < 0 || lo < 0) return -1
    into[i] = (hi << 4) | lo
  }
  return n
}
