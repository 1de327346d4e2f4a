/**
 * SHA-256 of many short messages in one call, in WebAssembly. node:crypto costs about 1.5 µs per
 * call whatever the input size, which for a Merkle tree over millions of ~100-byte rows (two hash
 * calls per row) is most of the work; here a batch of thousands of pre-padded messages is hashed
 * in one call at the speed of the compression function. The module is generated below from this
 * source (no binary is committed, no compiler needed; its pieces are in sha256-wasm-ops.ts and
 * sha256-wasm-four.ts): an unrolled FIPS 180-4 compression function, a four-way SIMD one that
 * hashes four messages at once (one per 32-bit lane), a four-way one for the fixed second block of
 * interior nodes, and two loops around them.
 *
 * Exports of the module:
 * - `leaves(in, n, out)`: `n` messages at `in`, each a little-endian u32 count of 64-byte blocks
 *   followed by that many blocks, already padded (see `padMessage`); their digests go to `out`,
 *   32 bytes each. Four consecutive messages go through the four-way function together (for as
 *   many blocks as the longest) when that wastes at most half its lanes' work (2 · max ≤ sum of
 *   their block counts); others one at a time.
 * - `pairs(in, n, out)`: for each of `n` consecutive 64-byte pairs of digests at `in`, the RFC 6962
 *   interior node SHA-256(0x01 ‖ left ‖ right) goes to `out` (which may equal `in`: pair i is read
 *   before digest i is written). `in` ≥ 1: the byte before a pair is read (and ignored).
 */
import { builtBytes, uleb } from '../util/index.js'
import { compress4Body, compress4TabBody, pairTable } from './sha256-wasm-four.js'
import { type Code, type Fn, I32, V128, K4, PAIR, PAIR_TAB, STATE, add, and, bswap, c32, call, flat, get, initState, initState4, load, load8u, or, rotr, set, shru, store, store8, whileLt, writeDigest, writeDigest4, writeLane4, xor } from './sha256-wasm-ops.js'
import { SHA256_K } from './sha256-constants.js'
import type { NativeSha256 } from './sha256-native.js'

export { SHA256_WASM_FREE } from './sha256-wasm-ops.js'

/** compress(p): the state at STATE absorbs the 64-byte block at p. Fully unrolled. */
function compressBody (): Fn {
  // Locals: 0 = p; 1..8 = working variables; 9..24 = the 16-word message schedule window; 25..26 temps.
  const W = (t: number): number => 9 + (t % 16)
  const T1 = 25
  const TMP = 26
  const code: Code = []
  for (let k = 0; k < 8; k++) code.push(...load(c32(STATE), 4 * k), ...set(1 + k))
  let v = [1, 2, 3, 4, 5, 6, 7, 8]
  const sigma0 = (x: Code): Code => xor(xor(rotr(x, c32(7)), rotr(x, c32(18))), shru(x, c32(3)))
  const sigma1 = (x: Code): Code => xor(xor(rotr(x, c32(17)), rotr(x, c32(19))), shru(x, c32(10)))
  for (let t = 0; t < 64; t++) {
    if (t < 16) code.push(...bswap(load(get(0), 4 * t), TMP), ...set(W(t)))
    else code.push(...add(add(sigma1(get(W(t - 2))), get(W(t - 7))), add(sigma0(get(W(t - 15))), get(W(t)))), ...set(W(t)))
    const [a, b, c, d, e, f, g, h] = v as [number, number, number, number, number, number, number, number]
    const S1 = xor(xor(rotr(get(e), c32(6)), rotr(get(e), c32(11))), rotr(get(e), c32(25)))
    const ch = xor(get(g), and(get(e), xor(get(f), get(g))))
    code.push(...add(add(add(get(h), S1), add(ch, c32(SHA256_K[t] ?? 0))), get(W(t))), ...set(T1))
    code.push(...add(get(d), get(T1)), ...set(d))
    const S0 = xor(xor(rotr(get(a), c32(2)), rotr(get(a), c32(13))), rotr(get(a), c32(22)))
    const maj = or(and(get(a), get(b)), and(get(c), or(get(a), get(b))))
    code.push(...add(get(T1), add(S0, maj)), ...set(h))
    v = [h, a, b, c, d, e, f, g]
  }
  v.forEach((l, k) => { code.push(...store(c32(STATE), add(load(c32(STATE), 4 * k), get(l)), 4 * k)) })
  return { locals: [[26, I32]], code }
}

