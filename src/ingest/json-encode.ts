import { isUtf8 } from 'node:buffer'
import { colsOf, PLAIN_TEXT, type Col } from './json-columns.js'
import { escapedString } from './json-escaped.js'
import { PackedRows, varintSize } from './record-pack.js'
import { COMPACT, writeVarint } from './row-codec.js'
import type { ColumnKind, TableSchema } from './schema.js'

/**
 * The fast lane of JSON ingestion: records read from the request's bytes straight into
 * pending.db's row encoding (row-codec.ts), with no row objects, no BigInt per integer and no
 * second pass to type and encode them. It takes only the plain case: rows of an existing table
 * created from rows (not declared), every field an existing column spelled exactly as it is, each
 * value of a type that column takes as it is (typing.ts stores such rows unchanged), integers of
 * up to 15 digits, no BLOBs. For anything else, including every error, it returns undefined, and
 * the exact reader (json.ts) and typing (typing.ts) take the input and give their answer and
 * their coded error: this lane never refuses and never accepts what they would not. The encoding
 * is byte for byte PendingRowEncoder's of the rows they produce (test/unit/ingest/json-encode.test.ts).
 */
const NULL = 0
const INTEGER = 1
const REAL = 2
const TEXT = 3
const QUOTE = 0x22
const BACKSLASH = 0x5c

const takesInteger = (k: ColumnKind): boolean => k === 'INTEGER' || k === 'REAL' || k === 'NUMERIC' || k === 'ANY'
const takesReal = (k: ColumnKind): boolean => k === 'REAL' || k === 'NUMERIC' || k === 'ANY'
const takesText = (k: ColumnKind): boolean => k === 'TEXT' || k === 'ANY'

/** Thrown inside the lane to leave it; never escapes encodeJsonRows. */
const BAIL = Symbol('bail')
const isSpace = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09
const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39
/** 10^0 … 10^22: the powers of ten a double holds exactly. */
const POW10 = Array.from({ length: 23 }, (_, k) => Number(`1e${k}`))

// Buffer.prototype is a dictionary-mode object to V8: optimised code loads anything found through
// it (`out.subarray`, `writeDoubleBE`, a view's `buffer` and `byteOffset`) with the generic LoadIC,
// ~150 instructions a load (docs/performance/ingest.md, "Session 24: ingest"). The record is a view made
// by Buffer.from on the output's ArrayBuffer, and numbers are written through a DataView.
const FROM = Buffer.from

/**
 * Encode `input` (a JSON array of objects, or NDJSON) for `table` as the data of one pending
 * record (record-pack.ts: each row after its length, or a lone row as it is), written as it is
 * read, or undefined when the input is not in the plain case above (then parseRecords and
 * append() must take it). At most `maxRows` rows.
 */
export function encodeJsonRecord (input: Uint8Array, format: 'json' | 'ndjson', table: TableSchema, maxRows: number): PackedRows | undefined {
  if (table.declared !== undefined || !isUtf8(input)) return undefined
  const lane = new Lane(Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength), table, maxRows)
  try {
    return format === 'json' ? lane.array() : lane.lines()
  } catch (err) {
    if (err === BAIL) return undefined
    throw err
  }
}

/** encodeJsonRecord's rows one by one (the tests compare each with PendingRowEncoder's). */
export const encodeJsonRows = (input: Uint8Array, format: 'json' | 'ndjson', table: TableSchema, maxRows: number): Buffer[] | undefined => encodeJsonRecord(input, format, table, maxRows)?.rows()

class Lane {
  private pos = 0
  private out: Buffer
  /** The input's and the output's bytes as DataViews: `text` moves four at a time. */
  private readonly bv: DataView
  private ov: DataView
  private at = 0
  /** Rows written, the sum of their sizes, the largest, and where the first one's bytes start. */
  private n = 0
  private bytes = 0
  private largest = 0
  private first = 0
  private readonly cols: Col[]
  /** Column index of each field position in the previous row (rows repeat their layout). */
  private readonly layout: number[] = []
  /** Row number (+1) in which each column was last seen: duplicates leave the lane. */
  private readonly seen: Int32Array

