// SHA-256 and the RFC 6962 hashes. Hashing is in plain JavaScript (FIPS 180-4), synchronous: a
// proof hashes a few dozen inputs of under a few hundred bytes, and each WebCrypto digest is a
// round trip to another thread that costs more than the hash (3.1 ms → under 1 ms per row proof).
// Signatures still go through WebCrypto (globalThis.crypto.subtle), which Node 20 and every
// browser provide: one code path for the CLI and the explorer.
import { concatBytes } from './bytes.js'

const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
])
const W = new Uint32Array(64)

/** SHA-256 of `data`, synchronously. */
export function sha256Sync (data: Uint8Array): Uint8Array {
  const bitLen = data.length * 8
  const padded = new Uint8Array(Math.ceil((data.length + 9) / 64) * 64)
  padded.set(data)
  padded[data.length] = 0x80
  const view = new DataView(padded.buffer)
  view.setUint32(padded.length - 8, Math.floor(bitLen / 2 ** 32))
  view.setUint32(padded.length - 4, bitLen >>> 0)
  let h0 = 0x6a09e667; let h1 = 0xbb67ae85; let h2 = 0x3c6ef372; let h3 = 0xa54ff53a
  let h4 = 0x510e527f; let h5 = 0x9b05688c; let h6 = 0x1f83d9ab; let h7 = 0x5be0cd19
  for (let off = 0; off < padded.length; off += 64) {
    for (let i = 0; i < 16; i++) W[i] = view.getUint32(off + i * 4)
    for (let i = 16; i < 64; i++) {
      const a = W[i - 15] as number
      const b = W[i - 2] as number
      const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3)
      const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10)
      W[i] = ((W[i - 16] as number) + s0 + (W[i - 7] as number) + s1) | 0
    }
    let a = h0; let b = h1; let c = h2; let d = h3; let e = h4; let f = h5; let g = h6; let h = h7
    for (let i = 0; i < 64; i++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))
      const t1 = (h + S1 + ((e & f) ^ (~e & g)) + (K[i] as number) + (W[i] as number)) | 0
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))
      const t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0
      h = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0
    }
    h0 = (h0 + a) | 0; h1 = (h1 + b) | 0; h2 = (h2 + c) | 0; h3 = (h3 + d) | 0
    h4 = (h4 + e) | 0; h5 = (h5 + f) | 0; h6 = (h6 + g) | 0; h7 = (h7 + h) | 0
  }
  const out = new Uint8Array(32)
  const ov = new DataView(out.buffer)
  for (const [i, v] of [h0, h1, h2, h3, h4, h5, h6, h7].entries()) ov.setUint32(i * 4, v >>> 0)
  return out
}

type Subtle = (typeof globalThis.crypto)['subtle']

function subtle (): Subtle {
  const s = globalThis.crypto?.subtle
  if (s === undefined) throw new Error('WebCrypto (crypto.subtle) is not available: a browser needs a secure context (https or localhost)')
  return s
}

/** A copy in a fresh ArrayBuffer: what WebCrypto's BufferSource typing asks for. */
export function own (bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(bytes.length)
  out.set(bytes)
  return out
}

export { subtle as webCrypto }

export async function sha256 (data: Uint8Array): Promise<Uint8Array> {
  return sha256Sync(data)
}

const LEAF = Uint8Array.of(0x00)
const NODE = Uint8Array.of(0x01)

/** RFC 6962 leaf hash: SHA-256(0x00 ‖ data). */
export async function leafHash (data: Uint8Array): Promise<Uint8Array> {
  return await sha256(concatBytes(LEAF, data))
}

/** RFC 6962 interior node: SHA-256(0x01 ‖ left ‖ right). */
export async function nodeHash (left: Uint8Array, right: Uint8Array): Promise<Uint8Array> {
  return await sha256(concatBytes(NODE, left, right))
}
