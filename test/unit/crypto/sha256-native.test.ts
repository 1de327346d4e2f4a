// The native batched SHA-256 (src/crypto/native/sha256-batch.c via sha256-native.ts): the same
// digests as node:crypto and the WebAssembly module on messages of every length around the block
// boundaries, the same interior nodes, the same Merkle roots through MerkleBatch; its bounds
// checks; the fallback to WebAssembly when it is turned off; and that the manifest uses it whenever
// `npm run build` built it (fast-rows.test.ts runs every random table and fixture with each hasher).
import { afterEach, describe, expect, it, vi } from 'vitest'
import Database from 'better-sqlite3'
import { createHash } from 'node:crypto'
import { spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import { leafHash, MerkleBatch, MerkleBuilder, merkleHasher, nativeSha256, type NativeSha256 } from '../../../src/crypto/index.js'
import { loadNativeSha256, nativeSha256Path } from '../../../src/crypto/sha256-native.js'
import { padMessage, sha256Wasm, SHA256_WASM_FREE } from '../../../src/crypto/sha256-wasm.js'
import { inspectSchema, openBlockReadonly, tableRoot } from '../../../src/block/index.js'
import { fastTableRoot, planFastTable } from '../../../src/block/fast-rows.js'
import { toHex } from '../../../src/util/index.js'
import { nativeAddon, nativeBuild } from '../../helpers/native-build.js'
import { tmpDir } from '../../helpers/tmp.js'

const bytes = (n: number, seed: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed * 7 + (i >> 8)) & 0xff))
const built = nativeBuild()

/** The native hasher as Petal uses it (only when built, on a CPU with SHA-256 instructions). */
function native (): NativeSha256 {
  const h = nativeSha256()
  if (h === undefined) throw new Error(`native SHA-256 built but not loaded: ${merkleHasher().why}`)
  return h
}

/** The addon itself, whatever the CPU: its digests and checks do not depend on it. */
const addon = (): NativeSha256 => nativeAddon()

/** `msgs` framed one after another from `at` in `mem`; returns the offset after them. */
function frame (mem: Buffer, at: number, msgs: Buffer[]): number {
  const view = new DataView(mem.buffer, mem.byteOffset, mem.byteLength)
  for (const m of msgs) {
    mem.set(m, at + 4)
    at = padMessage(mem, view, at, m.length)
  }
  return at
}

const LENGTHS = [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000, 1019, 4095, 4096, 65537, 300_000]

afterEach(() => { vi.unstubAllEnvs() })

