// Varints of a b-tree page rewritten in a longer form than SQLite writes (for the manifest's fuzz,
// manifest-mutants.ts): payload sizes, rowids, interior keys, record header sizes and serial types.
// SQLite reads any form (but a 9-byte payload size, whose last byte it takes 7 bits of); the page
// readers must read them as it does or decline. A longer varint makes its cell longer, so the
// page's cells are laid out again from the end of the page (no freeblocks, no fragments), which
// quick_check accepts when they fit. Also serial types past 32 bits, which SQLite reads as
// 0xffffffff (a corrupt record) and a reader of 53-bit sizes must not wrap.

import { localSize } from '../../src/block/btree.js'

type Rng = () => number
const int = (r: Rng, n: number): number => Math.floor(r() * n)
const MASK64 = (1n << 64n) - 1n

/** SQLite varint at b[p]: its value (unsigned 64-bit) and length. */
export function readVarint (b: Uint8Array, p: number): [bigint, number] {
  let v = 0n
  for (let i = 0; i < 9; i++) {
    const x = b[p + i] ?? 0
    if (i === 8) return [(v << 8n) | BigInt(x), 9]
    v = (v << 7n) | BigInt(x & 0x7f)
    if (x < 0x80) return [v, i + 1]
  }
  return [v, 9]
}

/** The canonical length of `v`'s varint. */
export function varintLength (v: bigint): number {
  const u = v & MASK64
  if (u >= 1n << 56n) return 9
  let n = 1
  while (u >= 1n << BigInt(7 * n)) n++
  return n
}

/** `v` as a varint of exactly `len` bytes (len ≥ its canonical length). */
export function encodeVarint (v: bigint, len: number): Buffer {
  const u = v & MASK64
  const out = Buffer.alloc(len)
  if (len === 9) {
    out[8] = Number(u & 0xffn)
    for (let i = 0; i < 8; i++) out[i] = 0x80 | Number((u >> BigInt(8 + 7 * (7 - i))) & 0x7fn)
    return out
  }
  if (u >= 1n << BigInt(7 * len)) throw new RangeError(`${u} does not fit ${len} bytes`)
  for (let i = 0; i < len; i++) out[i] = (i < len - 1 ? 0x80 : 0) | Number((u >> BigInt(7 * (len - 1 - i))) & 0x7fn)
  return out
}

/** A length from the canonical one to 9, mostly a byte or two longer. */
const longer = (r: Rng, v: bigint): number => {
  const c = varintLength(v)
  return r() < 0.7 ? Math.min(9, c + 1 + int(r, 2)) : c + int(r, 10 - c)
}

interface Cell { child?: Buffer, payload?: bigint, key?: bigint, record?: Buffer, rest: Buffer, lens: { payload: number, key: number } }

/** The cells of a b-tree page, split into their parts (undefined: a page this cannot parse). */
function parseCells (b: Buffer, base: number, h: number, usable: number): Cell[] | undefined {
  const type = b[h] ?? 0
  if (![0x02, 0x05, 0x0a, 0x0d].includes(type)) return undefined
  const interior = type === 0x02 || type === 0x05
  const index = type === 0x02 || type === 0x0a
  const n = b.readUInt16BE(h + 3)
  const cells: Cell[] = []
  for (let i = 0; i < n; i++) {
    let p = base + b.readUInt16BE(h + (interior ? 12 : 8) + 2 * i)
    const cell: Cell = { rest: Buffer.alloc(0), lens: { payload: 0, key: 0 } }
    if (interior) { cell.child = Buffer.from(b.subarray(p, p + 4)); p += 4 }
    if (type !== 0x05) { const [v, l] = readVarint(b, p); cell.payload = v; cell.lens.payload = l; p += l }
    if (!index) { const [v, l] = readVarint(b, p); cell.key = v; cell.lens.key = l; p += l }
    if (cell.payload !== undefined) {
      if (cell.payload > 1n << 30n) return undefined
      const total = Number(cell.payload)
      const local = localSize(usable, total, index)
      if (p + local + (local < total ? 4 : 0) > base + usable) return undefined
      if (local === total) cell.record = Buffer.from(b.subarray(p, p + total))
      else cell.rest = Buffer.from(b.subarray(p, p + local + 4))
    }
    cells.push(cell)
  }
  return cells
}

