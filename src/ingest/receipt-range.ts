import { formatReceipt } from './receipt-id.js'
import type { AppendResult } from './types.js'

/** Below this many receipts, their JSON is made as a string; from it on, written as bytes. */
const BYTES_FROM = 256

/**
 * An append's result, whose receipts are kept as the range of row ids they name (the ids of one
 * transaction's inserts are consecutive) and made into strings only when read. A reply to 10,000
 * rows made 10,000 strings and joined them (3–5 ms, more than inserting the rows); the API writes
 * the JSON array straight from the range instead (receiptsJson). A class, not a plain object with
 * an accessor: Object.defineProperty and a WeakMap cost more per append than they saved.
 */
export class AppendedRows implements AppendResult {
  private list: string[] | undefined

  constructor (readonly table: string, readonly created: boolean, readonly addedColumns: string[], readonly instance: string, readonly first: number, readonly count: number) {}

  get receipts (): string[] {
    return (this.list ??= Array.from({ length: this.count }, (_, i) => formatReceipt(this.instance, this.first + i)))
  }

  toJSON (): AppendResult {
    return { receipts: this.receipts, table: this.table, created: this.created, addedColumns: this.addedColumns }
  }
}

/** How many rows the append stored (without making its receipt strings). */
export function receiptCount (r: AppendResult): number {
  return r instanceof AppendedRows ? r.count : r.receipts.length
}

/**
 * The receipts as a JSON array of strings, `["ab…-7","ab…-8"]`: a string when they are few, bytes
 * written from the range when they are many.
 */
export function receiptsJson (r: AppendResult): string | Buffer {
  if (!(r instanceof AppendedRows)) return JSON.stringify(r.receipts)
  if (r.count >= BYTES_FROM) return rangeJson(r.instance, r.first, r.count)
  // Receipt ids need no escaping (base32 letters, a dash, digits): written out, without the
  // array of strings and the serializer.
  let s = '['
  for (let i = 0; i < r.count; i++) s += `${i === 0 ? '' : ','}"${formatReceipt(r.instance, r.first + i)}"`
  return s + ']'
}

const QUOTE = 0x22
const COMMA = 0x2c

/** `["<instance>-<first>",…]` for `count` (> 0) consecutive ids, the decimal digits counted up in place. */
function rangeJson (instance: string, first: number, count: number): Buffer {
  const prefix = Buffer.from(`"${instance}-`, 'latin1')
  const maxWidth = String(first + count - 1).length
  const digits = Buffer.alloc(maxWidth)
  let width = String(first).length
  digits.write(String(first), maxWidth - width, 'latin1')
  const out = Buffer.allocUnsafe(2 + count * (prefix.length + maxWidth + 2))
  let at = 0
  out[at++] = 0x5b
  for (let i = 0; i < count; i++) {
    if (i > 0) out[at++] = COMMA
    for (let k = 0; k < prefix.length; k++) out[at++] = prefix[k] as number
    for (let k = maxWidth - width; k < maxWidth; k++) out[at++] = digits[k] as number
    out[at++] = QUOTE
    if (i + 1 === count) break
    // The next id: add one, carrying left; a carry past the top digit adds one.
    let k = maxWidth - 1
    while (k >= maxWidth - width && digits[k] === 0x39) digits[k--] = 0x30
    if (k < maxWidth - width) { width++; digits[k] = 0x31 } else digits[k] = (digits[k] as number) + 1
  }
  out[at++] = 0x5d
  return out.subarray(0, at)
}
