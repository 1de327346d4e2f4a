/**
 * The fast manifest path: a table's Merkle root computed from the file's b-tree pages, each row's
 * v2 encoding (row-codec.ts) produced straight from SQLite's record bytes — no JavaScript value per
 * column — and hashed in batches (MerkleBatch). It must give exactly the root the reference path
 * (manifest.ts: rows read through SQLite) gives; tests compare the two on random tables. What
 * SQLite does on read and this code must do too: the rowid alias column reads the rowid, a column
 * of REAL affinity reads a stored integer as a REAL, a stored NaN reads as NULL, a record shorter
 * than the table (a column added later) reads NULL for a column without DEFAULT, and text comes
 * out as UTF-8 as better-sqlite3 decodes it. Tables it cannot match with certainty (see
 * planFastTable) and files it does not understand (BtreeUnsupported) go the reference way.
 */
import { isUtf8 } from 'node:buffer'
import { readFileSync } from 'node:fs'
import { MerkleBatch } from '../crypto/index.js'
import { BtreeUnsupported, emitTableCell, ENCODING_UTF16BE, ENCODING_UTF8, lastVarintHi, lastVarintLo, smallVarint, tableLeaves, varintLength, walkBtree, walkLeaves, type OnLeafPage, type OnRecord } from './btree.js'
import { PageFile } from './page-file.js'
import { FLAG_DEFAULT, FLAG_REAL, WASM_MAX_COLUMNS, WasmLeafEncoder } from './leaf-wasm.js'
import { canonicalRowsSql } from './manifest.js'
import { DECLINES, nativeRows, nativeRowsFirst, nativeTableRoot, type NativePlan } from './native-rows.js'
import { affinityOf, quoteString, type UserTable } from './schema.js'
import { quoteIdent, type Db } from './sqlite.js'

/** How to read one table from its b-tree; plain data, so it can be sent to a worker thread. */
export interface FastPlan {
  root: number
  withoutRowid: boolean
  /** Per declared column: the record field holding it, or -1 for the rowid (INTEGER PRIMARY KEY). */
  fields: number[]
  /** Per declared column: REAL affinity (SQLite reads an integer stored there as a REAL). */
  real: boolean[]
  /** Per declared column: it has a DEFAULT (a record without it would read the default: not handled here). */
  hasDefault: boolean[]
}

interface XInfo { cid: number, name: string, type: string, dflt_value: unknown, pk: number }

/**
 * How to read `t` from its b-tree, or undefined when the fast path cannot promise SQLite's answer:
 * a WITHOUT ROWID table whose canonical ORDER BY is not the order of its primary-key b-tree (a
 * DESC key, a collation that differs from the column's), or anything unexpected in the schema.
 */
