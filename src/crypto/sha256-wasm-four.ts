// The four-way SIMD compression functions of the SHA-256 module (sha256-wasm.ts): four messages
// at once, one per 32-bit lane.
import { uleb } from '../util/index.js'
import { type Code, type Fn, I32, K4, SCHED, STATE4, V128, add, c32, gather, get, set, simd, tee, vadd, vand, vconst, vload, vor, vrotr, vshru, vstore, vxor } from './sha256-wasm-ops.js'
import { SHA256_K } from './sha256-constants.js'

/**
 * The four-way compression in two phases, each a loop of eight steps per iteration. The message
 * schedule goes to memory first (SCHED, a vector per round), then the 64 rounds read it: with the
 * 16-word window, the 8 working variables and temporaries all in locals, V8 had more live vectors
 * than x64 has registers and spilled about a fifth of the instructions. Loops rather than 64
 * unrolled rounds: the unrolled code (~20 KB per function) did not fit the CPU's instruction
 * caches. K_t comes from memory too (K4; a v128 constant costs V8 three or four instructions), and
 * maj(a, b, c) = b ^ ((a ^ b) & (b ^ c)) reuses the previous round's a ^ b as this one's b ^ c.
 */
const sigma0v = (x: Code): Code => vxor(vxor(vrotr(x, 7), vrotr(x, 18)), vshru(x, 3))
const sigma1v = (x: Code): Code => vxor(vxor(vrotr(x, 17), vrotr(x, 19)), vshru(x, 10))
/** `do { body } while ((i += step) < end)` */
const doWhile = (i: number, step: number, end: number, body: Code): Code => [0x03, 0x40, ...body, ...add(get(i), c32(step)), ...tee(i), ...c32(end), 0x49, 0x0d, 0x00, 0x0b]

/**
 * W_16…W_63 from W_0…W_15 at SCHED; local `i` (i32) counts, `l`, `l + 1` (v128) hold the last two,
 * `l + 2` W_t-15 (σ0 reads it three times: a local, not three loads).
 */
function expandSchedule (i: number, l: number): Code {
  const last = (j: number): number => l + (j % 2)
  const w = (t: number): Code => vload(get(i), SCHED + 16 * t)
  const step: Code = []
  for (let j = 0; j < 8; j++) {
    // W_t for t = 16 + j + i / 16.
    step.push(...w(1 + j), ...set(l + 2))
    step.push(...vadd(vadd(sigma1v(get(last(j))), w(9 + j)), vadd(sigma0v(get(l + 2)), w(j))), ...set(last(j)))
    step.push(...vstore(get(i), get(last(j)), SCHED + 16 * (16 + j)))
  }
  return [...vload(c32(SCHED), 16 * 14), ...set(last(0)), ...vload(c32(SCHED), 16 * 15), ...set(last(1)),
    ...c32(0), ...set(i), ...doWhile(i, 128, 16 * 48, step)]
}

/**
 * The 64 rounds, from and back to STATE4, over the schedule `w(j)` (round 8·k + j, k counted by
 * local `i` from 0 in steps of 128; default: SCHED); `next` runs after each eight. Locals l…l+10 (v128).
 */
function rounds4 (i: number, l: number, w: (j: number) => Code, next: Code = [], withK = true): Code {
  const T1 = l + 8
  const AB = (j: number): number => l + 9 + (j % 2)
  const code: Code = []
  for (let k = 0; k < 8; k++) code.push(...vload(c32(STATE4), 16 * k), ...set(l + k))
  const init = [0, 1, 2, 3, 4, 5, 6, 7].map(k => l + k)
  let v = init
  // b ^ c before round 0 plays the previous round's a ^ b.
  code.push(...vxor(get(l + 1), get(l + 2)), ...set(AB(7)))
  const step: Code = []
  for (let j = 0; j < 8; j++) {
    const [a, b, c, d, e, f, g, h] = v as [number, number, number, number, number, number, number, number]
    // Σ1(e) = rotr(e ^ rotr(e ^ rotr(e, 14), 5), 6), Σ0(a) = rotr(a ^ rotr(a ^ rotr(a, 9), 11), 2):
    // chained, fewer vectors live at once than three rotations side by side.
    const S1 = vrotr(vxor(get(e), vrotr(vxor(get(e), vrotr(get(e), 14)), 5)), 6)
    const ch = vxor(get(g), vand(get(e), vxor(get(f), get(g))))
    const wk = withK ? vadd(w(j), vload(get(i), K4 + 16 * j)) : w(j)
    step.push(...vadd(vadd(get(h), S1), vadd(ch, wk)), ...set(T1))
    step.push(...vadd(get(d), get(T1)), ...set(d))
    const S0 = vrotr(vxor(get(a), vrotr(vxor(get(a), vrotr(get(a), 9)), 11)), 2)
    step.push(...vxor(get(a), get(b)), ...set(AB(j)))
    const maj = vxor(get(b), vand(get(AB(j)), get(AB(j + 7))))
    step.push(...vadd(get(T1), vadd(S0, maj)), ...set(h))
    v = [h, a, b, c, d, e, f, g]
  }
  // Eight rounds bring every variable back to its local.
  code.push(...c32(0), ...set(i), ...doWhile(i, 128, 1024, [...step, ...next]))
  init.forEach((x, k) => { code.push(...vstore(c32(STATE4), vadd(vload(c32(STATE4), 16 * k), get(x)), 16 * k)) })
  return code
}

