/**
 * The v2 leaf encoding of rowid-table rows, produced from a b-tree leaf page in WebAssembly: one
 * call per page writes each row's leaf (0x00 ‖ column count ‖ tagged values) framed and padded
 * for SHA-256, straight into the MerkleBatch's memory, where it is hashed. It handles the common
 * rows only: a row stored on its page (no overflow) of a UTF-8 database whose text is ASCII, every
 * column present or without DEFAULT. Anything else — and anything it finds inconsistent — it hands
 * back to the JavaScript encoder (fast-rows.ts's LeafWriter, the checked reference for this one),
 * which encodes that row or refuses the table. Tests compare both on random tables.
 */
import { adoptSha256Module, MERKLE_SCRATCH, MERKLE_SCRATCH_BYTES, nativeSha256, sha256Module, sha256ModuleBytes, SHA256_WASM_FILE, type MerkleBatch, type WasmMemory, type WasmModule } from '../crypto/index.js'
import { builtBytes } from '../util/index.js'
import { type Code, I32, I64, add, add64, and, and64, block, brIf, br, call, convertS64, eq, eqz, eqz64, extendU, geU, get, gget, gset, gtU, gtU64, i32, i64, ifElse, load, load64, load64be, load8, loop, ltS, ltU, moduleBytes, mul, ne, or, or64, reinterpretF64, ret, set, shl, shl64, shrS64, shrU, shrU64, store, store32be, store64, store64be, store8, sub, wrap } from './wasm-code.js'

/** Most columns a table may have for this encoder (SQLite's default limit is 2,000). */
export const WASM_MAX_COLUMNS = 2048

// Scratch layout in the MerkleBatch's memory: the call's results, the table's plan (column count,
// then per column its record field and flags), the record's serial types and offsets, the page.
const RES = MERKLE_SCRATCH
const PLAN = MERKLE_SCRATCH + 64
const TYPES = PLAN + 4 + 8 * WASM_MAX_COLUMNS + 60
const PAGE = TYPES + 8 * WASM_MAX_COLUMNS
if (PAGE + 65536 + 64 > MERKLE_SCRATCH + MERKLE_SCRATCH_BYTES) throw new Error('leaf encoder scratch does not fit')

export const FLAG_REAL = 1
export const FLAG_DEFAULT = 2

/** What `page` stopped on. */
export const PAGE_DONE = 0
export const PAGE_FULL = 1
export const PAGE_HARD = 2

const VLEN = 0

/** varint(p) -> i64: SQLite varint at p; global VLEN = its length. */
function varintFunc (): Code {
  const [P, V, K, B] = [0, 1, 2, 3]
  return [
    loop([
      set(B, load8(add(get(P), get(K)))),
      ifElse(eq(get(K), i32(8)), [gset(VLEN, i32(9)), ret(or64(shl64(get(V), i64(8n)), extendU(get(B))))]),
      set(V, or64(shl64(get(V), i64(7n)), extendU(and(get(B), i32(0x7f))))),
      set(K, add(get(K), i32(1))),
      ifElse(ltU(get(B), i32(0x80)), [gset(VLEN, get(K)), ret(get(V))]),
      br(0)
    ]),
    i64(0n)
  ]
}

/**
 * page(pg, h, to, i, out, lim, soft, max, usable) -> status. Encodes cells i… of the table leaf
 * page at pg (b-tree header at pg + h) from `out` on; stops at cell `to` (PAGE_DONE), before a
 * leaf once `max` leaves are written or `out` reaches `soft`, or when the next would pass `lim`
 * (PAGE_FULL), or at a cell for JavaScript (PAGE_HARD). The next cell and `out` go to RES.
 */
