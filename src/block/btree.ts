/**
 * A read-only walker over the b-trees of an SQLite file, reading pages straight from the file
 * (https://www.sqlite.org/fileformat2.html): table b-trees in rowid order, index b-trees (WITHOUT
 * ROWID tables) in key order, with overflow chains. It serves the fast manifest path, which must
 * give exactly what SQLite gives: anything it does not understand or finds inconsistent is a
 * BtreeUnsupported, on which the caller falls back to reading the rows through SQLite.
 */
import { u32 } from './page-bytes.js'
import type { PageFile } from './page-file.js'

/** The file is not something this walker reads with certainty; read it through SQLite instead. */
export class BtreeUnsupported extends Error {}

const unsupported = (why: string): BtreeUnsupported => new BtreeUnsupported(why)


export const ENCODING_UTF8 = 1
export const ENCODING_UTF16LE = 2
export const ENCODING_UTF16BE = 3
const PAGE_TABLE_INTERIOR = 0x05
const PAGE_TABLE_LEAF = 0x0d
const PAGE_INDEX_INTERIOR = 0x02
const PAGE_INDEX_LEAF = 0x0a
// Varint results (hi:lo as unsigned 32-bit halves, and the bytes read), to avoid allocating per call.
let vHi = 0
let vLo = 0
let vLen = 0

/** SQLite varint at `p`: sets vHi, vLo, vLen. */
function varint (b: Uint8Array, p: number): void {
  let x = b[p] ?? 0
  if (x < 0x80) { vHi = 0; vLo = x; vLen = 1; return }
  let hi = 0
  let lo = x & 0x7f
  for (let i = 1; i < 9; i++) {
    x = b[p + i] ?? 0
    if (i === 8) {
      hi = ((hi << 8) | (lo >>> 24)) >>> 0
      lo = ((lo << 8) | x) >>> 0
      vHi = hi; vLo = lo; vLen = 9
      return
    }
    hi = ((hi << 7) | (lo >>> 25)) >>> 0
    lo = ((lo << 7) | (x & 0x7f)) >>> 0
    if (x < 0x80) { vHi = hi; vLo = lo; vLen = i + 1; return }
  }
}

/** A varint that must be a small non-negative count (a size, a serial type). */
export function smallVarint (b: Uint8Array, p: number): number {
  varint(b, p)
  if (vHi > 0x1fffff) throw unsupported('varint out of range')
  return vHi * 0x100000000 + vLo
}
export function varintLength (): number { return vLen }

/** The last varint read, as the high and low halves of a 64-bit two's complement integer. */
export function lastVarintHi (): number { return vHi }
export function lastVarintLo (): number { return vLo }


/** Bytes of a payload of `total` bytes stored on the b-tree page (the rest overflows). */
export function localSize (usable: number, total: number, index: boolean): number {
  const x = index ? Math.floor((usable - 12) * 64 / 255) - 23 : usable - 35
  if (total <= x) return total
  const m = Math.floor((usable - 12) * 32 / 255) - 23
  const k = m + ((total - m) % (usable - 4))
  return k <= x ? k : m
}

/**
 * Called per row with its payload (the record) at `buf[at…at+len]`, and for a table b-tree the
 * rowid as the last varint read (lastVarintHi/Lo).
 */
export type OnRecord = (buf: Buffer, at: number, len: number) => void

/**
 * Called per table b-tree leaf page, instead of onRecord per cell, with the range of cells to
 * visit (from…to) and where its b-tree header starts (`h`); `emitTableCell` visits one cell.
 */
export type OnLeafPage = (page: Buffer, h: number, from: number, to: number) => void

// A cursor's pages: SQLite's cursor holds at most BTCURSOR_MAX_DEPTH (20) of them, the root at
// depth 0, and reports a b-tree whose page would be the 21st as corrupt (moveToChild, btree.c).
const MAX_DEPTH = 20