function leavesBody (): Fn {
  // Params 0 = in (cursor), 1 = n, 2 = out (cursor); locals 3 = i, 4 = blocks left, 5 = tmp,
  // 6…9 = the next four messages' block pointers, 10…13 their block counts, 14 = done,
  // 15 = where the message after the four starts, 16 = the most blocks of the four, 17 = blocks done,
  // 18…21 (v128) writeDigest4's.
  const [IN, N, OUT, I, NB, TMP] = [0, 1, 2, 3, 4, 5]
  const Q = [6, 7, 8, 9]
  const C = [10, 11, 12, 13]
  const [DONE, NEXT, MAX, J, V] = [14, 15, 16, 17, 18]
  const q = (k: number): number => Q[k] ?? 0
  const cnt = (k: number): number => C[k] ?? 0
  const gtU = 0x4b
  const ifThen = (cond: Code, then: Code, otherwise?: Code): Code => [...cond, 0x04, 0x40, ...then, ...(otherwise === undefined ? [] : [0x05, ...otherwise]), 0x0b]
  // Four messages in the four lanes, block by block, for as many blocks as the longest has: a lane
  // whose message is done hashes its last block again (its digest was taken when it was done), so
  // rows whose leaves differ in length (most tables) still go four at a time. Only when that
  // wastes at most half the work: else the first message goes alone.
  const four: Code = [
    // q0 = in + 4, c0 = count; q(k+1) = q(k) + 64·c(k) + 4
    ...load(get(IN)), ...set(cnt(0)), ...add(get(IN), c32(4)), ...set(q(0)),
    ...[1, 2, 3].flatMap(k => [
      ...load(add(get(q(k - 1)), [...get(cnt(k - 1)), ...c32(6), 0x74])), ...set(cnt(k)),
      ...add(add(get(q(k - 1)), [...get(cnt(k - 1)), ...c32(6), 0x74]), c32(4)), ...set(q(k))
    ]),
    ...add(get(q(3)), [...get(cnt(3)), ...c32(6), 0x74]), ...set(NEXT),
    ...get(cnt(0)), ...set(MAX),
    ...[1, 2, 3].flatMap(k => [...get(cnt(k)), ...get(MAX), ...get(cnt(k)), ...get(MAX), gtU, 0x1b, ...set(MAX)]),
    // if (2 · max <= c0 + c1 + c2 + c3)
    ...ifThen([...add(get(MAX), get(MAX)), ...add(add(get(cnt(0)), get(cnt(1))), add(get(cnt(2)), get(cnt(3)))), 0x4d], [
      ...initState4(),
      ...c32(0), ...set(J),
      0x03, 0x40,
      ...get(q(0)), ...get(q(1)), ...get(q(2)), ...get(q(3)), ...call(1),
      ...add(get(J), c32(1)), ...set(J),
      // A lane just done before the last block gives its digest; one with blocks left moves to the next.
      ...[0, 1, 2, 3].flatMap(k => ifThen([...get(cnt(k)), ...get(J), gtU], [...add(get(q(k)), c32(64)), ...set(q(k))],
        ifThen([...get(cnt(k)), ...get(J), 0x46, ...get(J), ...get(MAX), 0x47, 0x71], writeLane4(OUT, TMP, k)))),
      ...get(J), ...get(MAX), 0x49, 0x0d, 0x00,
      0x0b,
      // The lanes done at the last block: all four (leaves of one length, the common case) at once.
      ...ifThen([...[0, 1, 2, 3].flatMap(k => [...get(cnt(k)), ...get(MAX), 0x46]), 0x71, 0x71, 0x71], writeDigest4(OUT, V),
        [0, 1, 2, 3].flatMap(k => ifThen([...get(cnt(k)), ...get(MAX), 0x46], writeLane4(OUT, TMP, k)))),
      ...get(NEXT), ...set(IN),
      ...add(get(OUT), c32(128)), ...set(OUT),
      ...add(get(I), c32(4)), ...set(I),
      ...c32(1), ...set(DONE)
    ])
  ]
  const one: Code = [
    ...load(get(IN)), ...set(NB),
    ...add(get(IN), c32(4)), ...set(IN),
    ...initState(),
    // while (nb != 0) { compress(in); in += 64; nb-- }
    0x02, 0x40, 0x03, 0x40, ...get(NB), 0x45, 0x0d, 0x01,
    ...get(IN), ...call(0),
    ...add(get(IN), c32(64)), ...set(IN),
    ...get(NB), ...c32(1), 0x6b, ...set(NB),
    0x0c, 0x00, 0x0b, 0x0b,
    ...writeDigest(OUT, TMP),
    ...add(get(OUT), c32(32)), ...set(OUT),
    ...add(get(I), c32(1)), ...set(I)
  ]
  const body: Code = [
    ...c32(0), ...set(DONE),
    // if (n - i >= 4) four
    ...get(N), ...get(I), 0x6b, ...c32(4), 0x4f, 0x04, 0x40, ...four, 0x0b,
    ...get(DONE), 0x45, 0x04, 0x40, ...one, 0x0b
  ]
  return { locals: [[15, I32], [4, V128]], code: whileLt(I, N, body) }
}

