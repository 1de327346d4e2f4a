import { isKeyId } from '../crypto/index.js'
import { isHash, isHex, parseUtcTimestamp } from '../util/index.js'
import type { BlockHeader } from './header.js'
import { rowsRootOf, type TableEntry } from './manifest.js'
import type { BlockFile } from './read.js'
import { knownSchema } from './read-pages.js'
import { compareNames } from './schema.js'
import { checkSqliteBytes } from './sqlite-header.js'

/**
 * Plain verify's reader of an ordinary small block held whole, the one most blocks of a chain
 * take: `_meta`, `_keys` and `_tables` read from their leaf pages into the BlockFile that
 * readBlockPages gives, in a few small functions instead of the general b-tree walk, record
 * decoding and `_meta` map (what each verify worker's optimising compiler inlined three times,
 * and what ran per block: docs/performance/verify.md, "Session 14: plain verify").
 *
 * It takes only the common shape: page 1 the very bytes of the last schema readBlockPages parsed
 * on this thread, each reserved table one leaf page with no overflow, UTF-8, a v2 block above
 * the genesis with no key operations, every `_meta` field as headerFromMeta accepts it. On
 * anything else — or any doubt — it returns undefined, and the caller reads the block with
 * readBlockPages, which decides (a coded error, or the SQLite read's). So it never makes a
 * verdict of its own: it gives what readBlockPages gives, or stands aside
 * (test/unit/block/read-lean.test.ts). Only the file header's check, which both begin with, can
 * throw here, with readBlockPages's error.
 */
export function readBlockLean (path: string, maxBytes: number, data: Buffer): BlockFile | undefined {
  const sqlite = checkSqliteBytes(data, maxBytes, data.length)
  // checkSqliteBytes has checked a whole number of pages and no reserved bytes (usable = page size).
  const size = sqlite.pageSize
  if (sqlite.textEncoding !== 1) return undefined
  const schema = knownSchema(data, size)
  if (schema === undefined) return undefined
  const pages = data.length / size
  const { meta, keys, tables: tablesRoot } = schema
  // Each page once (readBlockPages refuses a page reached twice): page 1 and three distinct leaves.
  if (!leaf(data, meta, size, pages) || !leaf(data, keys, size, pages) || !leaf(data, tablesRoot, size, pages)) return undefined
  if (meta === keys || meta === tablesRoot || keys === tablesRoot) return undefined
  // No key operation (a block that has some is read the general way).
  if (cellCount(data, keys, size) !== 0) return undefined
  const header = readMeta(data, meta, size)
  if (header === undefined) return undefined
  const tables = readTables(data, tablesRoot, size, schema.userDdl)
  if (tables === undefined || rowsRootOf(tables) !== header.rowsRoot) return undefined
  return { path, size: sqlite.size, sqlite, header, keyOps: [], tables, userTables: [], recipients: [] }
}

// A table b-tree leaf page (SQLite's page type 13).
const TABLE_LEAF = 0x0d

/**
 * Whether page `n` is a table b-tree leaf page of the file (never page 1, whose header differs)
 * with no more cells than SQLite takes a page to hold ((page size - 8) / 6: btree.ts, pageType).
 */
function leaf (d: Buffer, n: number, size: number, pages: number): boolean {
  return Number.isInteger(n) && n >= 2 && n <= pages && d[(n - 1) * size] === TABLE_LEAF && cellCount(d, n, size) <= (size - 8) / 6
}

function cellCount (d: Buffer, n: number, size: number): number {
  const p = (n - 1) * size
  return ((d[p + 3] ?? 0) << 8) | (d[p + 4] ?? 0)
}

// The columns of the last record read (rec): serial type and offset of each value in the file.
const MAX_COLS = 4
const TYPE = new Int32Array(MAX_COLS)
const AT = new Int32Array(MAX_COLS)

