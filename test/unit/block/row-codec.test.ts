import { describe, expect, it } from 'vitest'
import Database from 'better-sqlite3'
import { join } from 'node:path'
import { computeManifest, encodeRow, inspectSchema, rowsRootOf } from '../../../src/block/index.js'
import { tmpDir } from '../../helpers/tmp.js'
import { leafHash } from '../../../src/crypto/index.js'
import { toHex } from '../../../src/util/index.js'

// The vectors of docs/block-format.md "Row encoding" and "RowsRoot".
describe('canonical row encoding', () => {
  it('encodes each storage class with a tag and a fixed or length-prefixed payload', () => {
    expect(toHex(encodeRow([]))).toBe('00000000')
    expect(toHex(encodeRow([null]))).toBe('0000000100')
    expect(toHex(encodeRow([1n]))).toBe('00000001010000000000000001')
    expect(toHex(encodeRow([-1n]))).toBe('0000000101ffffffffffffffff')
    expect(toHex(encodeRow([9007199254740993n]))).toBe('00000001010020000000000001')
    expect(toHex(encodeRow([1.5]))).toBe('0000000102' + '3ff8000000000000')
    expect(toHex(encodeRow(['hé']))).toBe('000000010300000003' + '68c3a9')
    expect(toHex(encodeRow([Uint8Array.of(0, 255)]))).toBe('00000001040000000200ff')
    expect(toHex(encodeRow([1n, 'a', null]))).toBe('00000003' + '010000000000000001' + '030000000161' + '00')
  })

  it('encodes the ends of the 64-bit range, refuses integers beyond it, and keeps the sign and bits of a real', () => {
    expect(toHex(encodeRow([-(2n ** 63n)]))).toBe('00000001018000000000000000')
    expect(toHex(encodeRow([2n ** 63n - 1n]))).toBe('00000001017fffffffffffffff')
    // Wrapped modulo 2^64, 2^64 + 5 would encode as 5: a proof's value would then match another row's leaf.
    expect(() => encodeRow([2n ** 64n + 5n])).toThrow(RangeError)
    expect(() => encodeRow([2n ** 63n])).toThrow(RangeError)
    expect(() => encodeRow([-(2n ** 63n) - 1n])).toThrow(RangeError)
    expect(toHex(encodeRow([-0]))).toBe('0000000102' + '8000000000000000')
    expect(toHex(encodeRow([Number.MIN_VALUE, -Infinity]))).toBe('00000002' + '020000000000000001' + '02fff0000000000000')
    // Past the encoder's first buffer (4 KiB): the view follows the grown buffer.
    const big = Array.from({ length: 600 }, (_, i) => BigInt(i) * -0x01020304050607n)
    const hex = toHex(encodeRow(big))
    expect(hex.length).toBe((4 + 600 * 9) * 2)
    expect(hex.slice(-18)).toBe('01' + BigInt.asUintN(64, 599n * -0x01020304050607n).toString(16).padStart(16, '0'))
  })

  it('keeps distinct rows distinct: TEXT vs BLOB, integer vs real, column boundaries', () => {
    const enc = (r: Parameters<typeof encodeRow>[0]): string => toHex(encodeRow(r))
    expect(enc(['ab'])).not.toBe(enc([Uint8Array.of(0x61, 0x62)]))
    expect(enc([1n])).not.toBe(enc([1]))
    expect(enc(['a', 'bc'])).not.toBe(enc(['ab', 'c']))
    expect(enc([null, null])).not.toBe(enc([null]))
  })

  it('gives the documented leaf, table-root and RowsRoot vectors, from a real SQLite table', async () => {
    const rows: Array<Parameters<typeof encodeRow>[0]> = [[1n, 'ann', 1.5, null], [2n, 'bob', null, Uint8Array.of(0xde, 0xad)], [3n, null, -0.25, Uint8Array.of()]]
    expect(rows.map(r => toHex(leafHash(encodeRow(r))))).toEqual([
      '75c91a9a5e1c3b7ee259f3a8c3da0dcbf1862defcfa6128fccca8fb676004b56',
      '299890f44646787f51b59efd2136ee0952c0c6eba17a60bdae94e6a686f37240',
      '9a21ee4c06a15963bbaa1d87f2c1a7038f57f64f229c353c9219fcc8145c6e52'
    ])
    const sql = 'CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT, score REAL, photo BLOB)'
    const path = join(tmpDir(), 'v.db')
    const db = new Database(path)
    // Inserted out of order: rows are hashed in rowid order, not insertion order.
    db.exec(`${sql}; INSERT INTO people VALUES (3, NULL, -0.25, x''), (1, 'ann', 1.5, NULL), (2, 'bob', NULL, x'dead')`)
    const m = computeManifest(db, inspectSchema(db, 'input').userTables)
    db.close()
    expect(m.tables).toEqual([{ name: 'people', sql, rows: 3, root: '0c24db5d039a07390e4bf7cea127f519c70997f81b4cefeff55bd98f49fad125' }])
    expect(m.rowsRoot).toBe('dda769e3a8aa169e82d8846b0460ec8482c4d15a289e458e1893824d80606edc')
    expect(rowsRootOf([])).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')
  })
})

describe('table roots over chunked reads', () => {
  it('hash every row once, in rowid order, across chunk boundaries and extreme rowids', async () => {
    const path = join(tmpDir(), 'chunks.db')
    const db = new Database(path)
    db.exec('CREATE TABLE t (v INTEGER)')
    const ins = db.prepare('INSERT INTO t (rowid, v) VALUES (?, ?)')
    const rowids = [-(2n ** 63n), -5n, 0n, ...Array.from({ length: 9000 }, (_, i) => BigInt(i * 3 + 1)), 2n ** 63n - 1n]
    db.transaction(() => { for (const r of [...rowids].reverse()) ins.run(r, r % 1000n) })()
    const m = computeManifest(db, inspectSchema(db, 'input').userTables)
    db.close()
    const { merkleRoot } = await import('../../../src/crypto/index.js')
    const expected = toHex(merkleRoot(rowids.map(r => leafHash(encodeRow([r % 1000n])))))
    expect(m.tables[0]).toMatchObject({ rows: rowids.length, root: expected })
  })
})

describe('parallel table roots', () => {
  it('equal the sequential root across 2^14-row chunks, with sparse rowids and a partial last chunk', async () => {
    const { tableRoot, tableRootParallel, CHUNK_ROWS, TableRootPool } = await import('../../../src/block/index.js')
    const path = join(tmpDir(), 'big.db')
    const db = new Database(path)
    db.exec('CREATE TABLE t (a INTEGER, b TEXT)')
    const n = 5 * CHUNK_ROWS + 12_345 // above the parallel threshold (4 chunks), with a partial last chunk
    const ins = db.prepare('INSERT INTO t (rowid, a, b) VALUES (?, ?, ?)')
    db.transaction(() => { for (let i = 0; i < n; i++) ins.run(i * 7 - 500_000, i, i % 3 === 0 ? null : `v${i}`) })()
    const [table] = inspectSchema(db, 'input').userTables
    const seq = tableRoot(db, table as never)
    const pool = new TableRootPool(2)
    expect(pool.alive).toBe(0) // threads start on first use
    const par = await tableRootParallel(path, db, table as never, pool)
    db.close()
    expect(pool.alive).toBe(2)
    await pool.close()
    expect(pool.alive).toBe(0)
    await expect(pool.run({ kind: 'sql', path, table: table as never })).rejects.toMatchObject({ code: 'ABORTED' })
    expect(seq.rows).toBe(n)
    expect(par).toEqual(seq)
  })
})
