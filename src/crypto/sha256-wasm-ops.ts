/**
 * The pieces the SHA-256 WebAssembly module (sha256-wasm.ts) is written with: its
 * fixed memory layout and a few instructions as functions (scalar and four-lane SIMD). Code is a
 * tree of byte arrays, flattened once per function (`flat`): each instruction spreading its
 * operands' bytes into a new array copied every byte once per level of nesting, and generating the
 * module took ~25 ms of every thread that hashes with it (docs/performance/verify.md, "Session 11: verify").
 */
import { uleb } from '../util/index.js'
import { SHA256_IV } from './sha256-constants.js'


// Fixed memory layout: the hash state (8 little-endian words), then the scratch message of `pairs`.
export const STATE = 0
export const PAIR = 64
// Four-way state (8 vectors, lane k = message k); 384…1023 unused (four-way pairs are read in place).
export const STATE4 = 256
// K_t in all four lanes, for t = 0…63 (the module's data segment).
export const K4 = 1024
// The four-way message schedule, W_0…W_63 (a vector each).
export const SCHED = 2048
// The second-block schedules of interior nodes (pairTable), 256 · 64 words.
export const PAIR_TAB = 3072
/** First byte of memory the caller may use. */
export const SHA256_WASM_FREE = PAIR_TAB + 65536

export type Code = Array<number | Code>
/** A function body: its locals (count and value type, in groups) and code. */
export interface Fn { locals: Array<[number, number]>, code: Code }
export const I32 = 0x7f
export const V128 = 0x7b

function sleb (v: number): number[] {
  const out: number[] = []
  for (;;) {
    const b = v & 0x7f
    v >>= 7
    if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) { out.push(b); return out }
    out.push(b | 0x80)
  }
}

export const get = (l: number): Code => [0x20, uleb(l)]
export const set = (l: number): Code => [0x21, uleb(l)]
export const tee = (l: number): Code => [0x22, uleb(l)]
export const c32 = (v: number): Code => [0x41, sleb(v | 0)]
const bin = (op: number) => (x: Code, y: Code): Code => [x, y, op]
export const add = bin(0x6a)
export const and = bin(0x71)
export const or = bin(0x72)
export const xor = bin(0x73)
export const shru = bin(0x76)
const rotl = bin(0x77)
export const rotr = bin(0x78)
export const load = (addr: Code, offset = 0): Code => [addr, 0x28, 0x00, uleb(offset)]
export const store = (addr: Code, value: Code, offset = 0): Code => [addr, value, 0x36, 0x00, uleb(offset)]
export const load8u = (addr: Code): Code => [addr, 0x2d, 0x00, 0x00]
export const store8 = (addr: Code, value: Code): Code => [addr, value, 0x3a, 0x00, 0x00]
/** Byte swap through local `tmp`: memory is little-endian, SHA-256 words big-endian. */
export const bswap = (x: Code, tmp: number): Code => or(and(rotl([x, tee(tmp)], c32(8)), c32(0x00ff00ff)), and(rotr(get(tmp), c32(8)), c32(0xff00ff00)))
export const call = (f: number): Code => [0x10, uleb(f)]
/** `while (i < n) { body }` as block/loop. */
export const whileLt = (i: number, n: number, body: Code): Code => [0x02, 0x40, 0x03, 0x40, get(i), get(n), 0x4f, 0x0d, 0x01, body, 0x0c, 0x00, 0x0b, 0x0b]
export const initState = (): Code => SHA256_IV.map((v, k) => store(c32(STATE), c32(v), 4 * k))
export const writeDigest = (out: number, tmp: number): Code => SHA256_IV.map((_, k) => store(get(out), bswap(load(c32(STATE), 4 * k), tmp), 4 * k))

// SIMD (0xfd prefix): four messages at once, one per 32-bit lane.
export const simd = (op: number): Code => [0xfd, uleb(op)]
const vbin = (op: number) => (x: Code, y: Code): Code => [x, y, simd(op)]
export const vadd = vbin(0xae)
export const vand = vbin(0x4e)
export const vor = vbin(0x50)
export const vxor = vbin(0x51)
const vshl = (x: Code, n: number): Code => [x, c32(n), simd(0xab)]
export const vshru = (x: Code, n: number): Code => [x, c32(n), simd(0xad)]
export const vrotr = (x: Code, n: number): Code => vor(vshru(x, n), vshl(x, 32 - n))
export const vconst = (v: number): Code => [simd(0x0c), Array.from({ length: 4 }, () => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff])]
export const vload = (addr: Code, offset = 0): Code => [addr, simd(0x00), 0x00, uleb(offset)]
export const vstore = (addr: Code, value: Code, offset = 0): Code => [addr, value, simd(0x0b), 0x00, uleb(offset)]
const BSWAP_LANES = [3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12]
const vbswap = (x: Code): Code => [x, simd(0x0c), BSWAP_LANES, simd(0x0e)]
/** The big-endian word at `offset` of each of the four blocks at locals p[0…3]. */
export const gather = (p: number[], offset: number): Code => {
  let v: Code = [load(get(p[0] ?? 0), offset), simd(0x11)]
  for (let k = 1; k < 4; k++) v = [get(p[k] ?? 0), v, simd(0x56), 0x00, uleb(offset), k]
  return vbswap(v)
}
export const initState4 = (): Code => SHA256_IV.map((v, k) => vstore(c32(STATE4), vconst(v), 16 * k))
/** Digest of lane k to out + 32k. */
export const writeLane4 = (out: number, tmp: number, k: number): Code => SHA256_IV.map((_, i) =>
  store(get(out), bswap([vload(c32(STATE4), 16 * i), simd(0x1b), k], tmp), 32 * k + 4 * i))
const range = (from: number, n: number): number[] => Array.from({ length: n }, (_, i) => from + i)
const shuffle = (x: Code, y: Code, lanes: number[]): Code => [x, y, simd(0x0d), lanes]
// a0 b0 a1 b1, a2 b2 a3 b3 (32-bit lanes); a0a1 b0b1, a2a3 b2b3 (64-bit lanes).
const LO32 = [...range(0, 4), ...range(16, 4), ...range(4, 4), ...range(20, 4)]
const HI32 = [...range(8, 4), ...range(24, 4), ...range(12, 4), ...range(28, 4)]
const LO64 = [...range(0, 8), ...range(16, 8)]
const HI64 = [...range(8, 8), ...range(24, 8)]
/**
 * Digest of lane k to out + 32k, for the four lanes: the state's 8 × 4 words transposed with
 * shuffles (v…v+3: v128 locals), 8 vector stores rather than 32 lane extractions and scalar swaps.
 */
export const writeDigest4 = (out: number, v: number): Code => [0, 1].map(h => {
  const s = (j: number): Code => vload(c32(STATE4), 16 * (4 * h + j))
  return [
    shuffle(s(0), s(1), LO32), set(v), shuffle(s(2), s(3), LO32), set(v + 1),
    shuffle(s(0), s(1), HI32), set(v + 2), shuffle(s(2), s(3), HI32), set(v + 3),
    ([[0, LO64], [0, HI64], [2, LO64], [2, HI64]] as const).map(([a, lanes], k) =>
      vstore(get(out), vbswap(shuffle(get(v + a), get(v + a + 1), lanes)), 32 * k + 16 * h))
  ]
})

/** The bytes of a code tree, in order. */
export function flat (c: Code, out: number[] = []): number[] {
  for (const x of c) {
    if (typeof x === 'number') out.push(x)
    else flat(x, out)
  }
  return out
}
