import { IngestError } from './errors.js'
import type { Column, TableSchema } from './schema.js'
import { newRow, setField, type IngestRow, type IngestValue } from './values.js'

/**
 * The encoding of a pending row in pending.db (`rows.data`); its length is the row's size for
 * limits and sealing budgets. Lossless for every IngestValue, and the field order is kept (the
 * sealer inserts the row's fields in that order, as an INSERT with those columns would).
 *
 * Layout 2 (written now): byte 0 is 1, then per field its column's index in the table's columns
 * (pending.db `tables`) as an unsigned LEB128 varint, a tag and the value: NULL nothing, INTEGER and
 * REAL 8 bytes big-endian, TEXT and BLOB a varint byte length and the bytes. A table's columns are
 * only ever added at the end (schema.ts, extendTable), so an index names the same column for as
 * long as the table exists. The field names that layout 1 wrote in every row were about half of a
 * typical row's bytes, and so of its WAL bytes (docs/performance/ingest.md, "Session 9: ingest").
 *
 * Layout 1 (rows acknowledged before the upgrade, still read): a uint32 field count (so byte 0 is
 * 0: a row has at most 2,000 fields), then per field a uint32-prefixed UTF-8 name and the tag with
 * a uint32-prefixed TEXT or BLOB.
 */
export const COMPACT = 1
const NULL = 0
const INTEGER = 1
const REAL = 2
const TEXT = 3
const BLOB = 4

/** Each table's column index by exact name, made once per TableSchema (one per version of the table). */
const INDEX = new WeakMap<TableSchema, Map<string, number>>()

function indexOf (table: TableSchema): Map<string, number> {
  let m = INDEX.get(table)
  if (m === undefined) {
    m = new Map(table.columns.map((c, i) => [c.name, i]))
    INDEX.set(table, m)
  }
  return m
}

/** Write `n` (< 2^35) as an unsigned LEB128 varint at `at` (room ensured); returns the position after it. */
export function writeVarint (buf: Uint8Array, n: number, at: number): number {
  while (n >= 0x80) {
    buf[at++] = (n % 0x80) | 0x80
    n = Math.floor(n / 0x80)
  }
  buf[at++] = n
  return at
}

/** A double's 8 bytes in this machine's order (the sign and exponent byte of 2 is last when little-endian). */
const F64 = new Float64Array([2])
const F64_BYTES = new Uint8Array(F64.buffer)
const LITTLE_ENDIAN = F64_BYTES[7] === 0x40

/**
 * `v` big-endian at `at` (8 bytes of room), as writeDoubleBE: without loading that method through
 * Buffer.prototype, which optimised code does with the generic IC (docs/performance/ingest.md, "Session 24: ingest").
 */
export function writeDouble (out: Uint8Array, v: number, at: number): void {
  if (!LITTLE_ENDIAN) { new DataView(out.buffer, out.byteOffset).setFloat64(at, v); return }
  F64[0] = v
  const f = F64_BYTES
  out[at] = f[7] as number
  out[at + 1] = f[6] as number
  out[at + 2] = f[5] as number
  out[at + 3] = f[4] as number
  out[at + 4] = f[3] as number
  out[at + 5] = f[2] as number
  out[at + 6] = f[1] as number
  out[at + 7] = f[0] as number
}

export class PendingRowEncoder {
  private buf = Buffer.allocUnsafe(1 << 16)
  private pos = 0

  private ensure (n: number): void {
    if (this.pos + n <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < this.pos + n) size *= 2
    const next = Buffer.allocUnsafe(size)
    this.buf.copy(next, 0, 0, this.pos)
    this.buf = next
  }

  private bytes (n: number): void {
    this.ensure(5 + n)
    this.pos = writeVarint(this.buf, n, this.pos)
  }

  /** Encode one row of `table` (its fields spelled as the table's columns) into a new Buffer. */
  encode (row: IngestRow, table: TableSchema): Buffer {
    this.pos = 0
    this.row(row, indexOf(table), table.name)
    return Buffer.from(this.buf.subarray(0, this.pos))
  }

  /** Encode rows of `table` into one buffer: a view per row, valid until the next call (no copy per row). */
  encodeAll (rows: readonly IngestRow[], table: TableSchema): Buffer[] {
    this.pos = 0
    const index = indexOf(table)
    const ends: number[] = []
    for (const r of rows) { this.row(r, index, table.name); ends.push(this.pos) }
    let start = 0
    return ends.map(end => { const v = this.buf.subarray(start, end); start = end; return v })
  }