function pairsBody (): Fn {
  const [IN, N, OUT, I, TMP, V] = [0, 1, 2, 3, 4, 5]
  // The 65-byte message 0x01 ‖ left ‖ right in two blocks; its padding never changes.
  const padAt = (m: number): Code => [...c32(m), ...c32(0), ...c32(128), 0xfc, 0x0b, 0x00,
    ...store8(c32(m), c32(0x01)), ...store8(c32(m + 65), c32(0x80)), ...store8(c32(m + 126), c32(0x02)), ...store8(c32(m + 127), c32(0x08))]
  const copyPair = (m: number, from: number): Code => [...c32(m + 1), ...add(get(IN), c32(from)), ...c32(64), 0xfc, 0x0a, 0x00, 0x00]
  // Four pairs at a time, read in place (compress4pair, then the second blocks' schedules by the
  // right digests' last bytes), all of them before any digest overwrites them (in place).
  const four = [
    0x02, 0x40, 0x03, 0x40, ...get(N), ...get(I), 0x6b, ...c32(4), 0x49, 0x0d, 0x01,
    ...initState4(),
    ...[0, 1, 2, 3].flatMap(k => add(get(IN), c32(64 * k - 1))), ...call(5),
    ...[0, 1, 2, 3].flatMap(k => add([...load8u(add(get(IN), c32(64 * k + 63))), ...c32(8), 0x74], c32(PAIR_TAB))), ...call(4),
    ...writeDigest4(OUT, V),
    ...add(get(IN), c32(256)), ...set(IN),
    ...add(get(OUT), c32(128)), ...set(OUT),
    ...add(get(I), c32(4)), ...set(I),
    0x0c, 0x00, 0x0b, 0x0b
  ]
  const rest = whileLt(I, N, [
    ...copyPair(PAIR, 0),
    ...initState(),
    ...c32(PAIR), ...call(0),
    ...c32(PAIR + 64), ...call(0),
    ...writeDigest(OUT, TMP),
    ...add(get(IN), c32(64)), ...set(IN),
    ...add(get(OUT), c32(32)), ...set(OUT),
    ...add(get(I), c32(1)), ...set(I)
  ])
  return { locals: [[2, I32], [4, V128]], code: [...padAt(PAIR), ...four, ...rest] }
}

function section (id: number, content: Code): Code {
  const bytes = flat(content)
  return [id, uleb(bytes.length), bytes]
}

const vec = (items: Code[]): Code => [uleb(items.length), items]
const name = (s: string): Code => [uleb(s.length), [...Buffer.from(s, 'utf8')]]

/** The module's bytes, generated (the build writes them to SHA256_WASM_FILE beside its scripts). */
export function sha256ModuleBytes (): Uint8Array {
  const types = vec([[0x60, ...vec([[I32]]), 0x00], [0x60, ...vec([[I32], [I32], [I32]]), 0x00], [0x60, ...vec([[I32], [I32], [I32], [I32]]), 0x00]])
  const funcs = vec([[0], [2], [1], [1], [2], [2]])
  const memory = vec([[0x00, 0x02]])
  const exports = vec([[...name('memory'), 0x02, 0x00], [...name('leaves'), 0x00, 0x02], [...name('pairs'), 0x00, 0x03]])
  const body = (f: Fn): Code => {
    const content = flat([vec(f.locals.map(([n, t]) => [uleb(n), t])), f.code, 0x0b])
    return [uleb(content.length), content]
  }
  const k4 = new DataView(new ArrayBuffer(64 * 16))
  SHA256_K.forEach((k, t) => { for (let lane = 0; lane < 4; lane++) k4.setUint32(16 * t + 4 * lane, k, true) })
  const code = [uleb(6), body(compressBody()), body(compress4Body()), body(leavesBody()), body(pairsBody()), body(compress4TabBody()), body(compress4Body(true))]
  return Buffer.concat([Uint8Array.from(flat([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    section(1, types), section(3, funcs), section(5, memory), section(7, exports), section(10, code)
  ])), dataSection([[K4, new Uint8Array(k4.buffer)], [PAIR_TAB, pairTable()]])])
}

/** The data section (id 11): each segment's bytes at its offset of memory 0 (bytes, not a number array: the table is 64 KiB). */
function dataSection (segments: Array<[number, Uint8Array]>): Uint8Array {
  const parts = segments.flatMap(([at, bytes]) => [Uint8Array.from(flat([0x00, c32(at), 0x0b, uleb(bytes.length)])), bytes])
  const content = Buffer.concat([Uint8Array.from(uleb(segments.length)), ...parts])
  return Buffer.concat([Uint8Array.from([11, ...uleb(content.length)]), content])
}

