// Hostile block files for the manifest's differential fuzz (manifest-fuzz.ts): valid blocks with
// varied user tables, then their user tables' pages, schema rows or the file header changed.
import Database from 'better-sqlite3'
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { buildBlock } from '../../src/block/index.js'
import { fixtureKey } from './chain.js'
import { lengthenVarints } from './manifest-varints.js'
import { rng } from './random-tables.js'

export type Rng = () => number
export const pick = <T>(r: Rng, a: readonly T[]): T => a[Math.floor(r() * a.length)] as T
const int = (r: Rng, n: number): number => Math.floor(r() * n)

export const MAX_BYTES = 1 << 26
export const CHAIN_ID = 'aa'.repeat(32)

const INTS = [0n, 1n, -1n, 127n, -128n, 32767n, 8388607n, -8388608n, 2147483647n, -2147483648n, 140737488355327n, 9007199254740993n, 9223372036854775807n, -9223372036854775808n]
const REALS = [0.5, -0.0, 1e300, -2.5e-300, 5e-324, Infinity, -Infinity, 3.0, 1e15, 2 ** 53, -(2 ** 63), 123456.789]
const TEXTS = ['', 'a', 'hé', '日本語', '😀', 'nul\u0000in', 'x'.repeat(300)]

function value (r: Rng, big: number): unknown {
  switch (int(r, 9)) {
    case 0: return null
    case 1: return pick(r, INTS)
    case 2: return BigInt(Math.floor((r() - 0.5) * 2 ** 40))
    case 3: return r() < 0.5 ? pick(r, REALS) : (r() - 0.5) * 1e6
    case 4: return pick(r, TEXTS)
    case 5: return 't' + 'é'.repeat(int(r, big))
    case 6: return Buffer.alloc(int(r, big), int(r, 256))
    case 7: return `s${int(r, 1e6)}`
    default: return int(r, 1000)
  }
}

// Tables a seed file draws from: rowid tables with and without an alias, REAL columns, a DEFAULT
// and columns added later, STRICT, WITHOUT ROWID (one with a REAL column in its key), an index.
const TABLES: Array<{ ddl: string, cols: number, after?: string }> = [
  { ddl: 'CREATE TABLE a (id INTEGER PRIMARY KEY, i INTEGER, r REAL, t TEXT, b BLOB, n NUMERIC, x)', cols: 7 },
  { ddl: 'CREATE TABLE b (x, y REAL, z)', cols: 3, after: 'CREATE INDEX b_y ON b (y)' },
  { ddl: 'CREATE TABLE c (k TEXT, n INTEGER, v, w REAL, PRIMARY KEY (k, n)) WITHOUT ROWID', cols: 4 },
  { ddl: 'CREATE TABLE d (i INT, r REAL, t TEXT, b BLOB, x ANY) STRICT', cols: 5 },
  { ddl: 'CREATE TABLE e (p, q DEFAULT 5)', cols: 2, after: 'ALTER TABLE e ADD COLUMN z REAL; ALTER TABLE e ADD COLUMN y DEFAULT 7' },
  { ddl: 'CREATE TABLE f (r REAL PRIMARY KEY, v) WITHOUT ROWID', cols: 2 },
  { ddl: 'CREATE TABLE g (id INTEGER PRIMARY KEY, t TEXT NOT NULL, b)', cols: 3 }
]

export interface SeedBlock {
  path: string
  bytes: Buffer
  pageSize: number
  /** Pages of user tables and their indexes, by kind ('leaf', 'internal', 'overflow'). */
  pages: Array<{ page: number, name: string, kind: string }>
  /** Largest table's rows (a leaf split over chunks needs several leaves). */
  rows: number
}

/**
 * A valid block whose user tables are drawn by `seed`: page size, text encoding, tables, rows.
 * `small`: 33-72 rows a table (still past validation's threshold of 32 for the fast path) and
 * values of at most two pages, for the suite.
 */