/** A record (fully local) with its header size or one serial type rewritten longer, or a type past 32 bits. */
function longerRecord (rec: Buffer, r: Rng): [Buffer, string] | undefined {
  const [hdr, hl] = readVarint(rec, 0)
  if (hdr < BigInt(hl) || hdr > BigInt(rec.length)) return undefined
  const types: Array<[bigint, number]> = []
  for (let q = hl; q < Number(hdr);) { const [t, l] = readVarint(rec, q); types.push([t, l]); q += l }
  const body = rec.subarray(Number(hdr))
  const lens = types.map(([t, l]) => l)
  let what: string
  const which = int(r, 3)
  const i = int(r, types.length)
  const ti = types[i]
  if (which === 0 || ti === undefined) {
    what = 'header size'
  } else if (which === 1) {
    lens[i] = longer(r, ti[0])
    what = `serial type ${ti[0]} in ${lens[i]} bytes`
  } else {
    // The same content size to a reader that wraps at 32 bits; 0xffffffff (corrupt) to SQLite.
    const wrapped = ti[0] >= 12n ? ti[0] + (BigInt(1 + int(r, 3)) << 32n) : ti[0] + (1n << 32n)
    types[i] = [wrapped, 0]
    lens[i] = Math.max(varintLength(wrapped), 5 + int(r, 5))
    what = `serial type ${ti[0]} + 2^32 in ${lens[i]} bytes`
  }
  const typeBytes = Buffer.concat(types.map(([t], k) => encodeVarint(t, lens[k] ?? 1)))
  let size = which === 0 ? longer(r, hdr) : hl
  while (varintLength(BigInt(size + typeBytes.length)) > size) size++
  return [Buffer.concat([encodeVarint(BigInt(size + typeBytes.length), size), typeBytes, body]), what]
}

/**
 * Rewrite varints of one to all cells of the b-tree page `page` of `b` in a longer form, and lay
 * the page's cells out again. Returns what it did, or undefined when the page is not one it
 * parses or the longer cells do not fit.
 */
export function lengthenVarints (b: Buffer, page: number, r: Rng): string | undefined {
  const ps = b.readUInt16BE(16) === 1 ? 65536 : b.readUInt16BE(16)
  const usable = ps - (b[20] ?? 0)
  const base = (page - 1) * ps
  const h = base + (page === 1 ? 100 : 0)
  const type = b[h] ?? 0
  const cells = parseCells(b, base, h, usable)
  if (cells === undefined || cells.length === 0) return undefined
  const index = type === 0x02 || type === 0x0a
  const maxLocal = index ? Math.floor((usable - 12) * 64 / 255) - 23 : usable - 35
  const all = r() < 0.25
  const what = new Set<string>()
  const first = int(r, cells.length)
  for (let i = 0; i < cells.length; i++) {
    const c = cells[i]
    if (c === undefined || (!all && i !== first)) continue
    const kinds = [c.key !== undefined ? 'key' : '', c.payload !== undefined ? 'payload' : '', c.record !== undefined ? 'record' : ''].filter(k => k !== '')
    const kind = kinds[int(r, kinds.length)]
    if (kind === 'key' && c.key !== undefined) { c.lens.key = longer(r, c.key); what.add(type === 0x05 ? 'interior key' : 'rowid') }
    if (kind === 'payload' && c.payload !== undefined) { c.lens.payload = longer(r, c.payload); what.add('payload size') }
    if (kind === 'record' && c.record !== undefined) {
      const next = longerRecord(c.record, r)
      if (next !== undefined && next[0].length <= maxLocal) {
        c.record = next[0]
        c.payload = BigInt(next[0].length)
        c.lens.payload = Math.max(c.lens.payload, varintLength(c.payload))
        what.add(next[1])
      }
    }
  }
  if (what.size === 0 || !layOut(b, base, h, usable, cells)) return undefined
  return `p${page} ${all ? 'every cell' : `cell ${first}`}: ${[...what].join(', ')} longer`
}

