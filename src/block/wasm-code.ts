/**
 * A few WebAssembly instructions as functions, enough to write the leaf encoder (leaf-wasm.ts) in
 * TypeScript: no binary is committed and no compiler is needed. Code is a tree of byte arrays,
 * flattened once per function (building it by nesting, not by copying, keeps generation fast).
 */

import { uleb } from '../util/index.js'

export type Code = ReadonlyArray<number | Code>

function sleb (v: bigint): number[] {
  const out: number[] = []
  for (;;) {
    const b = Number(v & 0x7fn)
    v >>= 7n
    if ((v === 0n && (b & 0x40) === 0) || (v === -1n && (b & 0x40) !== 0)) { out.push(b); return out }
    out.push(b | 0x80)
  }
}

export function flat (c: Code, out: number[] = []): number[] {
  for (const x of c) {
    if (typeof x === 'number') out.push(x)
    else flat(x, out)
  }
  return out
}

// Values, locals, globals.
export const i32 = (v: number): Code => [0x41, sleb(BigInt(v | 0))]
export const i64 = (v: bigint): Code => [0x42, sleb(BigInt.asIntN(64, v))]
export const get = (l: number): Code => [0x20, uleb(l)]
export const set = (l: number, v: Code): Code => [v, 0x21, uleb(l)]
export const gget = (g: number): Code => [0x23, uleb(g)]
export const gset = (g: number, v: Code): Code => [v, 0x24, uleb(g)]

const bin = (op: number) => (x: Code, y: Code): Code => [x, y, op]
const un = (op: number) => (x: Code): Code => [x, op]
export const eqz = un(0x45)
export const eq = bin(0x46)
export const ne = bin(0x47)
export const ltS = bin(0x48)
export const ltU = bin(0x49)
export const gtU = bin(0x4b)
export const geU = bin(0x4f)
export const add = bin(0x6a)
export const sub = bin(0x6b)
export const mul = bin(0x6c)
export const and = bin(0x71)
export const or = bin(0x72)
export const shl = bin(0x74)
export const shrU = bin(0x76)
export const eqz64 = un(0x50)
export const gtU64 = bin(0x56)
export const add64 = bin(0x7c)
export const and64 = bin(0x83)
export const or64 = bin(0x84)
export const shl64 = bin(0x86)
export const shrS64 = bin(0x87)
export const shrU64 = bin(0x88)
export const wrap = un(0xa7)
export const extendU = un(0xad)
export const convertS64 = un(0xb9)
export const reinterpretF64 = un(0xbd)

// Memory (alignment hint 0: every access may be unaligned).
const mem = (op: number) => (addr: Code, offset = 0): Code => [addr, op, 0x00, uleb(offset)]
const st = (op: number) => (addr: Code, v: Code, offset = 0): Code => [addr, v, op, 0x00, uleb(offset)]
export const load = mem(0x28)
export const load64 = mem(0x29)
export const load8 = mem(0x2d)
export const store = st(0x36)
export const store64 = st(0x37)
export const store8 = st(0x3a)
export const memcopy = (to: Code, from: Code, n: Code): Code => [to, from, n, 0xfc, 0x0a, 0x00, 0x00]
export const memfill = (to: Code, v: Code, n: Code): Code => [to, v, n, 0xfc, 0x0b, 0x00]

// Byte order: the 8 bytes at addr read as a big-endian i64, and an i64 written big-endian (SIMD shuffles).
const REVERSE8 = [7, 6, 5, 4, 3, 2, 1, 0, 8, 9, 10, 11, 12, 13, 14, 15]
const swap8 = (v: Code): Code => [v, v, 0xfd, 0x0d, REVERSE8]
export const load64be = (addr: Code): Code => [swap8([addr, 0xfd, 0x5d, 0x00, 0x00]), 0xfd, 0x1d, 0x00]
export const store64be = (addr: Code, v: Code): Code => [addr, swap8([v, 0xfd, 0x12]), 0xfd, 0x5b, 0x00, 0x00, 0x00]
/** A big-endian u32 store, byte by byte. */
export const store32be = (addr: number, at: number, v: number): Code => [
  store8([get(addr)], shrU(get(v), i32(24)), at),
  store8([get(addr)], shrU(get(v), i32(16)), at + 1),
  store8([get(addr)], shrU(get(v), i32(8)), at + 2),
  store8([get(addr)], get(v), at + 3)
]

// Control. Block types: void, or an i32 result.
export const VOID = 0x40
export const ifElse = (cond: Code, then: Code, otherwise?: Code): Code => otherwise === undefined ? [cond, 0x04, VOID, then, 0x0b] : [cond, 0x04, VOID, then, 0x05, otherwise, 0x0b]
export const block = (body: Code): Code => [0x02, VOID, body, 0x0b]
export const loop = (body: Code): Code => [0x03, VOID, body, 0x0b]
export const br = (depth: number): Code => [0x0c, uleb(depth)]
export const brIf = (depth: number, cond: Code): Code => [cond, 0x0d, uleb(depth)]
export const ret = (v: Code): Code => [v, 0x0f]
export const call = (f: number, ...args: Code[]): Code => [args, 0x10, uleb(f)]

export const I32 = 0x7f
export const I64 = 0x7e

export interface Func {
  params: number[]
  results: number[]
  /** Local types after the params, in order. */
  locals: number[]
  body: Code
  export?: string
}

const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()]
const name = (s: string): number[] => [...uleb(s.length), ...Buffer.from(s, 'utf8')]
const section = (id: number, content: number[]): number[] => [id, ...uleb(content.length), ...content]

/** A module importing its memory as `env.memory`, with mutable i32 globals, exporting the named functions. */
export function moduleBytes (funcs: Func[], globals: number): Uint8Array {
  const types = vec(funcs.map(f => [0x60, ...vec(f.params.map(p => [p])), ...vec(f.results.map(r => [r]))]))
  const imports = vec([[...name('env'), ...name('memory'), 0x02, 0x00, 0x01]])
  const fns = vec(funcs.map((_, i) => uleb(i)))
  const globs = vec(Array.from({ length: globals }, () => [I32, 0x01, 0x41, 0x00, 0x0b]))
  const exports = vec(funcs.flatMap((f, i) => f.export === undefined ? [] : [[...name(f.export), 0x00, ...uleb(i)]]))
  const bodies = vec(funcs.map(f => {
    const locals = vec(f.locals.map(t => [1, t]))
    const content = [...locals, ...flat(f.body), 0x0b]
    return [...uleb(content.length), ...content]
  }))
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, types), ...section(2, imports), ...section(3, fns), ...section(6, globs), ...section(7, exports), ...section(10, bodies)
  ])
}
