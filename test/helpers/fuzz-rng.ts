// A seeded generator and byte-level mutants shared by the hostile-bytes fuzzes (wire-fuzz.ts,
// records-fuzz.ts): a failure replays from its seed and mutant index.

export interface Rng {
  /** 0 … n−1 */
  int: (n: number) => number
}

/** xorshift32 (never seeded with 0). */
export function rng (seed: number): Rng {
  let x = (seed >>> 0) || 0x9e3779b9
  for (let i = 0; i < 4; i++) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5 }
  return {
    int: n => {
      x ^= x << 13; x ^= x >>> 17; x ^= x << 5
      // two draws for ranges beyond 2^32 (sizes up to 2^53)
      return n > 2 ** 32 ? Math.floor(((x >>> 0) * 2 ** 21 + ((x >>> 0) & 0x1fffff)) % n) : (x >>> 0) % n
    }
  }
}

/** Bytes that are not UTF-8: a lone continuation, a bad lead, an overlong NUL, a surrogate, beyond U+10FFFF, a cut sequence. */
const NOT_UTF8 = [[0x80], [0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xed, 0xbf, 0xbf], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82], [0xf0, 0x9f, 0x98]]
/** Bytes that are: NUL, a BOM, U+2028, an emoji, a combining mark. */
const ODD_UTF8 = [[0x00], [0xef, 0xbb, 0xbf], [0xe2, 0x80, 0xa8], [0xf0, 0x9f, 0x98, 0x80], [0xcc, 0x81]]

function splice (b: Uint8Array, at: number, removing: number, insert: ArrayLike<number>): Uint8Array {
  const remove = Math.min(removing, b.length - at)
  const out = new Uint8Array(b.length - remove + insert.length)
  out.set(b.subarray(0, at), 0)
  out.set(insert, at)
  out.set(b.subarray(at + remove), at + insert.length)
  return out
}

export const BYTE_MUTANTS = ['truncate', 'bitflip', 'byte', 'delete', 'duplicate', 'not-utf8', 'odd-utf8', 'bom', 'oversize'] as const
export type ByteMutant = typeof BYTE_MUTANTS[number]

/** One byte-level mutant of `b`; `limit` is the message's size limit (for `oversize`). */
export function bytesMutants (r: Rng, b: Uint8Array, limit: number): { what: ByteMutant, bytes: Uint8Array } {
  const what = BYTE_MUTANTS[r.int(BYTE_MUTANTS.length)] as ByteMutant
  const at = r.int(b.length + 1)
  switch (what) {
    case 'truncate': return { what, bytes: b.slice(0, at) }
    case 'bitflip': {
      const out = b.slice()
      if (out.length > 0) { const i = r.int(out.length); out[i] = (out[i] as number) ^ (1 << r.int(8)) }
      return { what, bytes: out }
    }
    case 'byte': return { what, bytes: splice(b, at, r.int(2), [r.int(256)]) }
    case 'delete': return { what, bytes: splice(b, at, 1 + r.int(8), []) }
    case 'duplicate': { const n = r.int(Math.min(64, b.length - at) + 1); return { what, bytes: splice(b, at, 0, b.slice(at, at + n)) } }
    case 'not-utf8': return { what, bytes: splice(b, at, r.int(2), NOT_UTF8[r.int(NOT_UTF8.length)] as number[]) }
    case 'odd-utf8': return { what, bytes: splice(b, at, 0, ODD_UTF8[r.int(ODD_UTF8.length)] as number[]) }
    case 'bom': return { what, bytes: splice(b, 0, 0, [0xef, 0xbb, 0xbf]) }
    case 'oversize': {
      // Trailing JSON whitespace up to just over (or just within) the limit.
      const target = Math.max(b.length, limit + (r.int(2) === 0 ? 1 : 0))
      const out = new Uint8Array(target).fill(0x20)
      out.set(b, 0)
      return { what, bytes: out }
    }
  }
}
