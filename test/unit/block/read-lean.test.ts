// Plain verify reads an ordinary small block with a lean reader (read-lean.ts) and everything else
// with the general page reader. The lean one must never decide: for any bytes it gives exactly
// what readBlockPages gives, or undefined (then readBlockPages reads the block), and it throws
// only what readBlockPages throws.
import { describe, expect, it } from 'vitest'
import Database from 'better-sqlite3'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { buildBlock, GENESIS_PREVIOUS_HASH, readBlockFile, readBlockLean, readBlockPages, signKeyOp, type BlockFile } from '../../../src/block/index.js'
import { isPetalError } from '../../../src/util/index.js'
import { fixtureKey } from '../../helpers/chain.js'
import { tmpDir } from '../../helpers/tmp.js'

const MAX = 1 << 26
type Answer = BlockFile | undefined | string

function answer (read: () => BlockFile | undefined): Answer {
  try { return read() } catch (err) { return isPetalError(err) ? err.code : `uncoded: ${String(err)}` }
}

/** Both readers' answers on `bytes`, the page reader's schema cache first primed with `prime` (as the block before it in a chain). */
function both (path: string, bytes: Buffer, prime: Buffer): { lean: Answer, general: Answer } {
  answer(() => readBlockPages(path, MAX, prime))
  const lean = answer(() => readBlockLean(path, MAX, bytes))
  answer(() => readBlockPages(path, MAX, prime))
  return { lean, general: answer(() => readBlockPages(path, MAX, bytes)) }
}

/** The lean answer is the general one, or undefined when the general one is a block or undefined. */
function agrees ({ lean, general }: { lean: Answer, general: Answer }): boolean {
  if (lean === undefined) return typeof general !== 'string'
  expect(lean).toStrictEqual(general)
  return true
}

async function block (dir: string, name: string, o: { height?: number, tables?: string, description?: string, creator?: string, keyOps?: boolean, pageSize?: number } = {}): Promise<string> {
  let source: string | undefined
  if (o.tables !== undefined) {
    source = join(dir, `${name}-src.db`)
    const db = new Database(source)
    db.pragma(`page_size = ${o.pageSize ?? 4096}`)
    db.exec(o.tables)
    db.close()
  }
  const alice = fixtureKey('alice')
  const built = await buildBlock({
    source, output: join(dir, `${name}.db`), key: alice, chainId: o.height === 0 ? '' : 'aa'.repeat(32), height: o.height ?? 7,
    previousHash: o.height === 0 ? GENESIS_PREVIOUS_HASH : 'bb'.repeat(32), genesis: o.height === 0 ? { quorumRule: 'daisy-capped', maxBlockBytes: MAX, maxReorgDepth: 100 } : undefined,
    timestamp: '2026-03-01T10:00:00.000Z', maxBytes: MAX, description: o.description, creatorName: o.creator, pageSize: o.pageSize,
    keyOps: o.keyOps === true ? [signKeyOp(alice, 'aa'.repeat(32), 'A', fixtureKey('bob').publicKey)] : undefined
  })
  return built.path
}

/** The root pages of the reserved tables (and page 1), as SQLite names them. */
function reservedPages (path: string): number[] {
  const db = new Database(path, { readonly: true })
  try {
    return [1, ...db.prepare<[], number>("SELECT rootpage FROM sqlite_schema WHERE name IN ('_meta', '_keys', '_tables')").pluck().all()]
  } finally {
    db.close()
  }
}