/**
 * compress4(p0, p1, p2, p3): the four-way state absorbs the four 64-byte blocks. With `pair`,
 * compress4pair: p_k points one byte before a pair of digests, and the block absorbed is the first
 * of that interior node, 0x01 ‖ left ‖ right[0…30], read in place (the byte before is replaced by
 * 0x01): no copy of the pairs into a message buffer first.
 */
export function compress4Body (pair = false): Fn {
  // Params 0…3 = block pointers; local 4 = counter (i32), 5… (v128).
  const P = [0, 1, 2, 3]
  const code: Code = []
  for (let t = 0; t < 16; t++) {
    const word = gather(P, 4 * t)
    code.push(...vstore(c32(SCHED), t === 0 && pair ? vor(vand(word, vconst(0x00ffffff)), vconst(0x01000000)) : word, 16 * t))
  }
  code.push(...expandSchedule(4, 5), ...rounds4(4, 5, j => vload(get(4), SCHED + 16 * j)))
  return { locals: [[1, I32], [11, V128]], code }
}

/**
 * compress4tab(r0, r1, r2, r3): the four-way state absorbs the second block of four interior
 * nodes, 0x01 ‖ left ‖ right padded to 128 bytes: all of it is fixed but the right digest's last
 * byte, so its schedule (plus K) is read from the table of all 256 (r_k = PAIR_TAB + 256 · that byte).
 */
export function compress4TabBody (): Fn {
  const R = [0, 1, 2, 3]
  const w = (j: number): Code => {
    let v: Code = [...get(R[0] ?? 0), ...simd(0x5c), 0x00, ...uleb(4 * j)]
    for (let k = 1; k < 4; k++) v = [...get(R[k] ?? 0), ...v, ...simd(0x56), 0x00, ...uleb(4 * j), k]
    return v
  }
  const next = R.flatMap(r => [...add(get(r), c32(32)), ...set(r)])
  return { locals: [[1, I32], [11, V128]], code: rounds4(4, 5, w, next, false) }
}

/**
 * The schedules W_0…W_63 of the second block of an interior node, for each value of its one free
 * byte, each word plus K_t (the rounds add the two: here once, not per node).
 */
export function pairTable (): Uint8Array {
  const out = new DataView(new ArrayBuffer(256 * 64 * 4))
  const W = new Uint32Array(64)
  const K = Uint32Array.from(SHA256_K)
  // Plain loops, no closure per word: this runs once per thread that hashes with the module, mostly
  // before V8 optimises it (a callback per word made it ~50 M instructions).
  for (let b = 0; b < 256; b++) {
    W.fill(0)
    W[0] = ((b << 24) | 0x800000) >>> 0
    W[15] = 65 * 8
    for (let t = 16; t < 64; t++) {
      const x = W[t - 15] as number
      const y = W[t - 2] as number
      W[t] = (((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10)) + (W[t - 7] as number) + (((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3)) + (W[t - 16] as number)
    }
    for (let t = 0, at = 256 * b; t < 64; t++, at += 4) out.setUint32(at, ((W[t] as number) + (K[t] as number)) >>> 0, true)
  }
  return new Uint8Array(out.buffer)
}
