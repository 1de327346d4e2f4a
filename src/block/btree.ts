/**
 * A read-only walker over the b-trees of an SQLite file, reading pages straight from the file
 * (https://www.sqlite.org/fileformat2.html): table b-trees in rowid order, index b-trees (WITHOUT
 * ROWID tables) in key order, with overflow chains. It serves the fast manifest path, which must
 * give exactly what SQLite gives: anything it does not understand or finds inconsistent is a
 * BtreeUnsupported, on which the caller falls back to reading the rows through SQLite.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs'
import { copyOut, databasePages, u32 } from './page-bytes.js'

/** The file is not something this walker reads with certainty; read it through SQLite instead. */
export class BtreeUnsupported extends Error {}

const unsupported = (why: string): BtreeUnsupported => new BtreeUnsupported(why)

// Rows larger than this are read through SQLite: the fast path keeps its buffers small.
const MAX_PAYLOAD = 16 << 20
// Bytes read from the file at a time (PageFile's read-ahead).
const WINDOW = 256 << 10
// A closed PageFile's window, for the next one this thread opens.
let spareWindow: Buffer | undefined

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

export interface FileHeader {
  pageSize: number
  usable: number
  pages: number
  encoding: number
}

/**
 * Bytes of a file the caller has already read (a large block it has just hashed: its first and
 * last chunks) and the file's open descriptor for the other pages; PageFile closes neither.
 */
export interface HeldBytes { fd: number, size: number, parts: ReadonlyArray<{ at: number, bytes: Buffer }> }

// The file header's bytes, read and parsed within the constructor (a fresh buffer per file was
// an allocation per block for plain verify).
const HEAD = Buffer.allocUnsafe(100)

/**
 * Pages of one SQLite file, read on demand with pread (never the whole file), or from the file's
 * bytes when the caller already holds them (a small block it has just hashed), or from the parts
 * of them it holds and the descriptor it has open (a large one).
 */
export class PageFile {
  readonly header: FileHeader
  private readonly fd: number | undefined
  private readonly visited: Uint8Array
  // Allocated on the first overflow chain (most small blocks have none).
  private overflow: Buffer | undefined
  private chain: Buffer | undefined
  /** Pages marked so far (read, or reached in an overflow chain). */
  pagesUsed = 0
  private readonly data: Buffer | undefined
  private readonly held: HeldBytes | undefined