export async function seedBlock (dir: string, seed: number, small = false, bigRows?: number): Promise<SeedBlock> {
  const r = rng(seed)
  const src = join(dir, `src-${seed}.db`)
  rmSync(src, { force: true })
  const db = new Database(src)
  const pageSize = pick(r, bigRows === undefined ? [512, 1024, 1024, 4096, 4096, 8192, 65536] : [1024, 4096])
  db.pragma(`page_size = ${pageSize}`)
  db.pragma(`encoding = '${pick(r, ['UTF-8', 'UTF-8', 'UTF-8', 'UTF-16le', 'UTF-16be'])}'`)
  const chosen = TABLES.filter((_, i) => i === 0 || r() < 0.5)
  const rows = small ? 40 + int(r, 33) : pageSize === 65536 ? 40 + int(r, 60) : 40 + int(r, 260)
  const big = Math.min(pageSize * (small ? 2 : 3), small ? 3000 : 20_000)
  for (const t of chosen) db.exec(t.ddl)
  db.transaction(() => {
    for (const t of chosen) {
      const name = /CREATE TABLE (\w+)/.exec(t.ddl)?.[1] ?? ''
      const ins = db.prepare(`INSERT OR IGNORE INTO ${name} VALUES (${Array(t.cols).fill('?').join(', ')})`)
      // Table b of a long run's block: past 4,096 rows, where the reference path reads the rows in
      // chunks that seek by rowid through the interior pages (small values past the first rows).
      // `bigRows`: table a of that many rows (past 65,536, the pool's threads hash it in chunks).
      const n = name === 'a' && bigRows !== undefined ? bigRows : name === 'b' && !small ? rows * 20 : rows
      for (let i = 0; i < n; i++) {
        // (A table of `bigRows` rows has most of its values NULL past the first rows: its reads cost per value.)
        const vals = Array.from({ length: t.cols }, () => i >= rows && bigRows !== undefined && r() < 0.6 ? null : value(r, i < rows ? big : 40))
        if (name === 'a' && r() < 0.3) vals[0] = null
        if (name === 'a' && vals[0] !== null) vals[0] = BigInt(Math.floor((r() - 0.5) * 2 ** 62))
        if (name === 'c') { vals[0] = `k${int(r, 1e6)}`; vals[1] = int(r, 10) }
        if (name === 'd') { vals[0] = r() < 0.2 ? null : BigInt(int(r, 1e9)); vals[1] = r() * 100; vals[2] = `s${i}`; vals[3] = Buffer.alloc(i % 9, i) }
        if (name === 'f') vals[0] = r() < 0.5 ? i / 3 : i
        // (Not the largest rowid: SQLite then picks the next one at random, and a seed would not give one file.)
        if (name === 'g') { vals[0] = r() < 0.5 ? null : BigInt(int(r, 2 ** 40)) - 2n ** 39n; vals[1] = `g${i}` }
        try { ins.run(...vals) } catch { /* a constraint: skip the row */ }
      }
      // Invalid UTF-8 stored as TEXT (the bytes as they are, in a UTF-8 database).
      if (name === 'a') db.prepare("INSERT INTO a (t, x) VALUES (CAST(x'ff61c3' AS TEXT), CAST(x'eda080' AS TEXT))").run()
    }
  })()
  for (const t of chosen) if (t.after !== undefined) db.exec(t.after)
  if (chosen.some(t => t.ddl.includes('TABLE e'))) db.exec('INSERT INTO e VALUES (1, 2, 3.5, 4)')
  db.close()
  const out = join(dir, `seed-${seed}.db`)
  rmSync(out, { force: true })
  await buildBlock({ source: src, output: out, key: fixtureKey('alice'), chainId: CHAIN_ID, height: 7, previousHash: 'bb'.repeat(32), timestamp: '2026-03-01T10:00:00.000Z', maxBytes: MAX_BYTES })
  rmSync(src, { force: true })
  const check = new Database(out, { readonly: true })
  const pages = check.prepare<[], { page: number, name: string, kind: string }>("SELECT pageno AS page, name, pagetype AS kind FROM dbstat WHERE name NOT LIKE '\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite_autoindex\\__%' ESCAPE '\\'").all()
  check.close()
  return { path: out, bytes: readFileSync(out), pageSize, pages, rows }
}