export function planFastTable (db: Db, t: UserTable): FastPlan | undefined {
  const root = db.prepare<[string], number>("SELECT rootpage FROM main.sqlite_schema WHERE type = 'table' AND name = ?").pluck().get(t.name)
  if (typeof root !== 'number' || root < 2) return undefined
  // The PRAGMA, not the table-valued pragma_table_xinfo: that one prepares the same PRAGMA inside a
  // virtual table (docs/performance/catchup.md, "Session 9: the load threads' checks"), on every
  // block a load thread checks.
  const info = db.prepare<[], XInfo>(`PRAGMA main.table_xinfo(${quoteString(t.name)})`).all()
  if (info.length !== t.columns.length || info.some((c, i) => c.name !== t.columns[i] || c.cid !== i)) return undefined
  const real = info.map(c => affinityOf(c.type) === 'REAL')
  const hasDefault = info.map(c => c.dflt_value !== null)
  if (!t.withoutRowid) {
    // Which column, if any, is the rowid: ask SQLite how it reads it (INTEGER PRIMARY KEY, but not
    // `INTEGER PRIMARY KEY DESC` as a column constraint, and other quirks).
    const pk = info.filter(c => c.pk > 0)
    const fields = info.map(c => c.cid)
    if (pk.length === 1 && pk[0] !== undefined) {
      const ops = db.prepare<[], { opcode: string }>(`EXPLAIN SELECT ${quoteIdent(pk[0].name)} FROM ${quoteIdent(t.name)}`).all().map(r => r.opcode)
      if (ops.includes('Rowid')) fields[pk[0].cid] = -1
      else if (!ops.includes('Column')) return undefined
    }
    return { root, withoutRowid: false, fields, real, hasDefault }
  }
  // WITHOUT ROWID: the record holds the key columns first, then the others (index_xinfo says which).
  // PRAGMA statements, not the table-valued pragma_index_list/pragma_index_xinfo: an eponymous
  // virtual table keeps a pointer to the schema of `main` it was first used with, and the kept
  // held connection (held-db.ts) swaps that schema for the next block's; SQLite then looked up a
  // freed schema (a crash of verify --deep on the second block with a WITHOUT ROWID table).
  const pkIndex = db.prepare<[], { name: string, origin: string }>(`PRAGMA main.index_list(${quoteString(t.name)})`).all().filter(i => i.origin === 'pk')
  if (pkIndex.length !== 1 || pkIndex[0] === undefined) return undefined
  const xinfo = db.prepare<[], { seqno: number, cid: number, desc: number, key: number }>(`PRAGMA main.index_xinfo(${quoteString(pkIndex[0].name)})`).all()
  const fields = info.map(() => -2)
  for (const x of xinfo) {
    if (x.cid < 0 || x.cid >= fields.length || fields[x.cid] !== -2) return undefined
    if (x.key === 1 && x.desc !== 0) return undefined
    fields[x.cid] = x.seqno
  }
  if (fields.some(f => f < 0)) return undefined
  // The canonical order must be a plain forward scan of the key b-tree, with no sort step.
  const plan = db.prepare<[], { detail: string }>(`EXPLAIN QUERY PLAN ${canonicalRowsSql(t)}`).all()
  if (plan.length !== 1 || plan[0]?.detail !== `SCAN ${t.name}`) return undefined
  return { root, withoutRowid: true, fields, real, hasDefault }
}

const TAG_NULL = 0
const TAG_INTEGER = 1
const TAG_REAL = 2
const TAG_TEXT = 3
const TAG_BLOB = 4

// Content bytes of serial types 0…9.
const FIXED = [0, 1, 2, 3, 4, 6, 8, 8, 0, 0]

/**
 * Which encoder turns rowid-table records into leaves: the WebAssembly one (leaf-wasm.ts) for the
 * rows it handles, with JavaScript for the others; JavaScript only; or (auto) WebAssembly when
 * this thread has an instance ready, else JavaScript for a table's first rows and WebAssembly once
 * the table is large enough to pay for an instance (readBlockFile passes 'wasm' for a table that
 * claims WASM_AFTER_ROWS rows or more).
 */
export type LeafEncoderMode = 'auto' | 'js' | 'wasm'
export const WASM_AFTER_ROWS = 1024

/** Encodes records as v2 leaves into a MerkleBatch. */
class LeafWriter {
  private types: Float64Array<ArrayBuffer> = new Float64Array(64)
  private offs: Float64Array<ArrayBuffer> = new Float64Array(64)
  private swap = Buffer.allocUnsafe(256)
  readonly tree = new MerkleBatch()
  private wasm: WasmLeafEncoder | undefined
  private readonly wasmOk: boolean
  private reported = 0
  private readonly encoding: number

  constructor (private readonly f: PageFile, private readonly plan: FastPlan, private readonly onRows?: (n: number) => void, private readonly mode: LeafEncoderMode = 'auto') {
    this.encoding = f.header.encoding
    this.wasmOk = mode !== 'js' && this.encoding === ENCODING_UTF8 && !plan.withoutRowid && plan.fields.length <= WASM_MAX_COLUMNS
  }

  /** Rows the WebAssembly encoder encoded. */
  get wasmRows (): number { return this.wasm?.rows ?? 0 }

  /** Rows hashed since the last report, when at least `min`. */
  progress (min = 0x1000): void {
    const n = this.tree.size - this.reported
    if (this.onRows === undefined || n < min || n === 0) return
    this.reported += n
    this.onRows(n)
  }