  constructor (private readonly b: Buffer, table: TableSchema, private readonly maxRows: number) {
    this.cols = colsOf(table)
    this.seen = new Int32Array(this.cols.length)
    this.out = Buffer.allocUnsafe(b.length * 2 + 256)
    this.bv = new DataView(b.buffer, b.byteOffset, b.length)
    this.ov = new DataView(this.out.buffer, this.out.byteOffset, this.out.length)
    // A byte-order mark, as parseRecords drops it.
    if (b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) this.pos = 3
  }

  private packed (): PackedRows {
    if (this.n === 0) throw BAIL // no rows: append() answers that
    const ab = this.out.buffer
    const base = this.out.byteOffset
    // A record of one row is the row as it is, without its length (record-pack.ts).
    const data = this.n === 1 ? FROM(ab, base + this.first, this.at - this.first) : FROM(ab, base, this.at)
    return new PackedRows(data, this.n, this.bytes, this.largest)
  }

  private space (): void {
    while (isSpace(this.b[this.pos] ?? -1)) this.pos++
  }

  array (): PackedRows {
    const b = this.b
    this.space()
    if (b[this.pos] !== 0x5b) throw BAIL
    this.pos++
    this.space()
    if (b[this.pos] === 0x5d) throw BAIL
    for (;;) {
      this.row()
      this.space()
      const c = b[this.pos++]
      if (c === 0x5d) break
      if (c !== 0x2c) throw BAIL
      this.space()
    }
    this.space()
    if (this.pos < b.length) throw BAIL
    return this.packed()
  }

  lines (): PackedRows {
    const b = this.b
    for (;;) {
      while (b[this.pos] === 0x20 || b[this.pos] === 0x09) this.pos++
      if (this.pos >= b.length) break
      if (b[this.pos] === 0x0a || b[this.pos] === 0x0d) { this.pos++; continue }
      this.row()
      while (b[this.pos] === 0x20 || b[this.pos] === 0x09) this.pos++
      if (this.pos < b.length && b[this.pos] !== 0x0a && b[this.pos] !== 0x0d) throw BAIL
    }
    return this.packed()
  }

  private ensure (n: number): void { if (this.at + n > this.out.length) this.grow(n) } // small, so inlined

  private grow (n: number): void {
    let size = this.out.length * 2
    while (size < this.at + n) size *= 2
    const next = Buffer.allocUnsafe(size)
    this.out.copy(next, 0, 0, this.at)
    this.out = next
    this.ov = new DataView(next.buffer, next.byteOffset, next.length)
  }

  private row (): void {
    const b = this.b
    if (this.n >= this.maxRows) throw BAIL
    if (b[this.pos] !== 0x7b) throw BAIL
    this.pos++
    const stamp = this.n + 1
    this.ensure(2)
    // The row's length goes first: one byte is kept for it, the usual size (end()).
    const lengthAt = this.at++
    this.out[this.at++] = COMPACT
    let count = 0
    this.space()
    if (b[this.pos] === 0x7d) throw BAIL // an empty record: rare, left to the exact reader
    for (;;) {
      this.space()
      if (b[this.pos] !== QUOTE) throw BAIL
      const ci = this.key(count)
      if (this.seen[ci] === stamp) throw BAIL
      this.seen[ci] = stamp
      this.layout[count] = ci
      count++
      const col = this.cols[ci] as Col
      // The column's index (a varint of at most 2 bytes: SQLite allows 2,000 columns) and a value's
      // tag and 8 bytes; texts ensure their own room.
      this.ensure(3 + 9)
      if (ci < 0x80) this.out[this.at++] = ci
      else this.at = writeVarint(this.out, ci, this.at)
      this.space()
      if (b[this.pos] !== 0x3a) throw BAIL
      this.pos++
      this.space()
      this.value(col.kind)
      this.space()
      const c = b[this.pos++]
      if (c === 0x7d) break
      if (c !== 0x2c) throw BAIL
    }
    this.end(lengthAt)
  }