/**
 * The b-tree header of page `n` (type and cell count), checked as SQLite checks a page it
 * initialises (btreeInitPage, then moveToRoot's and moveToChild's checks of a cursor) with the
 * cell size check on, as every connection to a block is (hardenReadonly): at most
 * (pageSize - 8) / 6 cells; a child page (`root` false) with at least one; an interior root with
 * at least one unless it is page 1; and every cell pointer between the end of the pointer array
 * and the usable bytes' end less 4 (less 5 on an interior page), an interior table cell's rowid
 * within the page (btreeCellSizeCheck; the cells' sizes are checked where they are read). Until
 * session 48 a child page whose cell count was set to 0 was read as one without rows, a pointer
 * into the pointer array or into a leaf's last 3 bytes was read, and a b-tree was read 40 deep,
 * where SQLite refuses the table (edges47's finding).
 */
function pageType (page: Buffer, n: number, index: boolean, root: boolean, f: PageFile): { h: number, leaf: boolean, cells: number } {
  const h = n === 1 ? 100 : 0
  const type = page[h]
  const leaf = type === (index ? PAGE_INDEX_LEAF : PAGE_TABLE_LEAF)
  if (!leaf && type !== (index ? PAGE_INDEX_INTERIOR : PAGE_TABLE_INTERIOR)) throw unsupported(`page ${n} has type ${type ?? '?'}`)
  // Byte arithmetic, not Node's readUInt16BE/readUInt32BE here and below: each was a TurboFan
  // compile of its own in every fresh thread (a byte past the page reads as 0).
  const cells = ((page[h + 3] ?? 0) << 8) | (page[h + 4] ?? 0)
  if (cells > Math.floor((f.header.pageSize - 8) / 6)) throw unsupported(`page ${n} counts more cells than a page holds`)
  if (cells === 0 && (!root || (!leaf && n !== 1))) throw unsupported(`${root ? 'interior root' : 'child'} page ${n} has no cells`)
  const hsize = leaf ? 8 : 12
  const first = h + hsize + 2 * cells
  const last = f.header.usable - (leaf ? 4 : 5)
  for (let i = 0; i < cells; i++) {
    const p = h + hsize + 2 * i
    const at = ((page[p] ?? 0) << 8) | (page[p + 1] ?? 0)
    if (at < first || at > last) throw unsupported(`page ${n}: cell pointer out of range`)
    // An interior table cell: the child's number and the rowid's varint (of at most 9 bytes).
    if (!leaf && !index) {
      let k = at + 4
      while (k < at + 12 && (page[k] ?? 0) >= 0x80) k++
      if (k + 1 > f.header.usable) throw unsupported(`page ${n}: cell past the page`)
    }
  }
  return { h, leaf, cells }
}

/** Cell pointer `i` of a page whose b-tree header starts at `h` (of `hsize` bytes), checked by pageType. */
function cellAt (page: Buffer, h: number, hsize: number, i: number): number {
  const p = h + hsize + 2 * i
  return ((page[p] ?? 0) << 8) | (page[p + 1] ?? 0)
}

/**
 * Visit the rows of the b-tree rooted at `root` in order: a table b-tree (rowid tables) or an index
 * b-tree (WITHOUT ROWID tables, whose interior cells are rows too, each after its left subtree).
 * Returns the number of rows.
 */
export function walkBtree (f: PageFile, root: number, index: boolean, onRecord: OnRecord, onLeaf?: OnLeafPage): number {
  // One page buffer per depth: a level is done with its page before a sibling is read into it.
  // The page buffers are reused by the thread's next walk (four per block for plain verify); a
  // walk started from inside another's callback gets buffers of its own.
  const bufs = spareBufs ?? []
  spareBufs = undefined
  const w: Walk = { f, index, onRecord, onLeaf, bufs, rows: 0 }
  try {
    walkPage(w, root, 0)
  } finally {
    spareBufs = bufs
  }
  return w.rows
}
let spareBufs: Buffer[] | undefined
interface Walk { f: PageFile, index: boolean, onRecord: OnRecord, onLeaf: OnLeafPage | undefined, bufs: Buffer[], rows: number }

