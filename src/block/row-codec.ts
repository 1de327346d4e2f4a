/**
 * Canonical encoding of SQLite values and rows, the input of per-row Merkle leaves. Each value is
 * a one-byte type tag followed by a fixed-size or length-prefixed payload, so two different rows
 * never encode to the same bytes. Specified with vectors in docs/block-format.md.
 */
export type SqlValue = null | bigint | number | string | Uint8Array

export const TAG_NULL = 0x00
export const TAG_INTEGER = 0x01
export const TAG_REAL = 0x02
export const TAG_TEXT = 0x03
export const TAG_BLOB = 0x04

// The int64 range: a bigint outside it has no 8-byte encoding (setBigInt64 would wrap it, so
// that 2^64 + 5 encoded as 5: refused, as Buffer's writeBigInt64BE refused it).
const INT64_MIN = -(2n ** 63n)
const INT64_MAX = 2n ** 63n - 1n

/** Reusable growable buffer: encoding millions of rows must not allocate per value. */
export class RowEncoder {
  private buf = Buffer.allocUnsafe(4096)
  // Integers and reals are written through a DataView: Buffer's writeBigInt64BE splits a bigint
  // with BigInt arithmetic (new bigints, garbage per value) and both are interpreted JavaScript of
  // Node's, where a DataView's setters are V8 builtins (docs/performance/import.md, "Session 24: the
  // 100-row import").
  private view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.length)
  private pos = 0

  private ensure (n: number): void {
    if (this.pos + n <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < this.pos + n) size *= 2
    const next = Buffer.allocUnsafe(size)
    // TypedArray's set (a V8 builtin), not Buffer's copy (Node's JavaScript, compiled at its first
    // call: a 100-row table's leaves outgrow the first 4 KiB).
    next.set(new Uint8Array(this.buf.buffer, this.buf.byteOffset, this.pos))
    this.buf = next
    this.view = new DataView(next.buffer, next.byteOffset, next.length)
  }

  /** Encode one row (values in column order) and return a view valid until the next call. */
  encode (values: readonly SqlValue[]): Buffer {
    return this.encodeFrom(values, 0, false)
  }

  /**
   * Encode `values[from…]` preceded by the Merkle leaf prefix byte 0x00, ready for one-shot
   * hashing. `from` skips leading helper columns (the rowid used for chunked reads).
   */
  encodeLeaf (values: readonly SqlValue[], from = 0): Buffer {
    return this.encodeFrom(values, from, true)
  }

  /**
   * Append `values` as a leaf (0x00 ‖ encoding) after the leaves appended since the last reset()
   * and return where it ends: a small table's leaves in one buffer, hashed in one call.
   */
  appendLeaf (values: readonly SqlValue[]): number {
    const start = this.pos
    this.ensure(5)
    this.buf[start] = 0x00
    this.view.setUint32(start + 1, values.length)
    this.pos = start + 5
    for (let i = 0; i < values.length; i++) {
      const v = values[i]
      if (v === undefined) throw new TypeError(`row value ${i} is missing`)
      this.value(v)
    }
    return this.pos
  }

  /** The leaves appended since the last reset() (a view valid until the next call). */
  appended (): Buffer {
    return this.buf.subarray(0, this.pos)
  }

  reset (): void {
    this.pos = 0
  }

  private encodeFrom (values: readonly SqlValue[], from: number, leaf: boolean): Buffer {
    const start = leaf ? 1 : 0
    this.pos = 0
    this.ensure(start + 4)
    if (leaf) this.buf[0] = 0x00
    this.view.setUint32(start, values.length - from)
    this.pos = start + 4
    for (let i = from; i < values.length; i++) {
      const v = values[i]
      if (v === undefined) throw new TypeError(`row value ${i} is missing`)
      this.value(v)
    }
    return this.buf.subarray(0, this.pos)
  }

  private value (v: SqlValue): void {
    if (v === null) {
      this.ensure(1)
      this.buf[this.pos++] = TAG_NULL
    } else if (typeof v === 'bigint') {
      this.ensure(9)
      if (v < INT64_MIN || v > INT64_MAX) throw new RangeError(`integer ${v} is outside the 64-bit range`)
      this.buf[this.pos] = TAG_INTEGER
      this.view.setBigInt64(this.pos + 1, v)
      this.pos += 9
    } else if (typeof v === 'number') {
      // Only REAL reaches here: rows are read with safeIntegers, so INTEGER arrives as bigint.
      this.ensure(9)
      this.buf[this.pos] = TAG_REAL
      this.view.setFloat64(this.pos + 1, v)
      this.pos += 9
    } else if (typeof v === 'string') {
      const len = Buffer.byteLength(v, 'utf8')
      this.ensure(5 + len)
      this.buf[this.pos] = TAG_TEXT
      this.view.setUint32(this.pos + 1, len)
      this.buf.write(v, this.pos + 5, len, 'utf8')
      this.pos += 5 + len
    } else {
      this.ensure(5 + v.length)
      this.buf[this.pos] = TAG_BLOB
      this.view.setUint32(this.pos + 1, v.length)
      this.buf.set(v, this.pos + 5)
      this.pos += 5 + v.length
    }
  }
}

export function encodeRow (values: readonly SqlValue[]): Uint8Array {
  return new Uint8Array(new RowEncoder().encode(values))
}