/**
 * Cell `i` of the leaf page at offset `p` (of `cells` cells) as a record of `cols` columns whose
 * payload lies on the page (TYPE and AT set), or false: anything readBlockPages reads otherwise
 * or refuses (an overflowing payload, a varint longer than this reader takes, a pointer or a size
 * out of the page, sizes that disagree) is left to it.
 */
function rec (d: Buffer, p: number, size: number, cells: number, i: number, cols: number): boolean {
  const ptr = ((d[p + 8 + 2 * i] ?? 0) << 8) | (d[p + 9 + 2 * i] ?? 0)
  // SQLite's bounds (btreeCellSizeCheck): past the pointer array, at most 4 bytes from the end.
  if (ptr < 8 + 2 * cells || ptr > size - 4) return false
  let q = p + ptr
  const total = varint2(d, q)
  if (total < 0) return false
  q += width(d, q)
  // The rowid: up to nine bytes, the ninth whole.
  let k = 0
  while (k < 8 && (d[q + k] ?? 0) >= 0x80) k++
  q += k + 1
  // A larger payload goes on overflow pages, which readBlockPages follows.
  if (total > size - 35 || q + total > p + size) return false
  const start = q
  const hdr = varint2(d, q)
  if (hdr < 1 || hdr > total) return false
  q += width(d, q)
  let body = start + hdr
  let c = 0
  while (q < start + hdr) {
    const t = varint2(d, q)
    if (t < 0 || c === cols) return false
    q += width(d, q)
    const len = t < 12 ? (SIZES[t] ?? -1) : (t - 12) >> 1
    if (len < 0 || body + len > start + total) return false
    TYPE[c] = t
    AT[c] = body
    body += len
    c++
  }
  return c === cols && q === start + hdr && body === start + total
}

// Bytes of a value by serial type below 12 (10 and 11 are reserved).
const SIZES = [0, 1, 2, 3, 4, 6, 8, 8, 0, 0, -1, -1]

/**
 * The bytes of the varint at `q` that varint2 read: by its first byte, not its value, since
 * SQLite also reads a value below 128 written in two bytes ([0x80, 5] is 5).
 */
function width (d: Buffer, q: number): number {
  return (d[q] ?? 0) < 0x80 ? 1 : 2
}

/** A varint of one or two bytes (what sizes on a page of up to 64 KiB take), or -1. */
function varint2 (d: Buffer, q: number): number {
  const x = d[q] ?? 0
  if (x < 0x80) return x
  const y = d[q + 1] ?? 0x80
  return y < 0x80 ? ((x & 0x7f) << 7) | y : -1
}

/** Column `c` of the last record if it is text (UTF-8, as the file's encoding is here). */
function text (d: Buffer, c: number): string | undefined {
  const t = TYPE[c] ?? 0
  if (t < 13 || (t & 1) === 0) return undefined
  const at = AT[c] ?? 0
  return d.toString('utf8', at, at + ((t - 12) >> 1))
}

// The `_meta` keys of a block above the genesis, by their bytes: UTF-8 text decodes to one of
// these names exactly when its bytes are the name's (a key is compared without making a string).
const META_KEYS = ['Version', 'ChainId', 'Height', 'PreviousBlockHash', 'PreviousBlockHashSignature', 'CreatorPublicKey', 'Timestamp', 'RowsRoot', 'Creator', 'Description']
  .map(k => Buffer.from(k, 'latin1'))

/** Column 0 of the last record as an index into META_KEYS, or -1 (not text, or another key). */
function metaKey (d: Buffer): number {
  const t = TYPE[0] ?? 0
  if (t < 13 || (t & 1) === 0) return -1
  const len = (t - 12) >> 1
  const at = AT[0] ?? 0
  for (let k = 0; k < META_KEYS.length; k++) {
    const name = META_KEYS[k]
    if (name === undefined || name.length !== len) continue
    let j = 0
    while (j < len && d[at + j] === name[j]) j++
    if (j === len) return k
  }
  return -1
}

// Height as headerFromMeta takes it: a canonical decimal integer.
const COUNT = /^(0|[1-9][0-9]{0,15})$/
const MAX_TEXT = 4096

