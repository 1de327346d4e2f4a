import { formatReceipt } from './receipt-id.js'
import type { AppendResult } from './types.js'

/**
 * From this many receipts on, their JSON is written as bytes; fewer are made as a string. A
 * string of 100 receipts cost ~130 k instructions a request more than its bytes: 600 string
 * additions, 100 numbers turned to strings, the flattening of the result, then its UTF-8 length
 * and its encoding by the socket (docs/performance/ingest.md, "Session 24: ingest"); a lone receipt's
 * string is one addition, and node:http's reply then goes out in one write.
 */
const BYTES_FROM = 2
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
 * written from the range when they are more.
 */
export function receiptsJson (r: AppendResult): string | Buffer {
  return receiptsBody(r, '', '')
}

/**
 * `head`, the receipts' JSON array and `tail`: one string, or one Buffer (the array's bytes written
 * between the head's and the tail's, no second buffer and no concatenation).
 */
export function receiptsBody (r: AppendResult, head: string, tail: string): string | Buffer {
  if (!(r instanceof AppendedRows)) return `${head}${JSON.stringify(r.receipts)}${tail}`
  if (r.count >= BYTES_FROM) return rangeJson(r.instance, r.first, r.count, head, tail)
  // Receipt ids need no escaping (base32 letters, a dash, digits): written out, without the
  // array of strings and the serializer.
  let s = `${head}[`
  for (let i = 0; i < r.count; i++) s += `${i === 0 ? '' : ','}"${formatReceipt(r.instance, r.first + i)}"`
  return `${s}]${tail}`
}

const QUOTE = 0x22
const COMMA = 0x2c
const DASH = 0x2d
const NINE = 0x39
/** Read once: Buffer.prototype is a dictionary-mode object to V8, whose methods optimised code loads through the generic IC. */
const COPY_WITHIN = Uint8Array.prototype.copyWithin

/**
 * `head["<instance>-<first>",…]tail` for `count` (> 0) consecutive ids: the first id written byte
 * by byte, each next one a native copy of the one before whose digits are then counted up in place
 * (a byte loop over every id cost ~20 instructions a byte, twice this).
 */
function rangeJson (instance: string, first: number, count: number, head: string, tail: string): Buffer {
  const digits = String(first)
  const headBytes = Buffer.byteLength(head)
  const out = Buffer.allocUnsafe(headBytes + 2 + count * (instance.length + String(first + count - 1).length + 4) + Buffer.byteLength(tail))
  let at = headBytes === 0 ? 0 : out.write(head, 0, 'utf8')
  out[at++] = 0x5b
  let start = at
  out[at++] = QUOTE
  for (let k = 0; k < instance.length; k++) out[at++] = instance.charCodeAt(k)
  out[at++] = DASH
  for (let k = 0; k < digits.length; k++) out[at++] = digits.charCodeAt(k)
  out[at++] = QUOTE
  for (let i = 1; i < count; i++) {
    out[at++] = COMMA
    const n = at - 1 - start // the id before, quotes included
    COPY_WITHIN.call(out, at, start, start + n)
    start = at
    at += n
    // Add one to the digits before the closing quote, carrying left; a carry into the dash
    // (the instance holds none) makes the number one digit longer: 1 and zeros.
    let k = at - 2
    while (out[k] === NINE) out[k--] = 0x30
    if (out[k] === DASH) {
      out[k + 1] = 0x31
      out[at - 1] = 0x30
      out[at++] = QUOTE
    } else {
      out[k] = (out[k] as number) + 1
    }
  }
  out[at++] = 0x5d
  if (tail !== '') at += out.write(tail, at, 'utf8')
  return out.subarray(0, at)
}