/** Write `cells` as the cells of the page at `base` (b-tree header at `h`), from the end of its usable bytes. */
function layOut (b: Buffer, base: number, h: number, usable: number, cells: Cell[]): boolean {
  const type = b[h] ?? 0
  const bytes = cells.map(c => Buffer.concat([
    c.child ?? Buffer.alloc(0),
    c.payload === undefined ? Buffer.alloc(0) : encodeVarint(c.payload, c.lens.payload),
    c.key === undefined ? Buffer.alloc(0) : encodeVarint(c.key, c.lens.key),
    c.record ?? c.rest
  ]))
  const hsize = type === 0x02 || type === 0x05 ? 12 : 8
  let start = usable
  const at: number[] = []
  for (const c of bytes) { start -= c.length; at.push(start) }
  const pointersEnd = h - base + hsize + 2 * bytes.length
  if (start < pointersEnd) return false
  b.fill(0, base + pointersEnd, base + start)
  bytes.forEach((c, i) => { c.copy(b, base + (at[i] ?? 0)); b.writeUInt16BE(at[i] ?? 0, h + hsize + 2 * i) })
  b.writeUInt16BE(0, h + 1)
  b.writeUInt16BE(start === 65536 ? 0 : start, h + 5)
  b[h + 7] = 0
  return true
}

/**
 * Serial type `field` of cell `cell`'s record (on a leaf page of `b`, payload on the page) set to
 * `type`, written in `len` bytes; false when it does not fit the page.
 */
export function setSerialType (b: Buffer, page: number, cell: number, field: number, type: bigint, len: number): boolean {
  const ps = b.readUInt16BE(16) === 1 ? 65536 : b.readUInt16BE(16)
  const usable = ps - (b[20] ?? 0)
  const base = (page - 1) * ps
  const cells = parseCells(b, base, base + (page === 1 ? 100 : 0), usable)
  const c = cells?.[cell]
  if (cells === undefined || c?.record === undefined) return false
  const [hdr, hl] = readVarint(c.record, 0)
  const types: Buffer[] = []
  for (let q = hl, i = 0; q < Number(hdr); i++) {
    const [t, l] = readVarint(c.record, q)
    types.push(i === field ? encodeVarint(type, len) : encodeVarint(t, l))
    q += l
  }
  const typeBytes = Buffer.concat(types)
  let size = hl
  while (varintLength(BigInt(size + typeBytes.length)) > size) size++
  c.record = Buffer.concat([encodeVarint(BigInt(size + typeBytes.length), size), typeBytes, c.record.subarray(Number(hdr))])
  c.payload = BigInt(c.record.length)
  c.lens.payload = Math.max(c.lens.payload, varintLength(c.payload))
  return layOut(b, base, base + (page === 1 ? 100 : 0), usable, cells)
}

/**
 * A user table's child page moved past the end of the file (its old page put on the freelist) and
 * the header's database size left as it was, updated, or made not authoritative (version-valid-for
 * changed; `header`: 0, 1, 2 in that order, else drawn): SQLite reads the header's size when it is
 * authoritative, else the file's, and so does the fast path (since session 47: it read the file's).
 * Returns the new file and what it did (undefined: no interior page).
 */
export function movePastEnd (b: Buffer, interior: readonly number[], r: Rng, header?: 0 | 1 | 2): [Buffer, string] | undefined {
  const ps = b.readUInt16BE(16) === 1 ? 65536 : b.readUInt16BE(16)
  const page = interior[int(r, interior.length)]
  if (page === undefined) return undefined
  const h = (page - 1) * ps + (page === 1 ? 100 : 0)
  const cells = b.readUInt16BE(h + 3)
  const i = int(r, cells + 1)
  const ptr = i === cells ? h + 8 : (page - 1) * ps + b.readUInt16BE(h + 12 + 2 * i)
  const child = b.readUInt32BE(ptr)
  const pages = b.length / ps
  if (child < 2 || child > pages) return undefined
  const out = Buffer.concat([b, b.subarray((child - 1) * ps, child * ps)])
  out.writeUInt32BE(pages + 1, ptr)
  // The old page: a freelist trunk of no leaves, first in the list.
  const old = (child - 1) * ps
  out.fill(0, old, old + ps)
  out.writeUInt32BE(out.readUInt32BE(32), old)
  out.writeUInt32BE(child, 32)
  out.writeUInt32BE(out.readUInt32BE(36) + 1, 36)
  const how = header ?? int(r, 3)
  if (how === 1) out.writeUInt32BE(pages + 1, 28)
  if (how === 2) out.writeUInt32BE(out.readUInt32BE(92) + 1, 92)
  return [out, `p${child} (a child of p${page}) moved to p${pages + 1}, header size ${['left', 'updated', 'not authoritative'][how] ?? ''}`]
}