// walkBtree's recursion, a function of its own rather than a closure: plain verify walks four
// b-trees per block, and the bundles' keepNames names every closure when it is created.
function walkPage (w: Walk, n: number, depth: number): void {
  const { f, index, onRecord } = w
  if (depth >= MAX_DEPTH) throw unsupported('b-tree too deep')
  let buf = w.bufs[depth]
  if (buf === undefined || buf.length !== f.header.pageSize) buf = w.bufs[depth] = Buffer.allocUnsafe(f.header.pageSize)
  const page = f.page(n, buf)
  const { h, leaf, cells } = pageType(page, n, index, depth === 0, f)
  if (leaf) {
    if (w.onLeaf !== undefined && !index) w.onLeaf(page, h, 0, cells)
    else for (let i = 0; i < cells; i++) emitCell(f, page, cellAt(page, h, 8, i), index, onRecord)
    w.rows += cells
    return
  }
  for (let i = 0; i < cells; i++) {
    const at = cellAt(page, h, 12, i)
    walkPage(w, u32(page, at), depth + 1)
    if (index) { emitCell(f, page, at + 4, index, onRecord); w.rows++ }
  }
  walkPage(w, u32(page, h + 8), depth + 1)
}

/**
 * The leaves of a table b-tree in rowid order with their cell counts, reading interior pages and
 * only the header of each leaf: what splitting a table into row ranges for worker threads needs.
 */
export function tableLeaves (f: PageFile, root: number): { pages: number[], cells: number[] } {
  const pages: number[] = []
  const cells: number[] = []
  const bufs: Buffer[] = []
  const head = Buffer.allocUnsafe(12)
  const walk = (n: number, depth: number): void => {
    if (depth >= MAX_DEPTH) throw unsupported('b-tree too deep')
    f.mark(n)
    f.peek(n, head, 12)
    // A leaf's header alone (pageType checks it whole where walkLeaves reads it), but a child
    // without cells here, which walkLeaves cannot tell from the empty root.
    if (head[0] === PAGE_TABLE_LEAF) {
      const count = ((head[3] ?? 0) << 8) | (head[4] ?? 0)
      if (count === 0 && depth > 0) throw unsupported(`child page ${n} has no cells`)
      pages.push(n)
      cells.push(count)
      return
    }
    const page = bufs[depth] ??= Buffer.allocUnsafe(f.header.pageSize)
    f.peek(n, page, f.header.pageSize)
    const t = pageType(page, n, false, depth === 0, f)
    for (let i = 0; i < t.cells; i++) walk(u32(page, cellAt(page, t.h, 12, i)), depth + 1)
    walk(u32(page, t.h + 8), depth + 1)
  }
  walk(root, 0)
  return { pages, cells }
}

/**
 * Visit the rows of table-b-tree leaves `pages` (from tableLeaves), skipping the first `skip`
 * cells and stopping after `take` rows.
 */
export function walkLeaves (f: PageFile, pages: readonly number[], skip: number, take: number, onRecord: OnRecord, onLeaf?: OnLeafPage): number {
  const page = Buffer.allocUnsafe(f.header.pageSize)
  let rows = 0
  for (const n of pages) {
    f.read(n, page)
    // As a root: tableLeaves has refused a child without cells.
    const { h, leaf, cells } = pageType(page, n, false, true, f)
    if (!leaf) throw unsupported(`page ${n} is not a leaf`)
    if (onLeaf !== undefined) {
      const to = Math.min(cells, skip + take - rows)
      if (to > skip) { onLeaf(page, h, skip, to); rows += to - skip }
    } else {
      for (let i = skip; i < cells && rows < take; i++) { emitCell(f, page, cellAt(page, h, 8, i), false, onRecord); rows++ }
    }
    skip = 0
    if (rows === take) break
  }
  if (rows !== take) throw unsupported('fewer rows than counted')
  return rows
}

/** Visit cell `i` of the table leaf `page` whose b-tree header starts at `h` (see OnLeafPage). */
export function emitTableCell (f: PageFile, page: Buffer, h: number, i: number, onRecord: OnRecord): void {
  emitCell(f, page, cellAt(page, h, 8, i), false, onRecord)
}

function emitCell (f: PageFile, page: Buffer, at: number, index: boolean, onRecord: OnRecord): void {
  const usable = f.header.usable
  const total = smallVarint(page, at)
  let p = at + vLen
  if (!index) {
    // The rowid: left in vHi/vLo for the callback.
    varint(page, p)
    p += vLen
  }
  const local = localSize(usable, total, index)
  if (p + local + (local < total ? 4 : 0) > usable) throw unsupported('cell overflows its page')
  if (local === total) { onRecord(page, p, total); return }
  const hi = vHi
  const lo = vLo
  const whole = f.assemble(page, p, local, total)
  vHi = hi
  vLo = lo
  onRecord(whole, 0, total)
}
