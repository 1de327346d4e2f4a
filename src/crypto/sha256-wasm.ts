/**
 * SHA-256 of many short messages in one call, in WebAssembly. node:crypto costs about 1.5 µs per
 * call whatever the input size, which for a Merkle tree over millions of ~100-byte rows (two hash
 * calls per row) is most of the work; here a batch of thousands of pre-padded messages is hashed
 * in one call at the speed of the compression function. The module is generated below from this
 * source (no binary is committed, no compiler needed): an unrolled FIPS 180-4 compression function,
 * a four-way SIMD one that hashes four messages at once (one per 32-bit lane: twice the throughput
 * of the scalar one on this machine), and two loops around them.
 *
 * Exports of the module:
 * - `leaves(in, n, out)`: `n` messages at `in`, each a little-endian u32 count of 64-byte blocks
 *   followed by that many blocks, already padded (see `padMessage`); their digests go to `out`,
 *   32 bytes each. Four consecutive messages of the same block count (rows of one table mostly
 *   are) go through the four-way function.
 * - `pairs(in, n, out)`: for each of `n` consecutive 64-byte pairs of digests at `in`, the RFC 6962
 *   interior node SHA-256(0x01 ‖ left ‖ right) goes to `out` (which may equal `in`: pair i is read
 *   before digest i is written).
 */
import { uleb } from '../util/index.js'

const K = [
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
]
const IV = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]

// Fixed memory layout: the hash state (8 little-endian words), then the scratch message of `pairs`.
const STATE = 0
const PAIR = 64
// Four-way state (8 vectors, lane k = message k) and four pair messages of 128 bytes.
const STATE4 = 256
const PAIR4 = 384
/** First byte of memory the caller may use. */
export const SHA256_WASM_FREE = 1024

type Code = number[]

function sleb (v: number): Code {
  const out: Code = []
  for (;;) {
    const b = v & 0x7f
    v >>= 7
    if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) { out.push(b); return out }
    out.push(b | 0x80)
  }
}

const get = (l: number): Code => [0x20, ...uleb(l)]
const set = (l: number): Code => [0x21, ...uleb(l)]
const tee = (l: number): Code => [0x22, ...uleb(l)]
const c32 = (v: number): Code => [0x41, ...sleb(v | 0)]
const bin = (op: number) => (x: Code, y: Code): Code => [...x, ...y, op]
const add = bin(0x6a)
const and = bin(0x71)
const or = bin(0x72)
const xor = bin(0x73)
const shru = bin(0x76)
const rotl = bin(0x77)
const rotr = bin(0x78)
const load = (addr: Code, offset = 0): Code => [...addr, 0x28, 0x00, ...uleb(offset)]
const store = (addr: Code, value: Code, offset = 0): Code => [...addr, ...value, 0x36, 0x00, ...uleb(offset)]
const store8 = (addr: Code, value: Code): Code => [...addr, ...value, 0x3a, 0x00, 0x00]
/** Byte swap through local `tmp`: memory is little-endian, SHA-256 words big-endian. */
const bswap = (x: Code, tmp: number): Code => or(and(rotl([...x, ...tee(tmp)], c32(8)), c32(0x00ff00ff)), and(rotr(get(tmp), c32(8)), c32(0xff00ff00)))
const call = (f: number): Code => [0x10, ...uleb(f)]
/** `while (i < n) { body }` as block/loop. */
const whileLt = (i: number, n: number, body: Code): Code => [0x02, 0x40, 0x03, 0x40, ...get(i), ...get(n), 0x4f, 0x0d, 0x01, ...body, 0x0c, 0x00, 0x0b, 0x0b]
const initState = (): Code => IV.flatMap((v, k) => store(c32(STATE), c32(v), 4 * k))
const writeDigest = (out: number, tmp: number): Code => IV.flatMap((_, k) => store(get(out), bswap(load(c32(STATE), 4 * k), tmp), 4 * k))