// SQLite varint at b[p]: [value, length] (values past 2^53 lose precision: only sizes are read).
function varint (b: Buffer, p: number): [number, number] {
  let v = 0
  for (let i = 0; i < 9; i++) {
    const x = b[p + i] ?? 0
    if (i === 8) return [v * 256 + x, 9]
    v = v * 128 + (x & 0x7f)
    if (x < 0x80) return [v, i + 1]
  }
  return [v, 9]
}

const BAD_UTF8 = [[0xff], [0xc3], [0xed, 0xa0, 0x80], [0xc0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82], [0xf0, 0x9f, 0x98]]
const DOUBLES = ['7ff8000000000000', 'fff0000000000001', '7ff0000000000000', '8000000000000000', '0000000000000001', '7fefffffffffffff', 'c3e0000000000000', '43e0000000000000']

/**
 * One change to `bytes` (a copy of a block): a byte or bit of a user table's page, a field of one
 * of its cells (serial types, record header size, text bytes, a REAL's bits, a payload size, an
 * overflow page number), a page header field, cell pointers, an interior page's child, or a field
 * of the file header. Returns what it did, for the report.
 */
export function mutateBytes (b: Buffer, s: SeedBlock, r: Rng): string {
  const ps = s.pageSize
  if (r() < 0.06) return fileHeader(b, r)
  // B-tree pages more often than their share (blobs make most pages overflow pages).
  const btree = s.pages.filter(p => p.kind !== 'overflow')
  const pg = pick(r, r() < 0.6 && btree.length > 0 ? btree : s.pages)
  const base = (pg.page - 1) * ps
  const h = base + (pg.page === 1 ? 100 : 0)
  const type = b[h] ?? 0
  const cells = b.readUInt16BE(h + 3)
  const hsize = type === 0x05 || type === 0x02 ? 12 : 8
  const cell = (i: number): number => base + b.readUInt16BE(h + hsize + 2 * i)
  // Varints in a longer form (manifest-varints.ts): the page's cells laid out again.
  if (pg.kind !== 'overflow' && r() < 0.15) {
    const w = lengthenVarints(b, pg.page, r)
    if (w !== undefined) return `${pg.name}/${pg.kind} ${w}`
  }
  const op = int(r, 10)
  if (pg.kind === 'overflow' || op === 0) {
    const at = base + (r() < 0.3 ? int(r, 16) : int(r, ps))
    if (r() < 0.5) { b[at] = (b[at] ?? 0) ^ (1 << int(r, 8)); return `${pg.name}/${pg.kind} p${pg.page} bit @${at - base}` }
    b[at] = int(r, 256)
    return `${pg.name}/${pg.kind} p${pg.page} byte @${at - base}`
  }
  if (op === 1) {
    const f = pick(r, [1, 3, 5, 7, 8])
    const at = h + f
    if (f === 8 && hsize === 8) { b[h + 7] = int(r, 256); return `${pg.name} p${pg.page} fragmented` }
    const lo = at + (f === 7 ? 0 : 1)
    if (r() < 0.5) b[lo] = ((b[lo] ?? 0) + pick(r, [1, -1, 2, 255])) & 0xff
    else b[at] = int(r, 256)
    return `${pg.name} p${pg.page} header field ${f}`
  }
  if (op === 2 && cells >= 2) {
    const i = int(r, cells)
    const j = int(r, cells)
    const pi = h + hsize + 2 * i
    const pj = h + hsize + 2 * j
    const t = b.readUInt16BE(pi)
    if (r() < 0.7) b.writeUInt16BE(b.readUInt16BE(pj), pi)
    b.writeUInt16BE(t, pj)
    return `${pg.name} p${pg.page} cell pointers ${i} ${j}`
  }
  if (op === 3 && hsize === 12) {
    const other = pick(r, s.pages)
    const at = cells > 0 && r() < 0.7 ? cell(int(r, cells)) : h + 8
    b.writeUInt32BE(r() < 0.8 ? other.page : int(r, 2 ** 32), at)
    return `${pg.name} p${pg.page} child -> ${other.page}`
  }
  if (cells === 0) { b[h + 4] = (b[h + 4] ?? 0) ^ 1; return `${pg.name} p${pg.page} cell count of an empty page` }
  const at = cell(int(r, cells))
  if (at >= base + ps) return 'cell pointer past the page: nothing'
  let p = at + (type === 0x05 ? 4 : 0)
  if (type === 0x05) { b.writeUInt32BE(pick(r, s.pages).page, at); return `${pg.name} p${pg.page} interior child` }
  const [total, tl] = varint(b, p)
  if (op === 4) { b[p + tl - 1] = ((b[p + tl - 1] ?? 0) & 0x80) | (((b[p + tl - 1] ?? 0) + pick(r, [1, 127, 2])) & 0x7f); return `${pg.name} p${pg.page} payload size` }
  p += tl
  if (type === 0x0d) {
    const [, rl] = varint(b, p)
    if (op === 5) { b[p + rl - 1] = ((b[p + rl - 1] ?? 0) & 0x80) | int(r, 128); return `${pg.name} p${pg.page} rowid` }
    p += rl
  }
  const usable = ps - (b[20] ?? 0)
  const x = type === 0x0a || type === 0x02 ? Math.floor((usable - 12) * 64 / 255) - 23 : usable - 35
  if (total > x) {
    // An overflowing cell: its overflow page number.
    const m = Math.floor((usable - 12) * 32 / 255) - 23
    const k = m + ((total - m) % (usable - 4))
    const local = k <= x ? k : m
    const ov = p + local
    if (ov + 4 <= base + ps && r() < 0.5) {
      const target = pick(r, [0, pick(r, s.pages).page, pg.page, b.readUInt32BE(ov) + 1, int(r, 2 ** 32)])
      b.writeUInt32BE(target, ov)
      return `${pg.name} p${pg.page} overflow page -> ${target}`
    }
  }
  // The record: header size, then serial types.
  const [hdr, hl] = varint(b, p)
  if (op === 6) { b[p + hl - 1] = ((b[p + hl - 1] ?? 0) & 0x80) | (((b[p + hl - 1] ?? 0) + pick(r, [1, 127])) & 0x7f); return `${pg.name} p${pg.page} record header size` }
  const fields: Array<{ at: number, len: number, t: number, body: number }> = []
  let q = p + hl
  let body = p + hdr
  while (q < p + hdr && fields.length < 100) {
    const [t, l] = varint(b, q)
    fields.push({ at: q, len: l, t, body })
    body += t < 12 ? [0, 1, 2, 3, 4, 6, 8, 8, 0, 0, 0, 0][t] ?? 0 : Math.floor((t - 12) / 2)
    q += l
  }
  const f = fields.length === 0 ? undefined : pick(r, fields)
  if (f === undefined) return `${pg.name} p${pg.page} record without fields`
  const last = f.at + f.len - 1
  const inPage = (n: number): boolean => f.body + n <= base + usable
  if (op === 7) {
    // Another serial type of the same content size.
    const same: Record<number, number[]> = { 0: [0, 8, 9, 10, 11], 6: [6, 7], 7: [6, 7] }
    let t: number
    if (f.t >= 12) t = f.t ^ 1
    else t = pick(r, same[f.t] ?? [f.t, pick(r, [0, 8, 9, 10, 11])])
    if (f.len === 1 && t < 128) b[f.at] = t
    else if (f.len > 1) b[last] = ((b[last] ?? 0) & 0x80) | (t & 0x7f)
    return `${pg.name} p${pg.page} serial type ${f.t} -> ${t}`
  }
  if (op === 8 && f.t >= 13 && (f.t & 1) === 1) {
    const n = (f.t - 13) / 2
    const bad = (b[56] ?? 1) === 1 ? pick(r, BAD_UTF8) : pick(r, [[0xd8, 0x00], [0x00, 0xd8], [0xdc, 0x00], [0x00, 0xdc], [0xff, 0xfe]])
    const off = n > bad.length ? int(r, n - bad.length + 1) : 0
    if (n >= bad.length && inPage(off + bad.length)) { Buffer.from(bad).copy(b, f.body + off); return `${pg.name} p${pg.page} text bytes ${Buffer.from(bad).toString('hex')}` }
  }
  if ((f.t === 7 || f.t === 6) && inPage(8)) {
    Buffer.from(pick(r, DOUBLES), 'hex').copy(b, f.body)
    if (r() < 0.5) b[last] = f.t === 6 ? 7 : 6
    return `${pg.name} p${pg.page} 8-byte value`
  }
  b[f.at + int(r, f.len)] = int(r, 256)
  return `${pg.name} p${pg.page} serial type byte`
}