  constructor (path: string, source?: Buffer | HeldBytes) {
    this.data = Buffer.isBuffer(source) ? source : undefined
    this.held = source !== undefined && !Buffer.isBuffer(source) ? source : undefined
    this.fd = source === undefined ? openSync(path, 'r') : undefined
    try {
      const h = HEAD
      // Straight from the file, not through the read-ahead window: a worker's PageFile for a chunk
      // of a table would otherwise fill 256 KiB from offset 0 before reading the chunk's pages.
      const got = this.fd === undefined ? this.readAt(h, 100, 0) : readSync(this.fd, h, 0, 100, 0)
      if (got !== 100) throw unsupported('short file')
      if (h.toString('latin1', 0, 16) !== 'SQLite format 3\0') throw unsupported('not an SQLite file')
      const pageSize = h.readUInt16BE(16) === 1 ? 65536 : h.readUInt16BE(16)
      if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) throw unsupported('bad page size')
      // Rollback-journal files only: a WAL file's content may live in the -wal file.
      if (h[18] !== 1 || h[19] !== 1) throw unsupported('not a rollback-journal database')
      const encoding = h.readUInt32BE(56)
      if (encoding !== ENCODING_UTF8 && encoding !== ENCODING_UTF16LE && encoding !== ENCODING_UTF16BE) throw unsupported('unknown text encoding')
      const size = this.data?.length ?? this.held?.size ?? (this.fd === undefined ? 0 : fstatSync(this.fd).size)
      if (size % pageSize !== 0) throw unsupported('file is not a whole number of pages')
      const usable = pageSize - (h[20] ?? 0) // less the bytes reserved at each page's end
      if (usable < 480) throw unsupported('usable page size too small')
      // Pages past an authoritative header's count are not the database's (page-bytes.ts).
      const pages = databasePages(h, size / pageSize)
      if (pages === undefined) throw unsupported('the header counts more pages than the file has')
      this.header = { pageSize, usable, pages, encoding }
      this.visited = new Uint8Array(Math.ceil((this.header.pages + 1) / 8))
    } catch (err) {
      this.close()
      throw err
    }
  }

  close (): void {
    if (this.fd !== undefined) closeSync(this.fd)
    // The window goes back for this thread's next PageFile (a table's chunks open one each).
    if (this.ahead !== undefined) spareWindow = this.ahead
    this.ahead = undefined
    this.aheadLen = 0
  }

  // Read-ahead: pages are read from the file WINDOW bytes at a time (a table's pages mostly follow
  // each other), one pread for many pages instead of one each. `ahead` holds the file's bytes from
  // offset `aheadAt` (aheadLen of them).
  private ahead: Buffer | undefined
  private aheadAt = 0
  private aheadLen = 0

  private readAt (buf: Buffer, bytes: number, position: number): number {
    if (this.data !== undefined) return copyOut(this.data, position, position + bytes, buf)
    const part = this.held?.parts.find(p => position >= p.at && (position + bytes <= p.at + p.bytes.length || (p.at + p.bytes.length === this.held?.size && position < this.held.size)))
    if (part !== undefined) return copyOut(part.bytes, position - part.at, position - part.at + bytes, buf)
    const fd = this.fd ?? this.held?.fd ?? -1
    if (bytes > WINDOW) return readSync(fd, buf, 0, bytes, position)
    if (position < this.aheadAt || position + bytes > this.aheadAt + this.aheadLen) {
      if (this.ahead === undefined) {
        this.ahead = spareWindow ?? Buffer.allocUnsafe(WINDOW)
        spareWindow = undefined
      }
      this.aheadAt = position
      this.aheadLen = 0
      // Fill the window (a short read is the end of the file, or a read to retry from there).
      for (let n = -1; n !== 0 && this.aheadLen < WINDOW;) {
        n = readSync(fd, this.ahead, this.aheadLen, WINDOW - this.aheadLen, position + this.aheadLen)
        this.aheadLen += n
      }
    }
    const from = position - this.aheadAt
    return this.ahead === undefined ? 0 : copyOut(this.ahead, from, Math.min(from + bytes, this.aheadLen), buf)
  }

  /** Read page `n` (1-based) into `buf`, once per file: a page seen twice means a cycle. */
  read (n: number, buf: Buffer): void {
    this.mark(n)
    this.peek(n, buf, this.header.pageSize)
  }

  /** Note that page `n` is used; a page used twice means a cycle or shared pages. */
  mark (n: number): void {
    if (!Number.isInteger(n) || n < 1 || n > this.header.pages) throw unsupported(`page ${n} out of range`)
    const bit = 1 << (n & 7)
    const byte = n >>> 3
    if (((this.visited[byte] ?? 0) & bit) !== 0) throw unsupported(`page ${n} reached twice`)
    this.visited[byte] = (this.visited[byte] ?? 0) | bit
    this.pagesUsed++
  }

  /** Read the first `bytes` of page `n` without marking it. */
  peek (n: number, buf: Buffer, bytes: number): void {
    if (!Number.isInteger(n) || n < 1 || n > this.header.pages) throw unsupported(`page ${n} out of range`)
    if (this.readAt(buf, bytes, (n - 1) * this.header.pageSize) !== bytes) throw unsupported(`short read of page ${n}`)
  }

  /**
   * Page `n`, marked as read() marks it: a view of the file's bytes when the caller holds them
   * whole (a small block plain verify has just hashed; copying each page was a tenth of reading
   * its reserved tables), else `buf`, filled as read() fills it.
   */
  page (n: number, buf: Buffer): Buffer {
    if (this.data === undefined) { this.read(n, buf); return buf }
    this.mark(n)
    return this.data.subarray((n - 1) * this.header.pageSize, n * this.header.pageSize)
  }

  /** Page `n` whole without marking it, as peek() reads it: a view of the held file, or `buf` filled. */
  peekPage (n: number, buf: Buffer): Buffer {
    if (this.data === undefined || !Number.isInteger(n) || n < 1 || n > this.header.pages) { this.peek(n, buf, this.header.pageSize); return buf }
    return this.data.subarray((n - 1) * this.header.pageSize, n * this.header.pageSize)
  }

  /**
   * A cell's payload of `total` bytes whose first `local` bytes are at `page[at…]`, followed by the
   * overflow chain starting at the page number stored right after them. Returns a buffer holding
   * the whole payload from offset 0 (valid until the next call).
   */
  assemble (page: Buffer, at: number, local: number, total: number): Buffer {
    if (total > MAX_PAYLOAD) throw unsupported('row too large for the fast path')
    if (this.overflow === undefined || this.overflow.length < total) this.overflow = Buffer.allocUnsafe(Math.max(total, this.header.pageSize))
    const out = this.overflow
    page.copy(out, 0, at, at + local)
    let next = page.readUInt32BE(at + local)
    let have = local
    const chunk = this.header.usable - 4
    const buf = this.chain ??= Buffer.allocUnsafe(this.header.pageSize)
    while (have < total) {
      if (next === 0) throw unsupported('overflow chain ends early')
      this.read(next, buf)
      const n = Math.min(chunk, total - have)
      buf.copy(out, have, 4, 4 + n)
      have += n
      next = buf.readUInt32BE(0)
    }
    if (next !== 0) throw unsupported('overflow chain longer than the payload')
    return out
  }
}

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