// SIMD (0xfd prefix): four messages at once, one per 32-bit lane.
const simd = (op: number): Code => [0xfd, ...uleb(op)]
const vbin = (op: number) => (x: Code, y: Code): Code => [...x, ...y, ...simd(op)]
const vadd = vbin(0xae)
const vand = vbin(0x4e)
const vor = vbin(0x50)
const vxor = vbin(0x51)
const vshl = (x: Code, n: number): Code => [...x, ...c32(n), ...simd(0xab)]
const vshru = (x: Code, n: number): Code => [...x, ...c32(n), ...simd(0xad)]
const vrotr = (x: Code, n: number): Code => vor(vshru(x, n), vshl(x, 32 - n))
const vconst = (v: number): Code => [...simd(0x0c), ...Array.from({ length: 4 }, () => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff]).flat()]
const vload = (addr: Code, offset = 0): Code => [...addr, ...simd(0x00), 0x00, ...uleb(offset)]
const vstore = (addr: Code, value: Code, offset = 0): Code => [...addr, ...value, ...simd(0x0b), 0x00, ...uleb(offset)]
const BSWAP_LANES = [3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12]
const vbswap = (x: Code): Code => [...x, ...simd(0x0c), ...BSWAP_LANES, ...simd(0x0e)]
/** The big-endian word at `offset` of each of the four blocks at locals p[0…3]. */
const gather = (p: number[], offset: number): Code => {
  let v: Code = [...load(get(p[0] ?? 0), offset), ...simd(0x11)]
  for (let k = 1; k < 4; k++) v = [...get(p[k] ?? 0), ...v, ...simd(0x56), 0x00, ...uleb(offset), k]
  return vbswap(v)
}
const initState4 = (): Code => IV.flatMap((v, k) => vstore(c32(STATE4), vconst(v), 16 * k))
/** Digest of lane k to out + 32k, for the four lanes. */
const writeDigest4 = (out: number, tmp: number): Code => [0, 1, 2, 3].flatMap(k => IV.flatMap((_, i) =>
  store(get(out), bswap([...vload(c32(STATE4), 16 * i), ...simd(0x1b), k], tmp), 32 * k + 4 * i)))

/** compress4(p0, p1, p2, p3): the four-way state absorbs the four blocks. Unrolled like compress. */
function compress4Body (): { locals: number, code: Code } {
  // Params 0…3 = block pointers; locals (v128) 4…11 = working variables; 12…27 = schedule; 28 = T1.
  const W = (t: number): number => 12 + (t % 16)
  const T1 = 28
  const P = [0, 1, 2, 3]
  const code: Code = []
  for (let k = 0; k < 8; k++) code.push(...vload(c32(STATE4), 16 * k), ...set(4 + k))
  let v = [4, 5, 6, 7, 8, 9, 10, 11]
  const sigma0 = (x: Code): Code => vxor(vxor(vrotr(x, 7), vrotr(x, 18)), vshru(x, 3))
  const sigma1 = (x: Code): Code => vxor(vxor(vrotr(x, 17), vrotr(x, 19)), vshru(x, 10))
  for (let t = 0; t < 64; t++) {
    if (t < 16) code.push(...gather(P, 4 * t), ...set(W(t)))
    else code.push(...vadd(vadd(sigma1(get(W(t - 2))), get(W(t - 7))), vadd(sigma0(get(W(t - 15))), get(W(t)))), ...set(W(t)))
    const [a, b, c, d, e, f, g, h] = v as [number, number, number, number, number, number, number, number]
    const S1 = vxor(vxor(vrotr(get(e), 6), vrotr(get(e), 11)), vrotr(get(e), 25))
    const ch = vxor(get(g), vand(get(e), vxor(get(f), get(g))))
    code.push(...vadd(vadd(vadd(get(h), S1), vadd(ch, vconst(K[t] ?? 0))), get(W(t))), ...set(T1))
    code.push(...vadd(get(d), get(T1)), ...set(d))
    const S0 = vxor(vxor(vrotr(get(a), 2), vrotr(get(a), 13)), vrotr(get(a), 22))
    const maj = vor(vand(get(a), get(b)), vand(get(c), vor(get(a), get(b))))
    code.push(...vadd(get(T1), vadd(S0, maj)), ...set(h))
    v = [h, a, b, c, d, e, f, g]
  }
  v.forEach((l, k) => { code.push(...vstore(c32(STATE4), vadd(vload(c32(STATE4), 16 * k), get(l)), 16 * k)) })
  return { locals: 25, code }
}