function pageFunc (): Code {
  const [PG, H, TO, I, OUT, LIM, SOFT, MAX, USABLE] = [0, 1, 2, 3, 4, 5, 6, 7, 8]
  const [N, AT, P, TOTAL, REC, END, Q, BODY, NF, T, W, C, F, S, LEN, NCOLS, K, BLOCKS, FL] = [9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27]
  const [ROWID, V, ACC, X] = [28, 29, 30, 31]
  const [B, VL] = [32, 33]
  const stop = (status: number): Code => [store(i32(RES), get(I)), store(i32(RES), get(OUT), 4), ret(i32(status))]
  const hard = stop(PAGE_HARD)
  const inc = (l: number, by: Code): Code => set(l, add(get(l), by))
  // A one-byte varint (most serial types, small payloads and rowids) inline; longer ones through
  // the function. The i64 local `l` gets the value, VL its length.
  const varintTo = (l: number, at: Code): Code => [
    set(B, load8(at)),
    ifElse(ltU(get(B), i32(0x80)), [set(l, extendU(get(B))), set(VL, i32(1))], [set(l, call(0, at)), set(VL, gget(VLEN))])
  ]
  const vlen = get(VL)
  // Content bytes of serial types 0…9, a nibble each.
  const fixed = (t: Code): Code => wrap(and64(shrU64(i64(0x0088643210n), extendU(shl(t, i32(2)))), i64(0xfn)))
  const tag = (v: number): Code => store8(get(W), i32(v))

  const header: Code = [
    varintTo(X, get(REC)),
    ifElse(or(eqz64(get(X)), gtU64(get(X), extendU(get(TOTAL)))), hard),
    set(END, add(get(REC), wrap(get(X)))),
    set(Q, add(get(REC), vlen)),
    set(BODY, get(END)),
    set(NF, i32(0)),
    block(loop([
      brIf(1, geU(get(Q), get(END))),
      varintTo(X, get(Q)),
      ifElse(gtU64(get(X), i64(0xffffffn)), hard),
      set(T, wrap(get(X))),
      inc(Q, vlen),
      ifElse(geU(get(NF), get(NCOLS)), hard),
      store(add(i32(TYPES), shl(get(NF), i32(3))), get(T)),
      store(add(i32(TYPES), shl(get(NF), i32(3))), get(BODY), 4),
      ifElse(geU(get(T), i32(12)), inc(BODY, shrU(sub(get(T), i32(12)), i32(1))), [
        ifElse(geU(get(T), i32(10)), hard),
        inc(BODY, fixed(get(T)))
      ]),
      inc(NF, i32(1)),
      br(0)
    ])),
    ifElse(or(ne(get(Q), get(END)), ne(get(BODY), add(get(REC), get(TOTAL)))), hard)
  ]

  // Eight bytes at a time; for TEXT, the bytes are or-ed together for the ASCII check (the bytes
  // past the end of the value are masked off). Writing up to 7 bytes past the value is harmless:
  // the leaf's padding (at least 9 bytes) comes there next.
  const copyValue: Code = [
    set(K, i32(0)),
    set(ACC, i64(0n)),
    block(loop([
      brIf(1, geU(get(K), get(LEN))),
      set(X, load64(add(get(S), get(K)))),
      store64(add(get(W), get(K)), get(X), 5),
      ifElse(ltU(sub(get(LEN), get(K)), i32(8)),
        set(X, and64(get(X), add64(shl64(i64(1n), extendU(shl(sub(get(LEN), get(K)), i32(3)))), i64(-1n))))),
      set(ACC, or64(get(ACC), get(X))),
      inc(K, i32(8)),
      br(0)
    ]))
  ]

  const integer: Code = [
    ifElse(geU(get(T), i32(8)), set(V, extendU(sub(get(T), i32(8)))), [
      set(K, fixed(get(T))),
      set(V, load64be(sub(add(get(S), get(K)), i32(8)))),
      // Sign-extend the K-byte big-endian integer.
      set(X, extendU(sub(i32(64), shl(get(K), i32(3))))),
      set(V, shrS64(shl64(get(V), get(X)), get(X)))
    ]),
    // A column of REAL affinity reads a stored integer as a REAL (rounded to nearest, as SQLite does).
    ifElse(and(get(FL), i32(FLAG_REAL)), [tag(2), store64be(add(get(W), i32(1)), reinterpretF64(convertS64(get(V))))], [tag(1), store64be(add(get(W), i32(1)), get(V))]),
    inc(W, i32(9))
  ]

  const value: Code = [
    set(T, load(add(i32(TYPES), shl(get(F), i32(3))))),
    set(S, load(add(i32(TYPES), shl(get(F), i32(3))), 4)),
    ifElse(eqz(get(T)), [tag(0), inc(W, i32(1))],
      ifElse(eq(get(T), i32(7)), [
        // SQLite reads a stored NaN as NULL.
        ifElse(gtU64(and64(load64be(get(S)), i64(0x7fffffffffffffffn)), i64(0x7ff0000000000000n)), [tag(0), inc(W, i32(1))], [
          tag(2), store64(get(W), load64(get(S)), 1), inc(W, i32(9))
        ])
      ], ifElse(ltU(get(T), i32(12)), integer, [
        set(LEN, shrU(sub(get(T), i32(12)), i32(1))),
        copyValue,
        ifElse(and(get(T), i32(1)), [
          // TEXT: ASCII only (other text is checked and decoded in JavaScript).
          ifElse(eqz(eqz64(and64(get(ACC), i64(0x8080808080808080n)))), hard),
          tag(3)
        ], tag(4)),
        store32be(W, 1, LEN),
        inc(W, add(get(LEN), i32(5)))
      ])))
  ]

  const columns: Code = [
    set(C, i32(0)),
    block(loop([
      brIf(1, geU(get(C), get(NCOLS))),
      set(F, load(add(i32(PLAN), shl(get(C), i32(3))), 4)),
      set(FL, load(add(i32(PLAN), shl(get(C), i32(3))), 8)),
      ifElse(ltS(get(F), i32(0)), [tag(1), store64be(add(get(W), i32(1)), get(ROWID)), inc(W, i32(9))],
        ifElse(geU(get(F), get(NF)), [
          // A record shorter than the table: NULL, unless the column has a DEFAULT.
          ifElse(and(get(FL), i32(FLAG_DEFAULT)), hard),
          tag(0), inc(W, i32(1))
        ], value)),
      inc(C, i32(1)),
      br(0)
    ]))
  ]

  const frame: Code = [
    set(LEN, sub(get(W), add(get(OUT), i32(4)))),
    set(BLOCKS, add(shrU(add(get(LEN), i32(8)), i32(6)), i32(1))),
    store(get(OUT), get(BLOCKS)),
    set(END, add(add(get(OUT), i32(4)), shl(get(BLOCKS), i32(6)))),
    store8(get(W), i32(0x80)),
    // Zeros up to the length, eight bytes at a time (a memory.fill is a call out of WebAssembly
    // per leaf): the last store may run into the final eight bytes, which are written after it.
    // There are at least eight after the 0x80 byte.
    set(P, add(get(W), i32(1))),
    set(Q, sub(get(END), i32(8))),
    block(loop([brIf(1, geU(get(P), get(Q))), store64(get(P), i64(0n)), inc(P, i32(8)), br(0)])),
    store64(get(Q), i64(0n)),
    set(P, sub(get(END), i32(4))),
    set(K, shl(get(LEN), i32(3))),
    store32be(P, 0, K),
    set(OUT, get(END))
  ]

  return [
    set(NCOLS, load(i32(PLAN))),
    loop([
      ifElse(geU(get(I), get(TO)), stop(PAGE_DONE)),
      ifElse(or(geU(get(N), get(MAX)), geU(get(OUT), get(SOFT))), stop(PAGE_FULL)),
      set(P, add(add(get(PG), get(H)), shl(get(I), i32(1)))),
      set(AT, or(shl(load8(get(P), 8), i32(8)), load8(get(P), 9))),
      ifElse(or(ltU(get(AT), add(add(get(H), i32(8)), shl(get(I), i32(1)))), geU(get(AT), get(USABLE))), hard),
      set(P, add(get(PG), get(AT))),
      // Payload size: only a payload stored whole on the page (at most usable - 35 bytes).
      varintTo(X, get(P)),
      ifElse(gtU64(get(X), extendU(sub(get(USABLE), i32(35)))), hard),
      set(TOTAL, wrap(get(X))),
      inc(P, vlen),
      varintTo(ROWID, get(P)),
      inc(P, vlen),
      ifElse(gtU(add(sub(get(P), get(PG)), get(TOTAL)), get(USABLE)), hard),
      // Room for the worst case: every column 9 bytes of tag and number plus the payload's bytes.
      ifElse(gtU(add(get(OUT), add(i32(4), shl(add(shrU(add(add(mul(get(NCOLS), i32(9)), get(TOTAL)), i32(13)), i32(6)), i32(1)), i32(6)))), get(LIM)), stop(PAGE_FULL)),
      set(REC, get(P)),
      header,
      set(W, add(get(OUT), i32(4))),
      tag(0),
      store32be(W, 1, NCOLS),
      inc(W, i32(5)),
      columns,
      frame,
      inc(I, i32(1)),
      inc(N, i32(1)),
      br(0)
    ]),
    i32(0)
  ]
}