describe.skipIf(!built.built)('native batched SHA-256', () => {
  it('gives node:crypto\'s and the WebAssembly module\'s digests for every length around the block boundaries and multi-block messages', () => {
    const msgs = [...Array.from({ length: 200 }, (_, n) => bytes(n, n)), ...LENGTHS.map((n, i) => bytes(n, i + 500))]
    const w = sha256Wasm()
    const IN = SHA256_WASM_FREE + 32 * msgs.length
    const size = msgs.reduce((a, m) => a + m.length + 72, 0)
    w.memory.grow(Math.ceil((IN + size + 65536 - w.memory.buffer.byteLength) / 65536))
    const mem = Buffer.from(w.memory.buffer)
    frame(mem, IN, msgs)
    const expected = msgs.map(m => createHash('sha256').update(m).digest('hex'))
    // In the WebAssembly memory (as MerkleBatch uses it after the leaf encoder) and in a plain buffer.
    addon().leaves(mem, IN, msgs.length, SHA256_WASM_FREE)
    const got = msgs.map((_, i) => toHex(mem.subarray(SHA256_WASM_FREE + 32 * i, SHA256_WASM_FREE + 32 * i + 32)))
    expect(got).toEqual(expected)
    w.leaves(IN, msgs.length, SHA256_WASM_FREE)
    expect(msgs.map((_, i) => toHex(mem.subarray(SHA256_WASM_FREE + 32 * i, SHA256_WASM_FREE + 32 * i + 32)))).toEqual(expected)
    const plain = Buffer.alloc(64 + size)
    frame(plain, 64, msgs.slice(190))
    const out = Buffer.alloc(32 * (msgs.length - 190))
    const both = Buffer.concat([plain, out])
    addon().leaves(both, 64, msgs.length - 190, plain.length)
    expect(msgs.slice(190).map((_, i) => toHex(both.subarray(plain.length + 32 * i, plain.length + 32 * i + 32)))).toEqual(expected.slice(190))
  })

  it('hashes RFC 6962 interior nodes in place and elsewhere, at any offset, as node:crypto does', () => {
    for (const [n, at] of [[0, 0], [1, 0], [4, 3], [11, 7], [1000, 1]] as const) {
      const data = bytes(64 * n, n)
      const buf = Buffer.alloc(at + 64 * n + 32 * n + 1)
      data.copy(buf, at)
      const expected = Array.from({ length: n }, (_, i) => createHash('sha256').update(Buffer.from([1])).update(data.subarray(64 * i, 64 * i + 64)).digest('hex'))
      const other = at + 64 * n
      addon().pairs(buf, at, n, other)
      expect(Array.from({ length: n }, (_, i) => toHex(buf.subarray(other + 32 * i, other + 32 * i + 32))), `${n} pairs elsewhere`).toEqual(expected)
      addon().pairs(buf, at, n, at)
      expect(Array.from({ length: n }, (_, i) => toHex(buf.subarray(at + 32 * i, at + 32 * i + 32))), `${n} pairs in place`).toEqual(expected)
    }
  })

  it('refuses offsets and counts past its buffer or not integers, without writing', () => {
    const buf = Buffer.alloc(256)
    frame(buf, 0, [bytes(100, 1)])
    const before = Buffer.from(buf)
    const h = addon()
    expect(() => { h.leaves(buf, 0, 1, 240) }).toThrow(RangeError)
    expect(() => { h.leaves(buf, 0, 2, 200) }).toThrow(RangeError)
    expect(() => { h.leaves(buf, 250, 1, 0) }).toThrow(RangeError)
    expect(() => { h.leaves(buf.subarray(0, 131), 0, 1, 0) }).toThrow(RangeError)
    expect(() => { h.pairs(buf, 200, 1, 0) }).toThrow(RangeError)
    expect(() => { h.pairs(buf, 0, 5, 0) }).toThrow(RangeError)
    expect(() => { h.pairs(buf, 0, 4, 129) }).toThrow(RangeError)
    expect(() => { h.pairs(buf, -1, 1, 0) }).toThrow(RangeError)
    expect(() => { h.pairs(buf, 0.5, 1, 0) }).toThrow(RangeError)
    expect(() => { h.leaves(new Uint16Array(8) as unknown as Uint8Array, 0, 0, 0) }).toThrow(TypeError)
    // The one refused before anything was written: a message past the end found after a digest is
    // the only case that writes (the digests before it), and the first call above has none.
    expect(buf.subarray(0, 240).equals(before.subarray(0, 240))).toBe(true)
    const zero = Buffer.alloc(68)
    expect(() => { h.leaves(zero, 0, 1, 0) }).toThrow(RangeError)
  })

  it('refuses a count over an empty or detached buffer (a WebAssembly memory\'s old view after grow()), instead of returning with no digest written', () => {
    const h = addon()
    const ab = new ArrayBuffer(256)
    const view = new Uint8Array(ab)
    structuredClone(ab, { transfer: [ab] }) // detaches it, as WebAssembly.Memory's grow() does its old buffer
    expect(view.length).toBe(0)
    for (const buf of [view, new Uint8Array(0), Buffer.alloc(0)]) {
      expect(() => { h.leaves(buf, 0, 1, 0) }).toThrow(RangeError)
      expect(() => { h.pairs(buf, 0, 1, 0) }).toThrow(RangeError)
      // Nothing to hash is no error.
      h.leaves(buf, 0, 0, 0)
      h.pairs(buf, 0, 0, 0)
    }
  })

  it.skipIf(!built.accelerated)('gives MerkleBuilder\'s root through MerkleBatch for every tree size, in a plain buffer and in WebAssembly memory', () => {
    const leaves = vi.spyOn(native(), 'leaves')
    let hashed = 0
    for (const n of [0, 1, 2, 3, 7, 100, 1023, 1024, 4095, 4096, 4097, 8193]) {
      for (const memory of [false, true]) {
        const ref = new MerkleBuilder()
        const batch = new MerkleBatch()
        if (memory) batch.wasmMemory()
        for (let i = 0; i < n; i++) {
          const data = bytes((i * 37) % 700, i)
          ref.push(leafHash(data))
          const at = batch.begin(data.length + 1)
          batch.bytes[at] = 0x00
          batch.bytes.set(data, at + 1)
          batch.commit(data.length + 1)
        }
        if (memory) expect(batch.inWasm).toBe(true)
        expect(toHex(batch.root()), `${n} leaves, memory ${String(memory)}`).toBe(toHex(ref.root()))
        hashed += n
      }
    }
    expect(leaves.mock.calls.reduce((a, c) => a + (c[2] ?? 0), 0)).toBe(hashed)
    leaves.mockRestore()
  })

  /** sha256-batch.c with the hashing core it includes (sha256-core.c, shared with the row walker) in place, so one text holds what the variants change. */
  const batchSource = (): string => {
    const dir = join(import.meta.dirname, '..', '..', '..', 'src', 'crypto', 'native')
    return readFileSync(join(dir, 'sha256-batch.c'), 'utf8').replace('#include "sha256-core.c"', readFileSync(join(dir, 'sha256-core.c'), 'utf8'))
  }

  // An addon at the path that is not this source's (a stale build, a foreign file) must not be
  // used when either function hashes wrong: compiled here from the source with one change each.
  it.skipIf(!built.accelerated)('refuses an addon whose leaves or pairs hash wrong, or whose pairs throws, at load', () => {
    const source = batchSource()
    const variant = (name: string, from: string, to: string): string => {
      expect(source.includes(from), from).toBe(true)
      const dir = tmpDir()
      writeFileSync(join(dir, `${name}.c`), source.replace(from, to))
      // -I: sha256-ni.c, which it includes, from the source tree.
      const r = spawnSync(built.cc ?? 'cc', ['-O2', '-std=c11', '-shared', '-fPIC', '-Wl,-z,now', '-I', built.include ?? '', '-I', join(import.meta.dirname, '..', '..', '..', 'src', 'crypto', 'native'), '-o', join(dir, `${name}.node`), join(dir, `${name}.c`)], { encoding: 'utf8' })
      expect(r.status, r.stderr).toBe(0)
      return join(dir, `${name}.node`)
    }
    expect(loadNativeSha256(nativeSha256Path()).hasher).toBeDefined()
    // Interior nodes without their 0x01 prefix: every leaf right, every root wrong.
    expect(loadNativeSha256(variant('pairs-prefix', 'm[0] = 0x01;', 'm[0] = 0x00;'))).toEqual({ hasher: undefined, why: 'wrong digest at load' })
    // A message's last byte left out.
    expect(loadNativeSha256(variant('leaves-short', 'SHA256_Update(&c, p, blocks * 64);', 'SHA256_Update(&c, p, blocks * 64 - 1);'))).toEqual({ hasher: undefined, why: 'wrong digest at load' })
    // `pairs` is `leaves` (another layout): it throws on the probe, which is no reason to fail the caller.
    expect(loadNativeSha256(variant('pairs-other', '{ "pairs", NULL, pairs,', '{ "pairs", NULL, leaves,'))).toEqual({ hasher: undefined, why: expect.stringMatching(/^not usable: .*past the end/) })
    // A CPU without SHA-256 instructions (CPUID's answer forced, review53): not used, so neither
    // OpenSSL's software SHA-256 nor the SHA-NI lanes run; the manifest hashes in WebAssembly.
    expect(loadNativeSha256(variant('no-sha', 'static bool sha_instructions (void)\n{', 'static bool sha_instructions (void)\n{\n  if (sizeof(int) > 0) return false;'))).toEqual({ hasher: undefined, why: expect.stringMatching(/^this CPU has no SHA-256 instructions/) })
  })

  // sha256-ni.c: four messages at a time with SHA-NI where the CPU has it (docs/performance/pull.md,
  // "Session 52: the manifest's leaves four at a time with SHA-NI (pull52)"); the digests above
  // (200 messages of 0-199 bytes, then longer ones: lanes of unequal lengths, counts not a multiple
  // of four) are the same either way. Lanes that hash wrong are turned off by the self-test at load.
  it.skipIf(!built.accelerated || process.arch !== 'x64')('hashes four messages at a time with SHA-NI, and falls back to one at a time when the lanes disagree with OpenSSL at load', () => {
    expect(nativeAddon().lanes).toBe(4)
    const source = batchSource()
    const from = '#include "sha256-ni.c"'
    expect(source.includes(from)).toBe(true)
    const dir = tmpDir()
    // The second half of every group of rounds fed the wrong words: every lane's digest wrong.
    const ni = readFileSync(join(import.meta.dirname, '..', '..', '..', 'src', 'crypto', 'native', 'sha256-ni.c'), 'utf8')
    expect(ni.includes('_mm_shuffle_epi32(t, 0x0E)')).toBe(true)
    writeFileSync(join(dir, 'sha256-ni-wrong.c'), ni.replace('_mm_shuffle_epi32(t, 0x0E)', '_mm_shuffle_epi32(t, 0x0F)'))
    writeFileSync(join(dir, 'wrong.c'), source.replace(from, '#include "sha256-ni-wrong.c"'))
    const r = spawnSync(built.cc ?? 'cc', ['-O2', '-std=c11', '-shared', '-fPIC', '-Wl,-z,now', '-I', built.include ?? '', '-o', join(dir, 'wrong.node'), join(dir, 'wrong.c')], { encoding: 'utf8' })
    expect(r.status, r.stderr).toBe(0)
    const m = { exports: {} as Record<string, unknown> }
    process.dlopen(m, join(dir, 'wrong.node'))
    expect(m.exports.lanes).toBe(1)
    const loaded = loadNativeSha256(join(dir, 'wrong.node')).hasher
    if (loaded === undefined) throw new Error('the variant is refused')
    const msgs = Array.from({ length: 9 }, (_, i) => bytes(100 * i, i))
    const size = msgs.reduce((a, x) => a + x.length + 72, 0)
    const buf = Buffer.alloc(size + 32 * msgs.length)
    frame(buf, 0, msgs)
    loaded.leaves(buf, 0, msgs.length, size)
    expect(msgs.map((_, i) => toHex(buf.subarray(size + 32 * i, size + 32 * i + 32)))).toEqual(msgs.map(x => createHash('sha256').update(x).digest('hex')))
  })

  it('is loaded in worker threads beside the main thread (a context-aware addon)', async () => {
    const code = `const { parentPort, workerData } = require('node:worker_threads'); const m = { exports: {} }; process.dlopen(m, workerData);
      const b = Buffer.alloc(128); b.write('0100000061626380' + '00'.repeat(59) + '18', 'hex'); m.exports.leaves(b, 0, 1, 96); parentPort.postMessage(b.toString('hex', 96))`
    const run = async (): Promise<unknown> => {
      const w = new Worker(code, { eval: true, workerData: nativeSha256Path() })
      try { return await new Promise((resolve, reject) => { w.once('message', resolve); w.once('error', reject) }) } finally { await w.terminate() }
    }
    const abc = createHash('sha256').update('abc').digest('hex')
    expect(await Promise.all([run(), run()])).toEqual([abc, abc])
  })
})

