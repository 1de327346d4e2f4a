// The WebAssembly SHA-256 and MerkleBatch against node:crypto and MerkleBuilder where a review
// looked for edges: every length 0…300 (one to six blocks, padding crossing the 56-byte mark),
// runs of equal lengths (the four-lane path) mixed with odd ones, megabyte messages, and trees
// whose size crosses the batch (4096) and worker-chunk (2^14) boundaries.
import { describe, expect, it } from 'vitest'
import { createHash } from 'node:crypto'
import { leafHash, MerkleBatch, MerkleBuilder } from '../../../src/crypto/index.js'
import { padMessage, paddedSize, sha256Wasm, SHA256_WASM_FREE } from '../../../src/crypto/sha256-wasm.js'
import { toHex } from '../../../src/util/index.js'

/** Deterministic bytes (xorshift), so a failure reproduces. */
function bytes (n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n)
  let x = (seed * 2654435761) >>> 0 || 1
  for (let i = 0; i < n; i++) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; b[i] = x & 0xff }
  return b
}

/** Lengths of the messages whose digest from `leaves` (all in one call) is not node:crypto's. */
function wrongLengths (msgs: Buffer[]): number[] {
  const w = sha256Wasm()
  const out = SHA256_WASM_FREE
  const start = out + 32 * msgs.length
  const need = start + msgs.reduce((s, m) => s + paddedSize(m.length), 0)
  w.memory.grow(Math.ceil(Math.max(0, need - w.memory.buffer.byteLength) / 65536))
  const mem = Buffer.from(w.memory.buffer)
  const view = new DataView(w.memory.buffer)
  let at = start
  for (const m of msgs) { mem.set(m, at + 4); at = padMessage(mem, view, at, m.length) }
  w.leaves(start, msgs.length, out)
  return msgs.filter((m, i) => toHex(mem.subarray(out + 32 * i, out + 32 * i + 32)) !== createHash('sha256').update(m).digest('hex')).map(m => m.length)
}

describe('SHA-256 in WebAssembly, review edges', () => {
  it('equals node:crypto on lengths 0…300, each four times in a row and once alone, and on long messages', () => {
    const lengths: number[] = []
    for (let n = 0; n <= 300; n++) lengths.push(n, n, n, n, 300 - n)
    lengths.push(1 << 20, (1 << 20) + 55, 100_003)
    const msgs = lengths.map((n, i) => bytes(n, i + 1))
    expect(wrongLengths(msgs)).toEqual([])
  })

  it('equals node:crypto on random lengths up to 10,000 bytes, block boundaries included, alone, four of a length in a row and four of different lengths', () => {
    let x = 12345
    const rand = (n: number): number => { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; return (x >>> 0) % n }
    const lengths: number[] = [55, 56, 63, 64, 119, 120, 127, 128]
    // Four in a row of different block counts: hashed together for as many blocks as the longest
    // (each lane's digest taken at its own end), or the first alone when that wastes over half.
    for (const counts of [[1, 2, 2, 1], [3, 1, 2, 2], [8, 7, 9, 8], [2, 2, 2, 1], [1, 1, 1, 4], [4, 1, 1, 1], [1, 5, 5, 5], [2, 1, 3, 2]]) {
      for (const c of counts) lengths.push(Math.max(0, 64 * c - 9 - rand(50)))
    }
    for (let i = 0; i < 120; i++) {
      const n = rand(10_001)
      // Runs of four equal lengths take the four-lane path; the odd one the scalar one.
      if (i % 3 === 0) lengths.push(n, n, n, n)
      else lengths.push(n)
    }
    const msgs = lengths.map((n, i) => bytes(n, 1000 + i))
    expect(wrongLengths(msgs)).toEqual([])
  })

  it('hashes interior nodes whose right digest ends in each of the 256 byte values (the second block comes from a table)', () => {
    const w = sha256Wasm()
    const n = 256 + 3 // four at a time, then three alone
    w.memory.grow(Math.ceil(Math.max(0, SHA256_WASM_FREE + 64 * n - w.memory.buffer.byteLength) / 65536))
    const mem = Buffer.from(w.memory.buffer)
    const pairs = bytes(64 * n, 77)
    for (let i = 0; i < n; i++) pairs[64 * i + 63] = (i * 101) & 0xff
    mem.set(pairs, SHA256_WASM_FREE)
    w.pairs(SHA256_WASM_FREE, n, SHA256_WASM_FREE)
    const bad: number[] = []
    for (let i = 0; i < n; i++) {
      const expected = createHash('sha256').update(Buffer.from([1])).update(pairs.subarray(64 * i, 64 * i + 64)).digest('hex')
      if (toHex(mem.subarray(SHA256_WASM_FREE + 32 * i, SHA256_WASM_FREE + 32 * i + 32)) !== expected) bad.push(i)
    }
    expect(bad).toEqual([])
  })

  it('reads pairs in place whatever the byte before them, at unaligned addresses, into another area, four at a time and alone', () => {
    const w = sha256Wasm()
    w.memory.grow(1)
    const mem = Buffer.from(w.memory.buffer)
    for (const n of [1, 2, 3, 4, 5, 6, 7, 8, 13]) {
      for (const [inAt, outAt] of [[SHA256_WASM_FREE + 4097, SHA256_WASM_FREE + 3], [SHA256_WASM_FREE + 1, SHA256_WASM_FREE + 2048]] as const) {
        const pairs = bytes(64 * n, 500 + n)
        mem.set(pairs, inAt)
        // The byte before the first pair (each later one's is the pair before's last): never 0x01 here.
        mem[inAt - 1] = 0xff
        w.pairs(inAt, n, outAt)
        const bad: number[] = []
        for (let i = 0; i < n; i++) {
          const expected = createHash('sha256').update(Buffer.from([1])).update(pairs.subarray(64 * i, 64 * i + 64)).digest('hex')
          if (toHex(mem.subarray(outAt + 32 * i, outAt + 32 * i + 32)) !== expected) bad.push(i)
        }
        expect(bad, `${n} pairs at ${inAt}`).toEqual([])
      }
    }
  })
})

describe('MerkleBatch, review edges', () => {
  it('gives MerkleBuilder\'s root around batch and chunk boundaries, and with leaves over the flush size', () => {
    const cases: Array<[number, (i: number) => number]> = [
      ...[1023, 1024, 1025, 4095, 4096, 4097, 16383, 16384, 16385].map((n): [number, (i: number) => number] => [n, i => (i * 13) % 90]),
      [3, i => (1 << 20) + i * 100],
      [1500, i => (i === 700 ? 3 << 20 : 60)]
    ]
    for (const [n, len] of cases) {
      const ref = new MerkleBuilder()
      const batch = new MerkleBatch()
      for (let i = 0; i < n; i++) {
        const d = bytes(len(i), i + n)
        ref.push(leafHash(d))
        const at = batch.begin(d.length + 1)
        batch.bytes[at] = 0x00
        batch.bytes.set(d, at + 1)
        batch.commit(d.length + 1)
      }
      expect(toHex(batch.root()), `${n} leaves`).toBe(toHex(ref.root()))
    }
  })
})
