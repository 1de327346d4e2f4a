/**
 * The pages of one SQLite file for the b-tree walker (btree.ts): its header checked, pages read on
 * demand (pread with read-ahead, or from bytes the caller holds), each page at most once, and a
 * cell's payload assembled from its overflow chain.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs'
import { BtreeUnsupported, ENCODING_UTF16BE, ENCODING_UTF16LE, ENCODING_UTF8 } from './btree.js'
import { copyOut, databasePages } from './page-bytes.js'

const unsupported = (why: string): BtreeUnsupported => new BtreeUnsupported(why)

// Rows larger than this are read through SQLite: the fast path keeps its buffers small.
const MAX_PAYLOAD = 16 << 20
// Bytes read from the file at a time (PageFile's read-ahead).
const WINDOW = 256 << 10
// A closed PageFile's window, for the next one this thread opens.
let spareWindow: Buffer | undefined

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

  /** The whole file's bytes, when the caller gave them (the native row walker reads its pages there). */
  get bytes (): Buffer | undefined { return this.data }

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