// B-trees deeper than this are not something SQLite writes (it caps depth at 20).
const MAX_DEPTH = 40

function pageType (page: Buffer, n: number, index: boolean): { h: number, leaf: boolean, cells: number } {
  const h = n === 1 ? 100 : 0
  const type = page[h]
  const leaf = type === (index ? PAGE_INDEX_LEAF : PAGE_TABLE_LEAF)
  if (!leaf && type !== (index ? PAGE_INDEX_INTERIOR : PAGE_TABLE_INTERIOR)) throw unsupported(`page ${n} has type ${type ?? '?'}`)
  // Byte arithmetic, not Node's readUInt16BE/readUInt32BE here and below: each was a TurboFan
  // compile of its own in every fresh thread (a byte past the page reads as 0).
  return { h, leaf, cells: ((page[h + 3] ?? 0) << 8) | (page[h + 4] ?? 0) }
}

/**
 * Cell pointer `i` of a page whose b-tree header starts at `h` (of `hsize` bytes). An interior cell
 * (hsize 12) starts with a 4-byte child page number within the usable bytes, as SQLite requires.
 */
function cellAt (page: Buffer, h: number, hsize: number, i: number, usable: number): number {
  const p = h + hsize + 2 * i
  const at = ((page[p] ?? 0) << 8) | (page[p + 1] ?? 0)
  if (at < p || at + (hsize === 12 ? 4 : 1) > usable) throw unsupported('cell pointer out of range')
  return at
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
  const { h, leaf, cells } = pageType(page, n, index)
  if (leaf) {
    if (w.onLeaf !== undefined && !index) w.onLeaf(page, h, 0, cells)
    else for (let i = 0; i < cells; i++) emitCell(f, page, cellAt(page, h, 8, i, f.header.usable), index, onRecord)
    w.rows += cells
    return
  }
  for (let i = 0; i < cells; i++) {
    const at = cellAt(page, h, 12, i, f.header.usable)
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
  const usable = f.header.usable
  const pages: number[] = []
  const cells: number[] = []
  const bufs: Buffer[] = []
  const head = Buffer.allocUnsafe(12)
  const walk = (n: number, depth: number): void => {
    if (depth >= MAX_DEPTH) throw unsupported('b-tree too deep')
    f.mark(n)
    f.peek(n, head, 12)
    if (head[0] === PAGE_TABLE_LEAF) { pages.push(n); cells.push(((head[3] ?? 0) << 8) | (head[4] ?? 0)); return }
    const page = bufs[depth] ??= Buffer.allocUnsafe(f.header.pageSize)
    f.peek(n, page, f.header.pageSize)
    const t = pageType(page, n, false)
    for (let i = 0; i < t.cells; i++) walk(u32(page, cellAt(page, t.h, 12, i, usable)), depth + 1)
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
  const usable = f.header.usable
  const page = Buffer.allocUnsafe(f.header.pageSize)
  let rows = 0
  for (const n of pages) {
    f.read(n, page)
    const { h, leaf, cells } = pageType(page, n, false)
    if (!leaf) throw unsupported(`page ${n} is not a leaf`)
    if (onLeaf !== undefined) {
      const to = Math.min(cells, skip + take - rows)
      if (to > skip) { onLeaf(page, h, skip, to); rows += to - skip }
    } else {
      for (let i = skip; i < cells && rows < take; i++) { emitCell(f, page, cellAt(page, h, 8, i, usable), false, onRecord); rows++ }
    }
    skip = 0
    if (rows === take) break
  }
  if (rows !== take) throw unsupported('fewer rows than counted')
  return rows
}

/** Visit cell `i` of the table leaf `page` whose b-tree header starts at `h` (see OnLeafPage). */
export function emitTableCell (f: PageFile, page: Buffer, h: number, i: number, onRecord: OnRecord): void {
  emitCell(f, page, cellAt(page, h, 8, i, f.header.usable), false, onRecord)
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
