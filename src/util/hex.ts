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