/** compress(p): the state at STATE absorbs the 64-byte block at p. Fully unrolled. */
function compressBody (): { locals: number, code: Code } {
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
    code.push(...add(add(add(get(h), S1), add(ch, c32(K[t] ?? 0))), get(W(t))), ...set(T1))
    code.push(...add(get(d), get(T1)), ...set(d))
    const S0 = xor(xor(rotr(get(a), c32(2)), rotr(get(a), c32(13))), rotr(get(a), c32(22)))
    const maj = or(and(get(a), get(b)), and(get(c), or(get(a), get(b))))
    code.push(...add(get(T1), add(S0, maj)), ...set(h))
    v = [h, a, b, c, d, e, f, g]
  }
  v.forEach((l, k) => { code.push(...store(c32(STATE), add(load(c32(STATE), 4 * k), get(l)), 4 * k)) })
  return { locals: 26, code }
}

function leavesBody (): { locals: number, code: Code } {
  // Params 0 = in (cursor), 1 = n, 2 = out (cursor); locals 3 = i, 4 = blocks left, 5 = tmp,
  // 6…9 = the next four messages' block pointers, 10…13 their block counts, 14 = done.
  const [IN, N, OUT, I, NB, TMP] = [0, 1, 2, 3, 4, 5]
  const Q = [6, 7, 8, 9]
  const C = [10, 11, 12, 13]
  const DONE = 14
  const q = (k: number): number => Q[k] ?? 0
  const cnt = (k: number): number => C[k] ?? 0
  const four: Code = [
    // q0 = in + 4, c0 = count; q(k+1) = q(k) + 64·c(k) + 4
    ...load(get(IN)), ...set(cnt(0)), ...add(get(IN), c32(4)), ...set(q(0)),
    ...[1, 2, 3].flatMap(k => [
      ...load(add(get(q(k - 1)), [...get(cnt(k - 1)), ...c32(6), 0x74])), ...set(cnt(k)),
      ...add(add(get(q(k - 1)), [...get(cnt(k - 1)), ...c32(6), 0x74]), c32(4)), ...set(q(k))
    ]),
    // if (c0 == c1 && c0 == c2 && c0 == c3)
    ...get(cnt(0)), ...get(cnt(1)), 0x46, ...get(cnt(0)), ...get(cnt(2)), 0x46, 0x71, ...get(cnt(0)), ...get(cnt(3)), 0x46, 0x71,
    0x04, 0x40,
    ...initState4(),
    ...get(cnt(0)), ...set(NB),
    0x02, 0x40, 0x03, 0x40, ...get(NB), 0x45, 0x0d, 0x01,
    ...get(q(0)), ...get(q(1)), ...get(q(2)), ...get(q(3)), ...call(1),
    ...[0, 1, 2, 3].flatMap(k => [...add(get(q(k)), c32(64)), ...set(q(k))]),
    ...get(NB), ...c32(1), 0x6b, ...set(NB),
    0x0c, 0x00, 0x0b, 0x0b,
    ...writeDigest4(OUT, TMP),
    ...get(q(3)), ...set(IN),
    ...add(get(OUT), c32(128)), ...set(OUT),
    ...add(get(I), c32(4)), ...set(I),
    ...c32(1), ...set(DONE),
    0x0b
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
  return { locals: 12, code: whileLt(I, N, body) }
}

function pairsBody (): { locals: number, code: Code } {
  const [IN, N, OUT, I, TMP] = [0, 1, 2, 3, 4]
  // The 65-byte message 0x01 ‖ left ‖ right in two blocks; its padding never changes.
  const padAt = (m: number): Code => [...c32(m), ...c32(0), ...c32(128), 0xfc, 0x0b, 0x00,
    ...store8(c32(m), c32(0x01)), ...store8(c32(m + 65), c32(0x80)), ...store8(c32(m + 126), c32(0x02)), ...store8(c32(m + 127), c32(0x08))]
  const copyPair = (m: number, from: number): Code => [...c32(m + 1), ...add(get(IN), c32(from)), ...c32(64), 0xfc, 0x0a, 0x00, 0x00]
  const M4 = [0, 1, 2, 3].map(k => PAIR4 + 128 * k)
  // Four pairs at a time: all four are copied out before any digest overwrites them (in place).
  const four = [
    0x02, 0x40, 0x03, 0x40, ...get(N), ...get(I), 0x6b, ...c32(4), 0x49, 0x0d, 0x01,
    ...M4.flatMap((m, k) => copyPair(m, 64 * k)),
    ...initState4(),
    ...M4.flatMap(m => c32(m)), ...call(1),
    ...M4.flatMap(m => c32(m + 64)), ...call(1),
    ...writeDigest4(OUT, TMP),
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
  return { locals: 2, code: [...padAt(PAIR), ...M4.flatMap(padAt), ...four, ...rest] }
}

function section (id: number, content: Code): Code {
  return [id, ...uleb(content.length), ...content]
}

const vec = (items: Code[]): Code => [...uleb(items.length), ...items.flat()]
const name = (s: string): Code => [...uleb(s.length), ...Buffer.from(s, 'utf8')]

function moduleBytes (): Uint8Array {
  const I32 = 0x7f
  const types = vec([[0x60, ...vec([[I32]]), 0x00], [0x60, ...vec([[I32], [I32], [I32]]), 0x00], [0x60, ...vec([[I32], [I32], [I32], [I32]]), 0x00]])
  const funcs = vec([[0], [2], [1], [1]])
  const memory = vec([[0x00, 0x01]])
  const exports = vec([[...name('memory'), 0x02, 0x00], [...name('leaves'), 0x00, 0x02], [...name('pairs'), 0x00, 0x03]])
  const body = (f: { locals: number, code: Code }, type = I32): Code => {
    const content = [...vec([[...uleb(f.locals), type]]), ...f.code, 0x0b]
    return [...uleb(content.length), ...content]
  }
  const code = [...uleb(4), ...body(compressBody()), ...body(compress4Body(), 0x7b), ...body(leavesBody()), ...body(pairsBody())]
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, types), ...section(3, funcs), ...section(5, memory), ...section(7, exports), ...section(10, code)
  ])
}

