/**
 * SHA-256 (FIPS 180-4) in plain JavaScript, for a key id: the SHA-256 of a 91-byte SPKI. The
 * commands that only list keys (`status`, `mykeys`) need nothing else from node:crypto, and
 * loading it costs more than a whole `status` spends on its own work (~190 fresh pages of memory,
 * ~7 M instructions; docs/performance/startup.md, "Session 8: start-up"); hashing 91 bytes here costs
 * microseconds. node:crypto stays the hash of everything else (blocks, files, leaves).
 */
import { SHA256_IV, SHA256_K } from './sha256-constants.js'

const K = Uint32Array.from(SHA256_K)

/** Inputs up to this many bytes (key ids, with room to spare); anything longer goes to node:crypto. */
export const SHA256_JS_MAX = 1024

/** Hex SHA-256 of `data` (at most SHA256_JS_MAX bytes). */
export function sha256HexJs (data: Uint8Array): string {
  if (data.length > SHA256_JS_MAX) throw new RangeError(`sha256HexJs takes at most ${SHA256_JS_MAX} bytes`)
  // The message, its 0x80 byte, zeros, and its length in bits (big-endian) in whole 64-byte blocks.
  const blocks = Math.ceil((data.length + 9) / 64)
  const m = new Uint8Array(blocks * 64)
  m.set(data)
  m[data.length] = 0x80
  const view = new DataView(m.buffer)
  view.setUint32(m.length - 4, data.length * 8)
  const h = Uint32Array.from(SHA256_IV)
  const w = new Uint32Array(64)
  // Rotations written out: a small helper called ~1,000 times per hash got optimised by TurboFan,
  // whose first compilation in a process costs ~140 fresh pages (more than node:crypto's load).
  for (let b = 0; b < blocks; b++) {
    for (let i = 0; i < 16; i++) w[i] = view.getUint32(b * 64 + i * 4)
    for (let i = 16; i < 64; i++) {
      const x = w[i - 15] ?? 0
      const y = w[i - 2] ?? 0
      const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3)
      const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10)
      w[i] = (w[i - 16] ?? 0) + s0 + (w[i - 7] ?? 0) + s1
    }
    let a = h[0] ?? 0
    let bb = h[1] ?? 0
    let c = h[2] ?? 0
    let d = h[3] ?? 0
    let e = h[4] ?? 0
    let f = h[5] ?? 0
    let g = h[6] ?? 0
    let hh = h[7] ?? 0
    for (let i = 0; i < 64; i++) {
      const t1 = (hh + (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))) + ((e & f) ^ (~e & g)) + (K[i] ?? 0) + (w[i] ?? 0)) >>> 0
      const t2 = ((((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) + ((a & bb) ^ (a & c) ^ (bb & c))) >>> 0
      hh = g
      g = f
      f = e
      e = (d + t1) >>> 0
      d = c
      c = bb
      bb = a
      a = (t1 + t2) >>> 0
    }
    h[0] = (h[0] ?? 0) + a
    h[1] = (h[1] ?? 0) + bb
    h[2] = (h[2] ?? 0) + c
    h[3] = (h[3] ?? 0) + d
    h[4] = (h[4] ?? 0) + e
    h[5] = (h[5] ?? 0) + f
    h[6] = (h[6] ?? 0) + g
    h[7] = (h[7] ?? 0) + hh
  }
  let hex = ''
  for (const x of h) hex += x.toString(16).padStart(8, '0')
  return hex
}