/**
 * A user b-tree page's cell count (of a leaf or an interior page) set to 0, one less or more, two
 * more, or past what a page holds ((page size - 8) / 6): SQLite refuses the table at most of them
 * (a child without cells, a pointer read from the free space), reads fewer rows at one less.
 */
export function changeCellCount (b: Buffer, s: SeedBlock, r: Rng): string {
  const pages = s.pages.filter(p => p.kind !== 'overflow')
  if (pages.length === 0) return 'cell count: no b-tree page'
  const pg = pick(r, pages)
  const at = (pg.page - 1) * s.pageSize + (pg.page === 1 ? 100 : 0) + 3
  const n = b.readUInt16BE(at)
  const to = pick(r, [0, Math.max(0, n - 1), n + 1, n + 2, Math.floor((s.pageSize - 8) / 6) + 1])
  b.writeUInt16BE(to, at)
  return `${pg.name}/${pg.kind} p${pg.page} cell count ${n} -> ${to}`
}

/** A field of the file header that the readers use. */
function fileHeader (b: Buffer, r: Rng): string {
  const f = pick(r, ['page size', 'reserved', 'encoding', 'size', 'freelist', 'format', 'vacuum', 'fractions'])
  switch (f) {
    case 'page size': b.writeUInt16BE(pick(r, [512, 1024, 4096, 1, 2048, 0, 513]), 16); break
    case 'reserved': b[20] = pick(r, [1, 8, 32, 0, 255]); break
    case 'encoding': b.writeUInt32BE(pick(r, [1, 2, 3, 0, 4]), 56); break
    case 'size': b.writeUInt32BE(b.readUInt32BE(28) + pick(r, [1, -1, 1000]), 28); break
    case 'freelist': b.writeUInt32BE(int(r, b.length / b.readUInt16BE(16) + 2), 32 + 4 * int(r, 2)); break
    case 'format': b.writeUInt32BE(pick(r, [1, 2, 3, 5]), 44); break
    case 'vacuum': b.writeUInt32BE(int(r, 4), 52 + 12 * int(r, 2)); break
    case 'fractions': b[21 + int(r, 3)] = int(r, 256); break
  }
  return `file header ${f}`
}