// The WebAssembly global, as far as this file uses it (the DOM lib that types it is not loaded).
declare const WebAssembly: {
  Module: (new (bytes: Uint8Array) => WasmModule) & { exports: (m: WasmModule) => Array<{ name: string }> }
  Instance: new (module: WasmModule, imports: Record<string, Record<string, unknown>>) => { exports: Record<string, unknown> }
}

let compiled: WasmModule | undefined
// An instance per memory: MerkleBatch reuses its WebAssembly instance (and memory) from table to table.
const instances = new WeakMap<WasmMemory, (...args: number[]) => unknown>()

/** The leaf encoder module's bytes, generated (the build writes them to LEAF_WASM_FILE beside its scripts). */
export function leafModuleBytes (): Uint8Array {
  return moduleBytes([
    { params: [I32], results: [I64], locals: [I64, I32, I32], body: varintFunc() },
    { params: Array<number>(9).fill(I32), results: [I32], locals: [...Array<number>(19).fill(I32), I64, I64, I64, I64, I32, I32], body: pageFunc(), export: 'page' }
  ], 1)
}

/** The file the build writes leafModuleBytes() to (util's builtBytes). */
export const LEAF_WASM_FILE = 'leaf.wasm'

/** The generated files the build writes beside its scripts (scripts/build-cli.ts), by file name. */
export function builtWasmFiles (): Record<string, Uint8Array> {
  return { [LEAF_WASM_FILE]: leafModuleBytes(), [SHA256_WASM_FILE]: sha256ModuleBytes() }
}

