/**
 * The values of a record as JavaScript values, for the few small rows of the reserved tables that
 * plain `verify` reads straight from the file's pages (read-pages.ts); the manifest path never
 * builds JavaScript values (fast-rows.ts).
 */
import { BtreeUnsupported, ENCODING_UTF16BE, ENCODING_UTF8, smallVarint, varintLength, walkBtree } from './btree.js'
import type { PageFile } from './page-file.js'

export type RecordValue = null | number | bigint | string | Buffer

/**
 * A record's values as JavaScript values (integers as numbers when safe, else bigints; text in the
 * database's encoding decoded), for the few small rows of the reserved tables.
 */
export function decodeRecord (buf: Buffer, at: number, len: number, encoding: number): RecordValue[] {
  const hdr = smallVarint(buf, at)
  if (hdr > len || hdr < 1) throw new BtreeUnsupported('record header out of range')
  let q = at + varintLength()
  const end = at + hdr
  let body = end
  const out: RecordValue[] = []
  while (q < end) {
    const t = smallVarint(buf, q)
    q += varintLength()
    const size = t < 12 ? ([0, 1, 2, 3, 4, 6, 8, 8, 0, 0, -1, -1][t] ?? -1) : Math.floor((t - 12) / 2)
    if (size < 0 || body + size > at + len) throw new BtreeUnsupported('bad serial type or size')
    if (t === 0) out.push(null)
    else if (t === 8 || t === 9) out.push(t - 8)
    else if (t <= 5) out.push(buf.readIntBE(body, size))
    else if (t === 6) {
      const v = buf.readBigInt64BE(body)
      out.push(v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v)
    } else if (t === 7) {
      const v = buf.readDoubleBE(body)
      out.push(Number.isNaN(v) ? null : v)
    } else if ((t & 1) === 0) out.push(Buffer.from(buf.subarray(body, body + size)))
    else if (encoding === ENCODING_UTF8) out.push(buf.toString('utf8', body, body + size))
    else {
      if ((size & 1) !== 0) throw new BtreeUnsupported('odd UTF-16 text length')
      const b = Buffer.from(buf.subarray(body, body + size))
      const str = (encoding === ENCODING_UTF16BE ? b.swap16() : b).toString('utf16le')
      if (!str.isWellFormed()) throw new BtreeUnsupported('UTF-16 text with a lone surrogate')
      out.push(str)
    }
    body += size
  }
  if (q !== end || body !== at + len) throw new BtreeUnsupported('record sizes disagree')
  return out
}

/** Every row of the table b-tree rooted at `root`, decoded (for small tables only). */
export function readTableRows (f: PageFile, root: number, maxRows: number): RecordValue[][] {
  const rows: RecordValue[][] = []
  walkBtree(f, root, false, (buf, at, len) => {
    if (rows.length >= maxRows) throw new BtreeUnsupported('too many rows')
    rows.push(decodeRecord(buf, at, len, f.header.encoding))
  })
  return rows
}
