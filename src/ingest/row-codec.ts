import { newRow, setField, type IngestRow, type IngestValue } from './values.js'

/**
 * The encoding of a pending row in pending.db: field count, then per field its name and a typed
 * value (tag + payload, as the block manifest's row encoding). Lossless for every IngestValue;
 * its length is the row's size for limits and sealing budgets.
 */
const NULL = 0
const INTEGER = 1
const REAL = 2
const TEXT = 3
const BLOB = 4

export class PendingRowEncoder {
  private buf = Buffer.allocUnsafe(1 << 16)
  private pos = 0
  /** UTF-8 of field names seen before (the same few names come in every row). */
  private readonly names = new Map<string, Buffer>()

  private ensure (n: number): void {
    if (this.pos + n <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < this.pos + n) size *= 2
    const next = Buffer.allocUnsafe(size)
    this.buf.copy(next, 0, 0, this.pos)
    this.buf = next
  }

  private str (s: string): void {
    this.ensure(4 + s.length * 3)
    const n = this.buf.write(s, this.pos + 4, 'utf8')
    this.buf.writeUInt32BE(n, this.pos)
    this.pos += 4 + n
  }

  private name (s: string): void {
    let b = this.names.get(s)
    if (b === undefined) {
      b = Buffer.from(s, 'utf8')
      if (this.names.size < 10_000) this.names.set(s, b)
    }
    this.ensure(4 + b.length)
    this.buf.writeUInt32BE(b.length, this.pos)
    this.buf.set(b, this.pos + 4)
    this.pos += 4 + b.length
  }

  /** Encode one row into a new Buffer. */
  encode (row: IngestRow): Buffer {
    this.pos = 0
    this.row(row)
    return Buffer.from(this.buf.subarray(0, this.pos))
  }

  /** Encode rows into one buffer: a view per row, valid until the next call (no copy per row). */
  encodeAll (rows: readonly IngestRow[]): Buffer[] {
    this.pos = 0
    const ends: number[] = []
    for (const r of rows) { this.row(r); ends.push(this.pos) }
    let start = 0
    return ends.map(end => { const v = this.buf.subarray(start, end); start = end; return v })
  }

  private row (row: IngestRow): void {
    const countAt = this.pos
    this.ensure(4)
    this.pos += 4
    let count = 0
    for (const name in row) {
      count++
      this.name(name)
      const v = row[name] as IngestValue
      this.ensure(9)
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
        this.str(v)
      } else {
        this.ensure(5 + v.byteLength)
        this.buf[this.pos] = BLOB
        this.buf.writeUInt32BE(v.byteLength, this.pos + 1)
        this.buf.set(v, this.pos + 5)
        this.pos += 5 + v.byteLength
      }
    }
    this.buf.writeUInt32BE(count, countAt)
  }
}

/** Decode a row written by PendingRowEncoder. */
export function decodePendingRow (b: Uint8Array): IngestRow {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength)
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
      default: throw new Error(`pending row: unknown value tag ${String(tag)}`)
    }
    setField(row, name, v)
  }
  return row
}