function compile (): WasmModule {
  compiled ??= new WebAssembly.Module(builtBytes(import.meta.url, LEAF_WASM_FILE) ?? leafModuleBytes())
  return compiled
}

/**
 * The manifest's two WebAssembly modules (the leaf encoder and SHA-256) as this thread compiled
 * them, generating them on first use: a caller that starts threads which will hash large tables
 * (verify --deep) generates them once per run and sends them along (adoptManifestWasm), instead of
 * every thread generating its own (~25 ms and 129 M instructions for SHA-256 alone, per thread).
 */
export interface ManifestWasm { leaf: WasmModule, sha?: WasmModule }
export function manifestWasm (): ManifestWasm {
  // With the native hasher (the same addon in every thread of the process), no SHA-256 module.
  return { leaf: compile(), sha: nativeSha256() === undefined ? sha256Module() : undefined }
}

/** Use modules manifestWasm gave in another thread of this process, where this thread has none yet. */
export function adoptManifestWasm (m: ManifestWasm): void {
  if (m.sha !== undefined) adoptSha256Module(m.sha)
  if (compiled !== undefined) return
  const names = WebAssembly.Module.exports(m.leaf).map(e => e.name).join()
  if (names !== 'page') throw new TypeError(`not the leaf encoder module (exports: ${names})`)
  compiled = m.leaf
}

/** The plan of a table for this encoder: per column its record field (-1: the rowid) and flags. */
export interface WasmPlan {
  fields: readonly number[]
  flags: readonly number[]
}

/** Encodes rowid-table leaf pages into `tree` (which it switches to WebAssembly). */
export class WasmLeafEncoder {
  private readonly run: (...args: number[]) => unknown
  private readonly memory: WasmMemory
  private res: Uint32Array | undefined
  /** Rows encoded here (not handed back to JavaScript). */
  rows = 0

  constructor (private readonly tree: MerkleBatch, plan: WasmPlan) {
    if (plan.fields.length > WASM_MAX_COLUMNS) throw new RangeError('too many columns for the WebAssembly encoder')
    this.memory = tree.wasmMemory()
    let run = instances.get(this.memory)
    if (run === undefined) {
      const { exports } = new WebAssembly.Instance(compile(), { env: { memory: this.memory } })
      const page = exports.page
      if (typeof page !== 'function') throw new TypeError('leaf encoder exports are missing')
      run = (...args: number[]): unknown => Reflect.apply(page, undefined, args)
      instances.set(this.memory, run)
    }
    this.run = run
    const view = new DataView(this.memory.buffer)
    view.setInt32(PLAN, plan.fields.length, true)
    plan.fields.forEach((f, c) => {
      view.setInt32(PLAN + 4 + 8 * c, f, true)
      view.setInt32(PLAN + 8 + 8 * c, plan.flags[c] ?? 0, true)
    })
  }

  /** Copy a table leaf page into the encoder's memory (before `encode` of its cells). */
  load (page: Buffer): void {
    // set(), not Buffer's copy(): Node's copy() and its checks were TurboFan compiles of their own in every fresh worker.
    this.tree.bytes.set(page, PAGE)
  }

  /**
   * Encode cells from…to of the loaded page (b-tree header at `h`) until one needs JavaScript;
   * returns that cell's index, or `to`.
   */
  encode (h: number, from: number, to: number, usable: number): number {
    const tree = this.tree
    let i = from
    while (i < to) {
      const status = this.run(PAGE, h, to, i, tree.end, tree.capacity, tree.softEnd, tree.leavesLeft, usable)
      if (this.res?.buffer !== this.memory.buffer) this.res = new Uint32Array(this.memory.buffer, RES, 2)
      const next = this.res[0] ?? i
      this.rows += next - i
      const flushed = tree.commitFramed(next - i, this.res[1] ?? tree.end)
      const progress = next > i
      i = next
      if (status === PAGE_DONE) return to
      if (status === PAGE_FULL && (flushed || progress)) continue
      return i
    }
    return to
  }
}
