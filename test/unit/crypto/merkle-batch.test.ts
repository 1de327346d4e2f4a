import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { createHash } from 'node:crypto'
import { leafHash, MerkleBatch, MerkleBuilder } from '../../../src/crypto/index.js'
import { padMessage, paddedSize, sha256Wasm, SHA256_WASM_FREE } from '../../../src/crypto/sha256-wasm.js'
import { toHex } from '../../../src/util/index.js'

const bytes = (n: number, seed: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed * 7) & 0xff))

describe('SHA-256 in WebAssembly', () => {
  it('equals node:crypto on every message length around the block boundaries', () => {
    const w = sha256Wasm()
    w.memory.grow(1)
    const mem = Buffer.from(w.memory.buffer)
    const view = new DataView(w.memory.buffer)
    const lengths = Array.from({ length: 200 }, (_, i) => i)
    let at = SHA256_WASM_FREE + 32 * lengths.length
    const start = at
    for (const n of lengths) {
      mem.set(bytes(n, n), at + 4)
      const end = padMessage(mem, view, at, n)
      expect(end - at).toBe(paddedSize(n))
      at = end
    }
    w.leaves(start, lengths.length, SHA256_WASM_FREE)
    for (const n of lengths) {
      const got = toHex(mem.subarray(SHA256_WASM_FREE + 32 * n, SHA256_WASM_FREE + 32 * n + 32))
      expect(got, `length ${n}`).toBe(createHash('sha256').update(bytes(n, n)).digest('hex'))
    }
  })

  it('hashes RFC 6962 interior nodes of digest pairs, in place, four at a time and the rest one by one', () => {
    const w = sha256Wasm()
    const mem = Buffer.from(w.memory.buffer)
    const data = bytes(64 * 11, 5)
    mem.set(data, SHA256_WASM_FREE)
    w.pairs(SHA256_WASM_FREE, 11, SHA256_WASM_FREE)
    for (let i = 0; i < 11; i++) {
      const expected = createHash('sha256').update(Buffer.from([1])).update(data.subarray(64 * i, 64 * i + 64)).digest('hex')
      expect(toHex(mem.subarray(SHA256_WASM_FREE + 32 * i, SHA256_WASM_FREE + 32 * i + 32)), `pair ${i}`).toBe(expected)
    }
  })
})

describe('MerkleBatch (the WebAssembly fallback: sha256-native.test.ts has the native hasher\'s)', () => {
  beforeAll(() => { vi.stubEnv('PETAL_NATIVE_SHA256', '0') })
  afterAll(() => { vi.unstubAllEnvs() })

  it('gives the root of MerkleBuilder for every tree size across batch and flush boundaries', () => {
    // The small sizes twice: before and after this thread has a WebAssembly instance left by a
    // finished batch (a batch then hashes there from its first leaf).
    for (const n of [0, 1, 2, 3, 7, 100, 4095, 4096, 4097, 8193, 0, 1, 2, 7, 100]) {
      const ref = new MerkleBuilder()
      const batch = new MerkleBatch()
      if (n === 8193) expect(batch.inWasm).toBe(true)
      for (let i = 0; i < n; i++) {
        // Lengths up to 700 bytes: a flush by size happens before 4096 leaves.
        const data = bytes((i * 37) % 700, i)
        ref.push(leafHash(data))
        const at = batch.begin(data.length + 1)
        batch.bytes[at] = 0x00
        batch.bytes.set(data, at + 1)
        batch.commit(data.length + 1)
      }
      expect(batch.size).toBe(n)
      expect(toHex(batch.root()), `${n} leaves`).toBe(toHex(ref.root()))
    }
  })

  it('gives the same root when small first batches are hashed with node:crypto and later ones in WebAssembly', () => {
    const ref = new MerkleBuilder()
    const batch = new MerkleBatch()
    // 600 leaves of 2 KB: the first flush (by size) holds fewer than 1024 leaves; then 5000 small ones.
    for (let i = 0; i < 5600; i++) {
      const data = bytes(i < 600 ? 2000 : 40, i)
      ref.push(leafHash(data))
      const at = batch.begin(data.length + 1)
      batch.bytes[at] = 0x00
      batch.bytes.set(data, at + 1)
      batch.commit(data.length + 1)
    }
    expect(toHex(batch.root())).toBe(toHex(ref.root()))
  })

  it('takes a leaf larger than its flush size', () => {
    const data = bytes(3 << 20, 9)
    const batch = new MerkleBatch()
    const at = batch.begin(data.length + 1)
    batch.bytes[at] = 0
    batch.bytes.set(data, at + 1)
    batch.commit(data.length + 1)
    expect(toHex(batch.root())).toBe(toHex(leafHash(data)))
  })

  it('reuses one buffer from table to table before WebAssembly is in use, whatever the earlier tables left in it', async () => {
    // A fresh module: no WebAssembly instance yet in this thread (an earlier test leaves one).
    vi.resetModules()
    const { MerkleBatch: Fresh } = await import('../../../src/crypto/merkle-batch.js')
    const push = (batch: InstanceType<typeof Fresh>, ref: MerkleBuilder, data: Buffer): void => {
      ref.push(leafHash(data))
      const at = batch.begin(data.length + 1)
      batch.bytes[at] = 0x00
      batch.bytes.set(data, at + 1)
      batch.commit(data.length + 1)
    }
    // Large leaves first (the buffer grows past its flush size, by size, with fewer than 1024
    // leaves: node:crypto), then smaller tables written over the bytes the larger ones left,
    // one abandoned before its root, then a large one again.
    for (const [n, len] of [[900, 1500], [3, 5], [0, 0], [700, 2000], [-1, 900], [10, 300], [1000, 1100]] as const) {
      const ref = new MerkleBuilder()
      const batch = new Fresh()
      for (let i = 0; i < Math.abs(n); i++) push(batch, ref, bytes(len - (i % 7), i + len))
      if (n < 0) continue
      expect(batch.inWasm).toBe(false)
      expect(toHex(batch.root()), `${n} leaves of about ${len} bytes`).toBe(toHex(ref.root()))
    }
  })
  it('moves a thread that has hashed many small tables with node:crypto to WebAssembly, with the same roots', async () => {
    vi.resetModules()
    const { MerkleBatch: Fresh } = await import('../../../src/crypto/merkle-batch.js')
    // Tables of 1,000 leaves of ~1 KB (the pull bench's 1 MB blocks) and, every fourth, of 1, 2 or
    // 5: node:crypto while the thread has hashed fewer than 32,768 leaves that way; the table that
    // finds it past that is moved to WebAssembly by its own flush, and every later one starts there.
    let counted = 0
    let moved = -1
    for (let t = 0; t < 48; t++) {
      const n = t % 4 === 3 ? [1, 2, 5][t % 3] ?? 1 : 1000
      const ref = new MerkleBuilder()
      const batch = new Fresh()
      expect(batch.inWasm, `table ${t}`).toBe(moved >= 0)
      for (let i = 0; i < n; i++) {
        const data = bytes(1000 + (i % 19), i + t)
        ref.push(leafHash(data))
        const at = batch.begin(data.length + 1)
        batch.bytes[at] = 0x00
        batch.bytes.set(data, at + 1)
        batch.commit(data.length + 1)
      }
      expect(toHex(batch.root()), `table ${t}`).toBe(toHex(ref.root()))
      if (moved < 0 && counted >= 32768) moved = t
      else if (moved < 0) counted += n
    }
    expect(moved).toBeGreaterThan(30)
  })
})