describe('the lean reader of ordinary small blocks (plain verify)', () => {
  it('reads an empty block, one with Creator and Description, one with user tables, as the SQLite read does', async () => {
    const dir = tmpDir()
    const paths = [
      await block(dir, 'empty'),
      await block(dir, 'described', { creator: 'Ålice', description: 'é — ünïcode 😀' }),
      await block(dir, 'tables', { tables: 'CREATE TABLE t (x); INSERT INTO t VALUES (1), (2); CREATE TABLE "B c" (y TEXT); CREATE TABLE a (z)' }),
      await block(dir, 'small-pages', { tables: 'CREATE TABLE t (x); INSERT INTO t VALUES (1)', pageSize: 1024 })
    ]
    for (const p of paths) {
      const bytes = readFileSync(p)
      const r = both(p, bytes, bytes)
      expect(r.lean, p).toBeDefined()
      expect(r.lean).toStrictEqual(r.general)
      expect(r.lean).toEqual({ ...await readBlockFile(p, { maxBytes: MAX, quickCheck: false, checkManifest: false }), userTables: [] })
    }
  })

  it('stands aside for a page 1 the general reader has not parsed, the genesis, key operations and overflowing rows', async () => {
    const dir = tmpDir()
    const empty = readFileSync(await block(dir, 'empty'))
    const cases = [
      await block(dir, 'genesis', { height: 0 }),
      await block(dir, 'keyops', { keyOps: true }),
      await block(dir, 'long', { description: 'd'.repeat(4000) }),
      await block(dir, 'utf16', { tables: "PRAGMA encoding = 'UTF-16le'; CREATE TABLE t (x)" }),
      // 512-byte pages: _meta's rows take more than a page (an interior page and two leaves).
      await block(dir, 'interior', { tables: 'CREATE TABLE t (x)', pageSize: 512 })
    ]
    for (const p of cases) {
      const bytes = readFileSync(p)
      // Primed with its own page 1 or with another block's: either way the general reader decides.
      for (const prime of [bytes, empty]) {
        const r = both(p, bytes, prime)
        expect(r.lean, p).toBeUndefined()
        expect(r.general, p).toBeTypeOf('object')
      }
    }
    // A block whose page 1 is not the one the general reader parsed last: left to it.
    const tables = readFileSync(await block(dir, 'tables', { tables: 'CREATE TABLE t (x)' }))
    expect(both(join(dir, 'tables.db'), tables, empty).lean).toBeUndefined()
  })

  it('gives what the general reader gives, or stands aside, for every fixture', () => {
    // The fixtures have 512-byte pages, on which _meta takes an interior page and two leaves: the
    // lean reader stands aside for them (the next test changes bytes of blocks it does read).
    const fixtures = join(import.meta.dirname, '..', '..', 'fixtures', 'blocks')
    for (const f of readdirSync(fixtures).filter(n => n.endsWith('.db'))) {
      const bytes = readFileSync(join(fixtures, f))
      const r = both(join(fixtures, f), bytes, bytes)
      expect(agrees(r), f).toBe(true)
      if (typeof r.general === 'string') expect(r.lean, f).toBe(r.general)
    }
  })

  it('gives what the general reader gives, or stands aside, for every byte of the reserved tables\' pages changed', async () => {
    const dir = tmpDir()
    const kinds = [{}, { creator: 'Ålice', description: 'a block' }, { tables: 'CREATE TABLE t (x); INSERT INTO t VALUES (1); CREATE TABLE u (y)', pageSize: 1024 }]
    for (const [i, o] of kinds.entries()) {
      const p = await block(dir, `b${i}`, o)
      const bytes = readFileSync(p)
      const size = bytes.readUInt16BE(16)
      let lean = 0
      let changed = 0
      for (const n of reservedPages(p).slice(1)) {
        for (let at = (n - 1) * size; at < n * size; at++) {
          const was = bytes[at] ?? 0
          for (const v of [was ^ 0x01, was ^ 0x80, 0x00, 0xff, 0x30]) {
            if (v === was) continue
            const m = Buffer.from(bytes)
            m[at] = v
            const r = both(p, m, bytes)
            expect(agrees(r), `byte ${at} = ${v}`).toBe(true)
            if (r.lean !== undefined) lean++
            if (r.lean !== undefined && JSON.stringify(r.lean) !== JSON.stringify(answer(() => readBlockLean(p, MAX, bytes)))) changed++
          }
        }
      }
      // Most changes land in free space (the same block) or are refused; some change a value it reads (a text's letter).
      expect(lean).toBeGreaterThan(1000)
      expect(changed).toBeGreaterThan(10)
    }
  })

  it('stands aside for a `_meta` key given twice, with the same valid value both times', async () => {
    // Creator, Version and ChainId are seven letters each: the Creator row renamed as another key
    // (in a file that SQLite's unique key would never let be written), with that key's own value,
    // gives a block whose every field is valid but whose key appears twice.
    const dir = tmpDir()
    for (const [key, value] of [['Version', '2'], ['ChainId', 'aa'.repeat(32)]] as const) {
      const p = await block(dir, key, { creator: value })
      const bytes = readFileSync(p)
      const size = bytes.readUInt16BE(16)
      const metaPage = reservedPages(p)[1] ?? 0
      const at = bytes.subarray((metaPage - 1) * size, metaPage * size).indexOf(Buffer.from(`Creator${value}`, 'latin1'))
      expect(at, key).toBeGreaterThan(0)
      expect(both(p, bytes, bytes).lean, key).toBeDefined()
      const m = Buffer.from(bytes)
      m.write(key, (metaPage - 1) * size + at, 'latin1')
      const r = both(p, m, bytes)
      expect(r.lean, key).toBeUndefined()
      expect(agrees(r)).toBe(true)
    }
  })

  it('reads varints SQLite accepts in a longer form than needed (a value below 128 in two bytes) as the general reader does', async () => {
    // A varint's length comes from its bytes, not from its value: [0x80, 0x05] is 5 in two bytes.
    // SQLite and the general reader take it; the lean reader advanced one byte for any value below
    // 128 and so read the rest of such a cell one byte off.
    const dir = tmpDir()
    const p = await block(dir, 'long-varints', { creator: 'Ålice', tables: 'CREATE TABLE t (x); INSERT INTO t VALUES (1); CREATE TABLE u (y)', pageSize: 1024 })
    const bytes = readFileSync(p)
    const size = bytes.readUInt16BE(16)
    let cases = 0
    for (const n of reservedPages(p).slice(1)) {
      const cells = leafCells(bytes, n, size)
      for (const [i, cell] of cells.entries()) {
        // Which varint of the cell takes two bytes: the payload size, the record header size, or a column's serial type.
        for (let which = 0; which < 2 + cell.types.length; which++) {
          const encoded = cells.map((c, j) => encodeCell(c, j === i ? which : -1))
          if (encoded.some(e => e === undefined)) continue // that varint is 128 or more
          const m = Buffer.from(bytes)
          writeLeaf(m, n, size, encoded as Buffer[])
          const r = both(p, m, bytes)
          expect(r.general, `page ${n} cell ${i} varint ${which}`).toBeTypeOf('object')
          expect(r.lean, `page ${n} cell ${i} varint ${which}`).toStrictEqual(r.general)
          // SQLite itself reads the page so, with its structural checks.
          const copy = join(dir, 'copy.db')
          writeFileSync(copy, m)
          expect({ ...await readBlockFile(copy, { maxBytes: MAX, quickCheck: true, checkManifest: false }), path: p, userTables: [] }).toEqual(r.lean)
          cases++
        }
      }
    }
    expect(cases).toBeGreaterThan(30)
  })

  it('throws what the general reader throws for a file that is not a block', async () => {
    const dir = tmpDir()
    const bytes = readFileSync(await block(dir, 'empty'))
    const truncated = bytes.subarray(0, bytes.length - 100)
    const wal = Buffer.from(bytes)
    wal[18] = 2
    wal[19] = 2
    const notSqlite = Buffer.from(bytes)
    notSqlite[0] = 0x51
    for (const [m, code] of [[truncated, 'CORRUPT'], [wal, 'WAL_MODE'], [notSqlite, 'NOT_SQLITE']] as const) {
      const r = both(join(dir, 'empty.db'), m, bytes)
      expect(r).toEqual({ lean: code, general: code })
    }
    expect(answer(() => readBlockLean(join(dir, 'empty.db'), bytes.length - 1, bytes))).toBe('BLOCK_TOO_LARGE')
  })
})