/** Column-level changes of a user table's DDL (through writable_schema), as a signer may sign them. */
const SCHEMA_EDITS: Array<[RegExp, string]> = [
  [/ REAL/, ' TEXT'], [/ REAL/, ' INTEGER'], [/ REAL/, ''], [/ INTEGER/, ' REAL'], [/ TEXT/, ' BLOB'], [/ TEXT/, ' REAL'],
  [/, x\)/, ', x DEFAULT 3)'], [/, z\)/, ', z, extra)'], [/, z\)/, ')'], [/\(x, /, '(x REAL, '], [/INTEGER PRIMARY KEY/, 'INT PRIMARY KEY'],
  [/INTEGER PRIMARY KEY/, 'INTEGER PRIMARY KEY DESC'], [/ STRICT$/, ''], [/\) WITHOUT ROWID/, ', extra) WITHOUT ROWID'], [/k TEXT/, 'k TEXT COLLATE NOCASE'],
  [/n NUMERIC/, 'n DATE'], [/ x\)/, ' x REAL)'], [/, n\)/, ' DESC, n)'], [/ NOT NULL/, ''], [/q DEFAULT 5/, 'q'], [/b BLOB/, 'b REAL'],
  // A WITHOUT ROWID table's key in another order or shorter: quick_check does not check its order.
  [/PRIMARY KEY \(k, n\)/, 'PRIMARY KEY (n, k)'], [/PRIMARY KEY \(k, n\)/, 'PRIMARY KEY (k)'], [/r REAL PRIMARY KEY, v\)/, 'r REAL, v PRIMARY KEY)']
]