  /** A row's end: its length written at `at`, before its bytes (moved on by longRow when it takes more than a byte). */
  private end (at: number): void {
    const n = this.at - at - 1
    let width = 1
    if (n < 0x80) this.out[at] = n
    else width = this.longRow(at, n)
    if (this.n === 0) this.first = at + width
    this.n++
    this.bytes += n
    if (n > this.largest) this.largest = n
  }

  private longRow (at: number, n: number): number {
    const width = varintSize(n)
    this.ensure(width - 1)
    this.out.copyWithin(at + width, at + 1, this.at)
    writeVarint(this.out, n, at)
    this.at += width - 1
    return width
  }

  /** The column a field name names, exactly; the field's position predicts it. */
  private key (position: number): number {
    const b = this.b
    const start = this.pos + 1
    // The usual case first: the field the position predicts, spelled byte for byte and closed by
    // a quote (its name holds no byte that would need escaping, so these bytes are the key whole).
    const guess = this.layout[position]
    if (guess !== undefined) {
      const name = (this.cols[guess] as Col).name
      const n = name.length
      const end = start + n
      if ((this.cols[guess] as Col).plain && b[end] === QUOTE) {
        let i = 0
        while (i < n && name[i] === b[start + i]) i++
        if (i === n) {
          this.pos = end + 1
          return guess
        }
      }
    }
    return this.anyKey(start)
  }

  /** key() when the position's guess is not the field: out of line, so that row() inlines key() whole. */
  private anyKey (start: number): number {
    const b = this.b
    let end = start
    for (;; end++) {
      const c = b[end]
      if (c === undefined || c === BACKSLASH || c < 0x20) throw BAIL
      if (c === QUOTE) break
    }
    this.pos = end + 1
    // A name like "1" would come first among an object's keys, whatever its place in the record.
    if (isDigit(b[start] ?? -1)) throw BAIL
    for (let i = 0; i < this.cols.length; i++) if (this.nameIs(i, start, end)) return i
    throw BAIL // a new column, or a column spelled otherwise
  }

  private nameIs (ci: number, start: number, end: number): boolean {
    const name = (this.cols[ci] as Col).name
    if (name.length !== end - start) return false
    for (let i = 0; i < name.length; i++) if (name[i] !== this.b[start + i]) return false
    return true
  }

  private value (kind: ColumnKind): void {
    const b = this.b
    const c = b[this.pos] ?? -1
    if (c === QUOTE) { this.text(kind); return }
    if (c === 0x2d || isDigit(c)) { this.number(kind); return }
    if (this.word(0x6e, 'null')) { this.out[this.at++] = NULL; return }
    if (this.word(0x74, 'true')) { this.integer(1, kind); return }
    if (this.word(0x66, 'false')) { this.integer(0, kind); return }
    throw BAIL // an object ({"$base64": …}), an array, or not JSON
  }

  private word (first: number, w: string): boolean {
    if (this.b[this.pos] !== first) return false
    for (let i = 1; i < w.length; i++) if (this.b[this.pos + i] !== w.charCodeAt(i)) return false
    this.pos += w.length
    return true
  }

  private integer (n: number, kind: ColumnKind): void {
    if (!takesInteger(kind)) throw BAIL
    // An int64, big-endian, from a double that holds it exactly (|n| < 2^53).
    const hi = Math.floor(n / 4294967296)
    this.out[this.at] = INTEGER
    // Through the DataView: one store a word, where byte stores check bounds once a byte.
    this.ov.setUint32(this.at + 1, hi >>> 0) // two's complement: the high word of a negative is its uint32
    this.ov.setUint32(this.at + 5, n - hi * 4294967296)
    this.at += 9
  }