/**
 * `_meta` of a v2 block above the genesis as headerFromMeta parses it, or undefined wherever it
 * would refuse it or parse it otherwise (then readBlockPages decides, with its coded error).
 */
function readMeta (d: Buffer, n: number, size: number): BlockHeader | undefined {
  const p = (n - 1) * size
  const cells = cellCount(d, n, size)
  let version: string | undefined
  let chainId: string | undefined
  let height: string | undefined
  let previousHash: string | undefined
  let previousHashSignature: string | undefined
  let creator: string | undefined
  let timestamp: string | undefined
  let rowsRoot: string | undefined
  let creatorName: string | undefined
  let description: string | undefined
  for (let i = 0; i < cells; i++) {
    if (!rec(d, p, size, cells, i, 2)) return undefined
    const value = text(d, 1)
    if (value === undefined) return undefined
    // A key given twice, or one this reader does not take (a genesis's, an unknown one): the general way.
    switch (metaKey(d)) {
      case 0: if (version !== undefined) return undefined; version = value; break
      case 1: if (chainId !== undefined) return undefined; chainId = value; break
      case 2: if (height !== undefined) return undefined; height = value; break
      case 3: if (previousHash !== undefined) return undefined; previousHash = value; break
      case 4: if (previousHashSignature !== undefined) return undefined; previousHashSignature = value; break
      case 5: if (creator !== undefined) return undefined; creator = value; break
      case 6: if (timestamp !== undefined) return undefined; timestamp = value; break
      case 7: if (rowsRoot !== undefined) return undefined; rowsRoot = value; break
      case 8: if (creatorName !== undefined) return undefined; creatorName = value; break
      case 9: if (description !== undefined) return undefined; description = value; break
      default: return undefined
    }
  }
  if (version !== '2' || height === undefined || !COUNT.test(height)) return undefined
  const h = Number(height)
  if (h < 1 || h > Number.MAX_SAFE_INTEGER) return undefined
  if (!isHash(chainId) || !isHash(previousHash) || !isHash(rowsRoot) || !isKeyId(creator)) return undefined
  if (previousHashSignature === undefined || previousHashSignature === '' || !isHex(previousHashSignature)) return undefined
  if ((creatorName?.length ?? 0) > MAX_TEXT || (description?.length ?? 0) > MAX_TEXT) return undefined
  const time = timestamp === undefined ? undefined : parseUtcTimestamp(timestamp)
  if (timestamp === undefined || time === undefined) return undefined
  // headerFromMeta's object, key for key in its order.
  return { version: 2, chainId, height: h, previousHash, previousHashSignature, creator, timestamp, time, rowsRoot, creatorName, description }
}

/** `_tables` as readBlockPages takes it (every user table listed with its DDL), in name order, or undefined. */
function readTables (d: Buffer, n: number, size: number, userDdl: ReadonlyMap<string, string>): TableEntry[] | undefined {
  const p = (n - 1) * size
  const cells = cellCount(d, n, size)
  if (cells !== userDdl.size) return undefined
  const tables: TableEntry[] = []
  for (let i = 0; i < cells; i++) {
    if (!rec(d, p, size, cells, i, 4)) return undefined
    const name = text(d, 0)
    const sql = text(d, 1)
    const rows = integer(d, 2)
    const root = text(d, 3)
    if (name === undefined || sql === undefined || rows < 0 || !isHash(root) || userDdl.get(name) !== sql) return undefined
    tables.push({ name, sql, rows, root })
  }
  if (tables.length > 1) tables.sort((a, b) => compareNames(a.name, b.name))
  return tables
}

/** Column `c` of the last record as a non-negative integer of up to six bytes, or -1. */
function integer (d: Buffer, c: number): number {
  const t = TYPE[c] ?? 0
  if (t === 8 || t === 9) return t - 8
  if (t < 1 || t > 5) return -1
  return d.readIntBE(AT[c] ?? 0, SIZES[t] ?? 1)
}