// The WebAssembly global, as far as this file uses it (the DOM lib that types it is not loaded).
export interface WasmMemory { readonly buffer: ArrayBuffer, grow: (pages: number) => number }
/** A compiled WebAssembly module: structured-cloneable, so one thread's can be sent to another. */
export interface WasmModule { readonly kind?: 'module' }
declare const WebAssembly: {
  Module: (new (bytes: Uint8Array) => WasmModule) & { exports: (m: WasmModule) => Array<{ name: string }> }
  Instance: new (module: WasmModule) => { exports: Record<string, unknown> }
  Memory: new (d: { initial: number }) => WasmMemory
}

let compiled: WasmModule | undefined

/** The file the build writes sha256ModuleBytes() to (util's builtBytes). */
export const SHA256_WASM_FILE = 'sha256.wasm'

/**
 * This thread's compiled module, made on first use: from the bytes the build generated beside the
 * running script, else generated here (~129 M instructions, 30-45 ms in a fresh thread). A caller
 * that starts threads which will hash large tables makes it once and sends it to them
 * (adoptSha256Module): they then share its compiled code.
 */
export function sha256Module (): WasmModule {
  compiled ??= new WebAssembly.Module(builtBytes(import.meta.url, SHA256_WASM_FILE) ?? sha256ModuleBytes())
  return compiled
}

/**
 * Use `m`, the module sha256Module gave in another thread of this process, unless this thread has
 * one already. A module of other exports is refused (TypeError), so a mix-up cannot pass as this.
 */
export function adoptSha256Module (m: WasmModule): void {
  if (compiled !== undefined) return
  const names = WebAssembly.Module.exports(m).map(e => e.name).sort().join()
  if (names !== 'leaves,memory,pairs') throw new TypeError(`not the SHA-256 module (exports: ${names})`)
  compiled = m
}

export interface Sha256Wasm {
  memory: WasmMemory
  /** Hashed by the native addon (sha256OverMemory), not by this module. */
  native?: true
  leaves: (input: number, n: number, out: number) => void
  pairs: (input: number, n: number, out: number) => void
}

/** A fresh instance (its own memory). Compiling happens once per thread. */
export function sha256Wasm (): Sha256Wasm {
  const { exports } = new WebAssembly.Instance(sha256Module())
  const { memory, leaves, pairs } = exports
  if (!(memory instanceof WebAssembly.Memory) || typeof leaves !== 'function' || typeof pairs !== 'function') throw new TypeError('sha256 module exports are missing')
  return {
    memory,
    leaves: (i, n, o) => { Reflect.apply(leaves, undefined, [i, n, o]) },
    pairs: (i, n, o) => { Reflect.apply(pairs, undefined, [i, n, o]) }
  }
}

/**
 * The same interface over a plain WebAssembly memory, hashed by the native addon (`native`): what
 * MerkleBatch uses when the addon is loaded, so the leaf encoder (leaf-wasm.ts) still writes into
 * WebAssembly memory and this module is never generated (~25 ms per thread).
 */
export function sha256OverMemory (native: NativeSha256): Sha256Wasm {
  const memory = new WebAssembly.Memory({ initial: 1 })
  // A view of the memory, replaced when the memory grows (growing detaches the old buffer).
  let view = new Uint8Array(memory.buffer)
  const bytes = (): Uint8Array => view.buffer === memory.buffer ? view : (view = new Uint8Array(memory.buffer))
  return {
    memory,
    native: true,
    leaves: (i, n, o) => { native.leaves(bytes(), i, n, o) },
    pairs: (i, n, o) => { native.pairs(bytes(), i, n, o) }
  }
}

/** Bytes a message of `len` bytes takes in `leaves`' input: the count word and the padded blocks. */
export function paddedSize (len: number): number {
  return 4 + (Math.floor((len + 8) / 64) + 1) * 64
}

/**
 * Frame the `len`-byte message already written at `at + 4` in `mem`: its block count before it and
 * the SHA-256 padding after it. Returns the offset just past the frame.
 */
export function padMessage (mem: Uint8Array, view: DataView, at: number, len: number): number {
  const blocks = Math.floor((len + 8) / 64) + 1
  const end = at + 4 + blocks * 64
  view.setUint32(at, blocks, true)
  const p = at + 4 + len
  mem[p] = 0x80
  mem.fill(0, p + 1, end - 8)
  const bits = len * 8
  view.setUint32(end - 8, Math.floor(bits / 0x100000000), false)
  view.setUint32(end - 4, bits >>> 0, false)
  return end
}