  readonly onLeaf: OnLeafPage = (page, h, from, to) => {
    if (!this.wasmOk || (this.mode === 'auto' && this.tree.size < WASM_AFTER_ROWS && !this.tree.inWasm)) {
      for (let i = from; i < to; i++) emitTableCell(this.f, page, h, i, this.onRecord)
      return
    }
    const plan = this.plan
    const enc = this.wasm ??= new WasmLeafEncoder(this.tree, { fields: plan.fields, flags: plan.fields.map((_, c) => (plan.real[c] === true ? FLAG_REAL : 0) | (plan.hasDefault[c] === true ? FLAG_DEFAULT : 0)) })
    enc.load(page)
    const usable = this.f.header.usable
    for (let i = from; i < to;) {
      i = enc.encode(h, i, to, usable)
      // A row the WebAssembly encoder leaves to this one.
      if (i < to) emitTableCell(this.f, page, h, i++, this.onRecord)
    }
    this.progress()
  }

  readonly onRecord: OnRecord = (buf, at, len) => {
    const plan = this.plan
    const fields = plan.fields
    const ncols = fields.length
    // The rowid, read by the walker just before calling (the record's own varints overwrite it).
    const rowidHi = lastVarintHi()
    const rowidLo = lastVarintLo()
    const nf = this.parseHeader(buf, at, len)
    if (nf > ncols) throw new BtreeUnsupported('record has more fields than the table')
    // Room for the worst case: every value an 8-byte number, and text growing threefold (each byte
    // of invalid UTF-8 becomes U+FFFD, 3 bytes; UTF-16 grows at most 3/2).
    const max = 5 + 9 * ncols + 3 * len
    const o = this.tree.begin(max)
    const m = this.tree.bytes
    m[o] = 0x00
    put32(m, o + 1, ncols)
    let w = o + 5
    for (let c = 0; c < ncols; c++) {
      const f = fields[c] ?? 0
      if (f < 0) {
        m[w] = TAG_INTEGER
        put32(m, w + 1, rowidHi)
        put32(m, w + 5, rowidLo)
        w += 9
      } else if (f >= nf) {
        if (plan.hasDefault[c] === true) throw new BtreeUnsupported('short record for a column with a DEFAULT')
        m[w++] = TAG_NULL
      } else {
        w = this.value(buf, this.types[f] ?? 0, this.offs[f] ?? 0, plan.real[c] === true, m, w)
      }
    }
    if (w - o > max) throw new BtreeUnsupported('row encoding larger than the room reserved for it')
    this.tree.commit(w - o)
    if ((this.tree.size & 0xfff) === 0) this.progress()
  }

  /** Serial types and body offsets of the record's fields into `types`/`offs`; returns their number. */
  private parseHeader (buf: Buffer, at: number, len: number): number {
    const hdr = smallVarint(buf, at)
    if (hdr > len || hdr < 1) throw new BtreeUnsupported('record header out of range')
    let q = at + varintLength()
    const end = at + hdr
    let body = end
    let nf = 0
    let types = this.types
    let offs = this.offs
    while (q < end) {
      let t = buf[q] ?? 0
      if (t < 0x80) q++
      else { t = smallVarint(buf, q); q += varintLength() }
      if (nf === types.length) { types = this.types = grow(types); offs = this.offs = grow(offs) }
      types[nf] = t
      offs[nf] = body
      // Not `(t - 12) >>> 1`: that wraps at 2^32, and a serial type past 32 bits (which SQLite reads
      // as 0xffffffff, a corrupt record) took the size of the type 2^32 below it, then its value
      // read ~2^31 bytes (an allocation that size for UTF-16, a RangeError, or a root).
      body += t < 12 ? (FIXED[t] ?? 0) : Math.floor((t - 12) / 2)
      nf++
    }
    if (q !== end || body !== at + len) throw new BtreeUnsupported('record sizes disagree')
    return nf
  }