  /** As json.ts reads numbers: an integer of up to 15 digits here; longer ones go to the exact reader. */
  private number (kind: ColumnKind): void {
    const b = this.b
    const start = this.pos
    let i = start
    const negative = b[i] === 0x2d
    if (negative) i++
    const first = i
    let n = 0
    if (b[i] === 0x30) {
      i++
    } else if (isDigit(b[i] ?? -1)) {
      for (let c = b[i] ?? -1; isDigit(c); c = b[++i] ?? -1) n = n * 10 + (c - 0x30)
    } else {
      throw BAIL
    }
    const digits = i - first
    let real = false
    // The digits of the fraction go on into `n` (the significand), `fraction` counts them.
    let fraction = 0
    if (b[i] === 0x2e) {
      i++
      if (!isDigit(b[i] ?? -1)) throw BAIL
      for (let c = b[i] ?? -1; isDigit(c); c = b[++i] ?? -1) { n = n * 10 + (c - 0x30); fraction++ }
      real = true
    }
    let exponent = false
    if (b[i] === 0x65 || b[i] === 0x45) {
      i++
      if (b[i] === 0x2b || b[i] === 0x2d) i++
      if (!isDigit(b[i] ?? -1)) throw BAIL
      while (isDigit(b[i] ?? -1)) i++
      real = true
      exponent = true
    }
    this.pos = i
    if (!real) {
      if (digits > 15) throw BAIL
      this.integer(negative ? -n : n, kind)
      return
    }
    if (!takesReal(kind)) throw BAIL
    // Up to 15 digits in all, the significand is an exact integer (< 2^53) and 10^fraction an exact
    // power (fraction <= 22), so one IEEE division rounds correctly: the double Number() gives.
    // Anything longer, or with an exponent, is read by Number().
    let v: number
    if (!exponent && digits + fraction <= 15) {
      v = n / (POW10[fraction] as number)
      if (negative) v = -v
    } else {
      v = Number(b.toString('latin1', start, i))
    }
    this.out[this.at] = REAL
    this.ov.setFloat64(this.at + 1, v) // big-endian, as writeDouble
    this.at += 9
  }

  private text (kind: ColumnKind): void {
    if (!takesText(kind)) throw BAIL
    const b = this.b
    const len = b.length
    const start = this.pos + 1
    // One pass: bytes are copied as they are scanned, after a one-byte length (the usual case; a
    // longer text moves its bytes one place on). `len - start` bounds the text's bytes.
    this.ensure(6 + len - start)
    const out = this.out
    const first = this.at + 2
    // Optimised code re-checks each typed array's map, bounds and data pointer on every byte: the
    // table in a local (not the module's binding, loaded again each byte) and one offset for the copy.
    const shift = first - start
    const plain = PLAIN_TEXT
    let end = start
    // Four bytes at a time while none is a quote, backslash or control byte (SWAR: such a byte sets
    // its lane's top bit in `hit`, a borrow only follows a real one); the byte loop takes the rest.
    const bv = this.bv
    const ov = this.ov
    for (; end + 4 <= len; end += 4) {
      const x = bv.getUint32(end, true) | 0
      const q = x ^ 0x22222222
      const s = x ^ 0x5c5c5c5c
      const hit = ((x - 0x20202020) & ~x) | ((q - 0x01010101) & ~q) | ((s - 0x01010101) & ~s)
      if ((hit & 0x80808080) !== 0) break
      ov.setUint32(end + shift, x, true)
    }
    let c = 0
    for (; end < len; end++) {
      c = b[end] as number
      if (plain[c] === 0) break
      out[end + shift] = c
    }
    if (end >= len || c !== QUOTE) { this.escapedText(start); return }
    this.pos = end + 1
    const n = end - start
    out[this.at] = TEXT
    if (n < 0x80) {
      out[this.at + 1] = n
      this.at = first + n
      return
    }
    // The bytes move first: the length's second byte would overwrite the text's first.
    const width = n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5
    out.copyWithin(first + width - 1, first, first + n)
    this.at = writeVarint(out, n, this.at + 1) + n
  }

  /** A text with an escape (or a control character, or no end: BAIL), from `start`, its first byte. */
  private escapedText (start: number): void {
    const t = escapedString(this.b, start)
    if (t === undefined) throw BAIL
    this.pos = t.end + 1
    const n = Buffer.byteLength(t.text, 'utf8')
    this.ensure(6 + n)
    this.out[this.at] = TEXT
    this.at = writeVarint(this.out, n, this.at + 1)
    this.at += this.out.write(t.text, this.at, 'utf8')
  }
}