/** A table leaf cell whose varints are one byte each (as SQLite writes small ones): its rowid, serial types and body. */
interface LeafCell { rowid: number, types: number[], body: Buffer }

function leafCells (d: Buffer, n: number, size: number): LeafCell[] {
  const p = (n - 1) * size
  expect(d[p]).toBe(0x0d)
  const count = d.readUInt16BE(p + 3)
  const cells: LeafCell[] = []
  for (let i = 0; i < count; i++) {
    let q = p + d.readUInt16BE(p + 8 + 2 * i)
    // Varints of one or two bytes (sizes and serial types on a 1 KiB page), canonical as SQLite writes them.
    const one = (): number => {
      const x = d[q++] as number
      if (x < 0x80) return x
      const y = d[q++] as number
      expect(y).toBeLessThan(0x80)
      return ((x & 0x7f) << 7) | y
    }
    const total = one()
    const rowid = one()
    const start = q
    const hdr = one()
    const types: number[] = []
    while (q < start + hdr) types.push(one())
    cells.push({ rowid, types, body: Buffer.from(d.subarray(start + hdr, start + total)) })
  }
  return cells
}

/**
 * The cell's bytes, varint `long` (0: payload size, 1: record header size, 2…: a serial type) in
 * two bytes ([0x80, v]) if its value is below 128 (else undefined); the others as SQLite writes them.
 */
function encodeCell (c: LeafCell, long: number): Buffer | undefined {
  let ok = long < 0
  const v = (x: number, k: number): number[] => {
    if (k === long && x < 0x80) { ok = true; return [0x80, x] }
    return x < 0x80 ? [x] : [0x80 | (x >> 7), x & 0x7f]
  }
  const types = c.types.flatMap((t, k) => v(t, k + 2))
  // The header size counts itself (one byte, or two when written long).
  const hdrLen = 1 + (long === 1 ? 1 : 0) + types.length
  const header = [...v(hdrLen, 1), ...types]
  const payload = Buffer.concat([Buffer.from(header), c.body])
  const cell = Buffer.concat([Buffer.from([...v(payload.length, 0), ...v(c.rowid, -2)]), payload])
  return ok ? cell : undefined
}

/** Lay `cells` out on leaf page `n` as SQLite does: pointers after the header, contents at the page's end, no free blocks. */
function writeLeaf (d: Buffer, n: number, size: number, cells: Buffer[]): void {
  const p = (n - 1) * size
  d.fill(0, p + 1, p + size)
  d[p] = 0x0d
  d.writeUInt16BE(cells.length, p + 3)
  let at = size
  for (const [i, c] of cells.entries()) {
    at -= c.length
    c.copy(d, p + at)
    d.writeUInt16BE(at, p + 8 + 2 * i)
  }
  d.writeUInt16BE(at, p + 5)
  expect(at).toBeGreaterThan(8 + 2 * cells.length)
}
