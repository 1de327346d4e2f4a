import { writeVarint } from './row-codec.js'

/**
 * A pending record (pending.db layout 3): the rows of one append are ONE `rows` record, so a
 * 100-row request is one B-tree insert and fewer WAL frames than 100 (docs/performance/ingest.md,
 * "Session 36: ingest"). A record's id is the number of its LAST row, `n` its row count: it holds
 * rows `id - n + 1` … `id`, so SQLite's own rowid (max + 1) is the next free row number for a
 * lone row, and receipts, placements and problems keep naming single rows. A record of one row
 * holds the row's encoding as it is (every record of layouts 1 and 2); a record of several holds
 * each row as an unsigned LEB128 varint length and the row's bytes.
 */

/**
 * An append's rows as the data of its one record (packRows' format), with what the append checks
 * of them: their number, the sum of their sizes (the record's `bytes`) and the largest. The JSON
 * lane writes this directly (json-encode.ts): no view and no copy per row.
 */
export class PackedRows {
  constructor (readonly data: Buffer, readonly n: number, readonly bytes: number, readonly largest: number) {}

  static of (rows: readonly Buffer[]): PackedRows {
    let largest = 0
    for (let i = 0; i < rows.length; i++) largest = Math.max(largest, (rows[i] as Buffer).length)
    return new PackedRows(packRows(rows), rows.length, rowsBytes(rows), largest)
  }

  /** The rows, as views of `data`. */
  rows (): Buffer[] {
    return unpackRows(this.data, this.n)
  }
}

/** The record data of `rows` (at least one). */
export function packRows (rows: readonly Uint8Array[]): Buffer {
  if (rows.length === 1) { const r = rows[0] as Uint8Array; return Buffer.isBuffer(r) ? r : Buffer.from(r.buffer, r.byteOffset, r.byteLength) }
  let size = 0
  for (let i = 0; i < rows.length; i++) size += (rows[i] as Uint8Array).length + varintSize((rows[i] as Uint8Array).length)
  const out = Buffer.allocUnsafe(size)
  let at = 0
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i] as Uint8Array
    at = writeVarint(out, r.length, at)
    out.set(r, at)
    at += r.length
  }
  return out
}

/** Sum of the rows' sizes (a record's `bytes`: sealing budgets count rows, not the varints). */
export function rowsBytes (rows: readonly Uint8Array[]): number {
  let n = 0
  for (let i = 0; i < rows.length; i++) n += (rows[i] as Uint8Array).length
  return n
}

/** The rows of a record of `n` rows, as views of `data`. */
export function unpackRows (data: Buffer, n: number): Buffer[] {
  if (n === 1) return [data]
  const out: Buffer[] = []
  let at = 0
  while (at < data.length) {
    let len = 0
    let mul = 1
    for (;;) {
      const c = data[at++]
      if (c === undefined) throw new Error('pending record: truncated row length')
      len += (c & 0x7f) * mul
      if (c < 0x80) break
      mul *= 0x80
    }
    if (at + len > data.length) throw new Error('pending record: truncated row')
    out.push(data.subarray(at, at + len))
    at += len
  }
  if (out.length !== n) throw new Error(`pending record: ${out.length} rows where ${n} were recorded`)
  return out
}

export function varintSize (n: number): number {
  let s = 1
  while (n >= 0x80) { n = Math.floor(n / 0x80); s++ }
  return s
}