/** Change one user table's DDL in sqlite_schema (the file stays one SQLite opens). */
export function mutateSchema (path: string, r: Rng): string {
  const db = new Database(path)
  try {
    const rows = db.prepare<[], { name: string, sql: string }>("SELECT name, sql FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE '\\_%' ESCAPE '\\'").all()
    const t = pick(r, rows)
    const edits = SCHEMA_EDITS.filter(([re]) => re.test(t.sql))
    if (edits.length === 0) return 'schema: no edit applies'
    const [re, to] = pick(r, edits)
    const sql = t.sql.replace(re, to)
    db.unsafeMode(true)
    db.pragma('writable_schema = ON')
    db.prepare('UPDATE sqlite_schema SET sql = ? WHERE name = ?').run(sql, t.name)
    db.pragma('writable_schema = OFF')
    return `schema of ${t.name}: ${re.source} -> ${to}`
  } finally {
    db.close()
  }
}

/**
 * One to three bytes of the reserved tables' pages (`_meta`, `_keys`, `_tables` and their
 * primary-key indexes) changed, a third of them in the page header and cell pointers: what the
 * page readers of plain verify (read-pages.ts, read-lean.ts) must read as SQLite does, or leave to it.
 */
export function mutateReserved (path: string, r: Rng): string {
  const db = new Database(path, { readonly: true })
  let pages: number[]
  try {
    pages = db.prepare<[], number>("SELECT pageno FROM dbstat WHERE name LIKE '\\_%' ESCAPE '\\' OR name LIKE 'sqlite_autoindex\\_\\_%' ESCAPE '\\'").pluck().all()
  } catch {
    return 'reserved pages: not listed (SQLite cannot read the file)'
  } finally {
    db.close()
  }
  const b = readFileSync(path)
  const ps = b.readUInt16BE(16) === 1 ? 65536 : b.readUInt16BE(16)
  const what: string[] = []
  // Varints in a longer form (manifest-varints.ts), for the lean reader and readBlockPages.
  const page = pick(r, pages)
  const longer = page !== undefined && r() < 0.3 ? lengthenVarints(b, page, r) : undefined
  if (longer !== undefined) { writeFileSync(path, b); return `reserved ${longer}` }
  for (let n = 1 + int(r, 3); n > 0 && pages.length > 0; n--) {
    const page = pick(r, pages)
    const at = (page - 1) * ps + (r() < 0.33 ? int(r, 16) : int(r, ps))
    b[at] = r() < 0.5 ? (b[at] ?? 0) ^ (1 << int(r, 8)) : int(r, 256)
    what.push(`reserved p${page} @${at % ps}`)
  }
  writeFileSync(path, b)
  return what.join(', ')
}