  private row (row: IngestRow, index: Map<string, number>, table: string): void {
    this.ensure(1)
    this.buf[this.pos++] = COMPACT
    for (const name in row) {
      const ci = index.get(name)
      // Typing spells every field as its column (typing.ts): anything else is a bug, not input.
      if (ci === undefined) throw new Error(`pending row: field ${JSON.stringify(name)} is not a column of ${table}`)
      this.ensure(5 + 9)
      this.pos = writeVarint(this.buf, ci, this.pos)
      const v = row[name] as IngestValue
      if (v === null) {
        this.buf[this.pos++] = NULL
      } else if (typeof v === 'bigint') {
        this.buf[this.pos] = INTEGER
        this.buf.writeBigInt64BE(v, this.pos + 1)
        this.pos += 9
      } else if (typeof v === 'number') {
        this.buf[this.pos] = REAL
        this.buf.writeDoubleBE(v, this.pos + 1)
        this.pos += 9
      } else if (typeof v === 'string') {
        this.buf[this.pos++] = TEXT
        const n = Buffer.byteLength(v, 'utf8')
        this.bytes(n)
        this.buf.write(v, this.pos, 'utf8')
        this.pos += n
      } else {
        this.buf[this.pos++] = BLOB
        this.bytes(v.byteLength)
        this.buf.set(v, this.pos)
        this.pos += v.byteLength
      }
    }
  }
}

/**
 * Decode a pending row of either layout. `columns`: the columns of the row's table as pending.db
 * holds them now (a layout-2 row names its fields by index); a row naming a column past them, cut
 * short, or of an encoding this Petal does not know is refused with INGEST_ROW_UNREADABLE (written
 * by a newer Petal, a bug or a damaged file, never input). The seal fails and the row stays
 * pending, not set aside: a Petal that can read it may still seal it.
 */
export function decodePendingRow (b: Uint8Array, columns: readonly Column[]): IngestRow {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength)
  try {
    if (buf[0] === COMPACT) return decodeCompact(buf, columns)
    if (buf[0] !== 0 || buf.length < 4) throw new Error(`unknown layout (first byte ${String(buf[0])})`)
    return decodeNamed(buf)
  } catch (err) {
    // Out-of-range reads of a damaged layout-1 row throw RangeError: every failure is the same refusal.
    throw new IngestError('INGEST_ROW_UNREADABLE', `pending row: ${(err as Error).message}`, {
      hint: 'run every process on this data directory (node, `petal append`, `petal seal`) with the same version of Petal: a newer one may have written this row; do not delete pending.db',
      cause: err
    })
  }
}

function decodeCompact (buf: Buffer, columns: readonly Column[]): IngestRow {
  const row = newRow()
  let pos = 1
  const cut = (n: number): void => { if (pos + n > buf.length) throw new Error('cut short') }
  const varint = (): number => {
    let n = 0
    let scale = 1
    for (let i = 0; i < 5; i++) {
      cut(1)
      const c = buf[pos++] as number
      n += (c & 0x7f) * scale
      if (c < 0x80) return n
      scale *= 0x80
    }
    throw new Error('varint too long')
  }
  while (pos < buf.length) {
    const ci = varint()
    const col = columns[ci]
    if (col === undefined) throw new Error(`column ${ci} of a table with ${columns.length} columns`)
    cut(1)
    const tag = buf[pos++]
    let v: IngestValue
    switch (tag) {
      case NULL: v = null; break
      case INTEGER: cut(8); v = buf.readBigInt64BE(pos); pos += 8; break
      case REAL: cut(8); v = buf.readDoubleBE(pos); pos += 8; break
      case TEXT: { const n = varint(); cut(n); v = buf.toString('utf8', pos, pos + n); pos += n; break }
      case BLOB: { const n = varint(); cut(n); v = new Uint8Array(buf.subarray(pos, pos + n)); pos += n; break }
      default: throw new Error(`unknown value tag ${String(tag)}`)
    }
    setField(row, col.name, v)
  }
  return row
}

/** A row of layout 1 (field names in the row). */
function decodeNamed (buf: Buffer): IngestRow {
  const row = newRow()
  let pos = 4
  const str = (): string => {
    const n = buf.readUInt32BE(pos)
    const s = buf.toString('utf8', pos + 4, pos + 4 + n)
    pos += 4 + n
    return s
  }
  const count = buf.readUInt32BE(0)
  for (let i = 0; i < count; i++) {
    const name = str()
    const tag = buf[pos++]
    let v: IngestValue
    switch (tag) {
      case NULL: v = null; break
      case INTEGER: v = buf.readBigInt64BE(pos); pos += 8; break
      case REAL: v = buf.readDoubleBE(pos); pos += 8; break
      case TEXT: v = str(); break
      case BLOB: {
        const n = buf.readUInt32BE(pos)
        v = new Uint8Array(buf.subarray(pos + 4, pos + 4 + n))
        pos += 4 + n
        break
      }
      default: throw new Error(`unknown value tag ${String(tag)}`)
    }
    setField(row, name, v)
  }
  return row
}