  /** One stored value of serial type `t` at `buf[s…]`, encoded at `m[w…]`; returns the end. */
  private value (buf: Buffer, t: number, s: number, real: boolean, m: Buffer, w: number): number {
    if (t === 0) {
      m[w] = TAG_NULL
      return w + 1
    }
    if (t <= 6 || t === 8 || t === 9) {
      if (real) {
        m[w] = TAG_REAL
        m.writeDoubleBE(t === 6 ? Number(buf.readBigInt64BE(s)) : smallInt(buf, s, t), w + 1)
        return w + 9
      }
      m[w] = TAG_INTEGER
      // Sign-extend the big-endian integer of 0…8 bytes to 8 (types 8 and 9 are the constants 0 and 1).
      const n = FIXED[t] ?? 0
      const fill = n > 0 && ((buf[s] ?? 0) & 0x80) !== 0 ? 0xff : 0
      const pad = 8 - n
      for (let i = 0; i < pad; i++) m[w + 1 + i] = fill
      for (let i = 0; i < n; i++) m[w + 1 + pad + i] = buf[s + i] ?? 0
      if (t === 9) m[w + 8] = 1
      return w + 9
    }
    if (t === 7) {
      // SQLite reads a stored NaN as NULL.
      if (((buf[s] ?? 0) & 0x7f) === 0x7f && ((buf[s + 1] ?? 0) & 0xf0) === 0xf0 && Number.isNaN(buf.readDoubleBE(s))) {
        m[w] = TAG_NULL
        return w + 1
      }
      m[w] = TAG_REAL
      for (let i = 0; i < 8; i++) m[w + 1 + i] = buf[s + i] ?? 0
      return w + 9
    }
    if (t < 12) throw new BtreeUnsupported(`reserved serial type ${t}`)
    if ((t & 1) !== 0) return this.text(buf, s, (t - 13) / 2, m, w)
    const n = (t - 12) / 2
    m[w] = TAG_BLOB
    put32(m, w + 1, n)
    if (n < 32) for (let i = 0; i < n; i++) m[w + 5 + i] = buf[s + i] ?? 0
    else buf.copy(m, w + 5, s, s + n)
    return w + 5 + n
  }

  /** TEXT: the UTF-8 bytes of the string better-sqlite3 would return. */
  private text (buf: Buffer, s: number, n: number, m: Buffer, w: number): number {
    m[w] = TAG_TEXT
    if (this.encoding === ENCODING_UTF8) {
      let high = 0
      if (n < 48) {
        for (let i = 0; i < n; i++) { const b = buf[s + i] ?? 0; high |= b; m[w + 5 + i] = b }
      } else {
        buf.copy(m, w + 5, s, s + n)
        high = isUtf8(buf.subarray(s, s + n)) ? 0 : 0x80
      }
      if (high < 0x80 || isUtf8(buf.subarray(s, s + n))) {
        put32(m, w + 1, n)
        return w + 5 + n
      }
      // Not valid UTF-8: better-sqlite3's decoding replaces the bad sequences.
      return this.writeString(buf.toString('utf8', s, s + n), m, w)
    }
    // UTF-16: SQLite converts to UTF-8, which only matches ours for well-formed text.
    if ((n & 1) !== 0) throw new BtreeUnsupported('odd UTF-16 text length')
    let str: string
    if (this.encoding === ENCODING_UTF16BE) {
      if (this.swap.length < n) this.swap = Buffer.allocUnsafe(n)
      buf.copy(this.swap, 0, s, s + n)
      str = this.swap.subarray(0, n).swap16().toString('utf16le')
    } else {
      str = buf.toString('utf16le', s, s + n)
    }
    if (!str.isWellFormed()) throw new BtreeUnsupported('UTF-16 text with a lone surrogate')
    return this.writeString(str, m, w)
  }

  /** A decoded string as TEXT's length and UTF-8 bytes (all of them, or BtreeUnsupported). */
  private writeString (str: string, m: Buffer, w: number): number {
    const len = m.write(str, w + 5, 'utf8')
    if (len !== Buffer.byteLength(str, 'utf8')) throw new BtreeUnsupported('text does not fit the room reserved for it')
    m.writeUInt32BE(len, w + 1)
    return w + 5 + len
  }
}

/** Big-endian u32 at `at` (without Buffer's argument checks: this runs per value). */
function put32 (m: Buffer, at: number, v: number): void {
  m[at] = v >>> 24
  m[at + 1] = (v >>> 16) & 0xff
  m[at + 2] = (v >>> 8) & 0xff
  m[at + 3] = v & 0xff
}

/** The value of an integer of serial type 1…5, 8 or 9 (at most 48 bits: exact as a number). */
function smallInt (buf: Buffer, s: number, t: number): number {
  if (t === 8) return 0
  if (t === 9) return 1
  return buf.readIntBE(s, FIXED[t] ?? 1)
}