// The WebAssembly global, as far as this file uses it (the DOM lib that types it is not loaded).
export interface WasmMemory { readonly buffer: ArrayBuffer, grow: (pages: number) => number }
interface WasmModule { readonly kind?: 'module' }
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => WasmModule
  Instance: new (module: WasmModule) => { exports: Record<string, unknown> }
  Memory: new (d: { initial: number }) => WasmMemory
}

let compiled: WasmModule | undefined

export interface Sha256Wasm {
  memory: WasmMemory
  leaves: (input: number, n: number, out: number) => void
  pairs: (input: number, n: number, out: number) => void
}

/** A fresh instance (its own memory). Compiling happens once per thread. */
export function sha256Wasm (): Sha256Wasm {
  compiled ??= new WebAssembly.Module(moduleBytes())
  const { exports } = new WebAssembly.Instance(compiled)
  const { memory, leaves, pairs } = exports
  if (!(memory instanceof WebAssembly.Memory) || typeof leaves !== 'function' || typeof pairs !== 'function') throw new TypeError('sha256 module exports are missing')
  return {
    memory,
    leaves: (i, n, o) => { Reflect.apply(leaves, undefined, [i, n, o]) },
    pairs: (i, n, o) => { Reflect.apply(pairs, undefined, [i, n, o]) }
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