describe('the manifest\'s hasher', () => {
  function table (rows: number): string {
    const path = join(tmpDir(), 't.db')
    const db = new Database(path)
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT, n INTEGER, r REAL, b BLOB)')
    const ins = db.prepare('INSERT INTO t (s, n, r, b) VALUES (?, ?, ?, ?)')
    db.transaction(() => { for (let i = 0; i < rows; i++) ins.run(`row ${i}`, i % 3 === 0 ? null : i * 7 - 5000, i / 3, bytes(i % 900, i)) })()
    db.close()
    return path
  }

  /** fastTableRoot of `path`'s table with each leaf encoder, and the reference root. */
  function roots (path: string): { js: string, wasm: string, ref: string } {
    const db = openBlockReadonly(path)
    try {
      const t = inspectSchema(db, 2).userTables[0]
      if (t === undefined) throw new Error('no table')
      const plan = planFastTable(db, t)
      if (plan === undefined) throw new Error('no plan')
      const [js, wasm] = (['js', 'wasm'] as const).map(mode => toHex(fastTableRoot(path, plan, undefined, mode).root))
      return { js: js ?? '', wasm: wasm ?? '', ref: tableRoot(db, t).root }
    } finally {
      db.close()
    }
  }

  it('is the native one whenever `npm run build` built it and the CPU has SHA-256 instructions, and the manifest hashes every leaf with it', () => {
    const path = table(3000)
    if (!built.accelerated) {
      // Not built here, or no SHA-256 instructions: the fallback says so, and the roots are the reference's.
      expect(merkleHasher().hasher).toBe('wasm')
      if (built.built) expect(merkleHasher().why).toMatch(/no SHA-256 instructions/)
      const r = roots(path)
      expect([r.js, r.wasm]).toEqual([r.ref, r.ref])
      return
    }
    expect(merkleHasher()).toEqual({ hasher: 'native', why: expect.stringContaining('OpenSSL') })
    const h = native()
    const leaves = vi.spyOn(h, 'leaves')
    const pairs = vi.spyOn(h, 'pairs')
    const r = roots(path)
    expect([r.js, r.wasm]).toEqual([r.ref, r.ref])
    // Both encoders' 3,000 leaves each, and their interior nodes, went through the addon.
    expect(leaves.mock.calls.reduce((a, c) => a + (c[2] ?? 0), 0)).toBe(6000)
    expect(pairs.mock.calls.length).toBeGreaterThan(0)
    leaves.mockRestore()
    pairs.mockRestore()
  })

  it('falls back to WebAssembly with PETAL_NATIVE_SHA256=0, with the same roots, never calling the addon', () => {
    const path = table(3000)
    const spies = built.accelerated ? [vi.spyOn(native(), 'leaves'), vi.spyOn(native(), 'pairs')] : []
    vi.stubEnv('PETAL_NATIVE_SHA256', '0')
    expect(merkleHasher()).toEqual({ hasher: 'wasm', why: 'PETAL_NATIVE_SHA256=0' })
    expect(nativeSha256()).toBeUndefined()
    const r = roots(path)
    expect([r.js, r.wasm]).toEqual([r.ref, r.ref])
    // Leaves written by JavaScript in a plain buffer move to WebAssembly memory to be hashed there.
    const batch = new MerkleBatch()
    for (let i = 0; i < 2000; i++) {
      const at = batch.begin(41)
      batch.bytes.fill(i & 0xff, at, at + 41)
      batch.commit(41)
    }
    expect(batch.inWasm).toBe(true)
    batch.root()
    for (const s of spies) {
      expect(s).not.toHaveBeenCalled()
      s.mockRestore()
    }
  })
})