function grow (a: Float64Array<ArrayBuffer>): Float64Array<ArrayBuffer> {
  const b = new Float64Array(a.length * 2)
  b.set(a)
  return b
}

/**
 * Row count and Merkle root of a table, from the file's pages (throws BtreeUnsupported), and how
 * many rows the WebAssembly encoder encoded. `source`: the whole file's bytes, when the caller
 * holds them (verify --deep has just read and hashed them): its pages are read from there.
 */
export function fastTableRoot (path: string, plan: FastPlan, onRows?: (n: number) => void, mode?: LeafEncoderMode | 'native', source?: Buffer): { rows: number, root: Uint8Array, wasmRows: number } {
  const f = new PageFile(path, source ?? (mode === 'native' ? readFileSync(path) : undefined))
  try {
    // 'native' (tests): the native row walker's answer alone (native-rows.ts), a decline thrown as
    // this walker's refusal. Where the bytes are held whole (a load thread's download, verify
    // --deep's small block) it is asked first (unless PETAL_NATIVE_ROWS=0): its answer is this
    // walker's, or it declines and this one answers (docs/performance/pull.md, "Session 57: the
    // walker weighed in quiet pulls (lead)").
    const native = mode === 'native' || (mode !== 'js' && source !== undefined && nativeRowsFirst()) ? nativeRows() : undefined
    if (native !== undefined || mode === 'native') {
      const r = native === undefined ? 0 : nativeTableRoot(native, f.bytes ?? Buffer.alloc(0), f.header, plan.root, plan.withoutRowid, nativePlanOf(plan))
      if (typeof r !== 'number') {
        onRows?.(r.rows)
        return { rows: r.rows, root: r.root, wasmRows: 0 }
      }
      if (mode === 'native') throw new BtreeUnsupported(`native walker declined: ${native === undefined ? 'not loaded' : DECLINES[r] ?? String(r)}`)
    }
    const writer = new LeafWriter(f, plan, onRows, mode)
    const rows = walkBtree(f, plan.root, plan.withoutRowid, writer.onRecord, writer.onLeaf)
    if (rows !== writer.tree.size) throw new BtreeUnsupported('row count mismatch')
    writer.progress(0)
    return { rows, root: writer.tree.root(), wasmRows: writer.wasmRows }
  } finally {
    f.close()
  }
}

// Plans in rows.c's form, by plan (read.ts keeps one plan per table schema).
const nativePlans = new WeakMap<FastPlan, NativePlan>()

function nativePlanOf (plan: FastPlan): NativePlan {
  let p = nativePlans.get(plan)
  if (p === undefined) {
    p = { fields: Int32Array.from(plan.fields), flags: Uint8Array.from(plan.fields, (_, c) => (plan.real[c] === true ? FLAG_REAL : 0) | (plan.hasDefault[c] === true ? FLAG_DEFAULT : 0)) }
    nativePlans.set(plan, p)
  }
  return p
}

/** A rowid table's leaves, in order, with their row counts (for splitting over threads). */
export function fastTableLeaves (path: string, plan: FastPlan, source?: Buffer): { pages: number[], cells: number[] } {
  if (plan.withoutRowid) throw new BtreeUnsupported('not a rowid table')
  const f = new PageFile(path, source)
  try {
    return tableLeaves(f, plan.root)
  } finally {
    f.close()
  }
}

/** The perfect subtrees over `take` rows of `pages` after skipping `skip` cells (a worker's chunk). */
export function fastChunkNodes (path: string, plan: FastPlan, pages: readonly number[], skip: number, take: number, mode?: LeafEncoderMode): { rows: number, nodes: Array<{ hash: Uint8Array, size: number }> } {
  const f = new PageFile(path)
  try {
    const writer = new LeafWriter(f, plan, undefined, mode)
    const rows = walkLeaves(f, pages, skip, take, writer.onRecord, writer.onLeaf)
    if (rows !== writer.tree.size) throw new BtreeUnsupported('row count mismatch')
    return { rows, nodes: writer.tree.nodes() }
  } finally {
    f.close()
  }
}
