// readBlockFile reuses the schema's reads (sqlite_schema, PRAGMA table_list, table_xinfo, and the
// fast path's plan of each table) of the last block whose page 1 had the same bytes, when the caller hands page 1 with the header
// (`head`) and that page holds the whole schema: every other check still runs on the block itself.
import { afterEach, describe, expect, it, vi } from 'vitest'
import Database from 'better-sqlite3'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { readBlockFile } from '../../../src/block/index.js'
import { schemaOnPage } from '../../../src/block/schema-memo.js'
import { head, MAX_BLOCK_BYTES, outcome, pageSize, prepared, sqlBlock } from '../../helpers/block-read.js'
import { tmpDir } from '../../helpers/tmp.js'

const MAX = MAX_BLOCK_BYTES
const block = sqlBlock

afterEach(() => { vi.restoreAllMocks() })

describe('the schema reads of a block whose page 1 was seen before', () => {
  it('are not made again, and the block reads as without them', async () => {
    const dir = tmpDir()
    const a = await block(dir, 'a', "CREATE TABLE t (x); INSERT INTO t VALUES (1), ('two')")
    const b = await block(dir, 'b', "CREATE TABLE t (x); INSERT INTO t VALUES (3.5), (x'00ff')")
    // The premise: blocks of the same tables have the same page 1 (the bytes differ elsewhere).
    expect(a.bytes.subarray(0, pageSize(a.bytes)).equals(b.bytes.subarray(0, pageSize(b.bytes)))).toBe(true)
    expect(a.bytes.equals(b.bytes)).toBe(false)
    const plain = await readBlockFile(b.path, { maxBytes: MAX })
    await readBlockFile(a.path, { maxBytes: MAX, head: head(a.bytes, pageSize(a.bytes)) })
    let got: unknown
    const sql = await prepared(async () => { got = await readBlockFile(b.path, { maxBytes: MAX, head: head(b.bytes, pageSize(b.bytes)) }) })
    expect(got).toEqual(plain)
    expect(sql.some(s => s.includes('sqlite_schema'))).toBe(false)
    expect(sql.some(s => s.includes('table_list') || s.includes('table_xinfo'))).toBe(false)
    // The block's own tables are still read: _meta, _keys, _tables and the rows.
    expect(sql.filter(s => /FROM (_meta|_keys|_tables|"t")/.test(s))).toHaveLength(4)
    // With only the header (100 bytes), the schema is read as before.
    const again = await prepared(async () => { await readBlockFile(b.path, { maxBytes: MAX, head: head(b.bytes, 100) }) })
    expect(again.some(s => s.includes('sqlite_schema'))).toBe(true)
  })

  it('include the fast path\'s plan of a table: not made again for the same page 1, made for another', async () => {
    const dir = tmpDir()
    // 100 rows: above the few rows hashed through SQLite, so the rows go the fast path, which plans the table.
    const rows = (from: number): string => Array.from({ length: 100 }, (_, i) => `(${from + i}, 'row ${from + i}')`).join(', ')
    const a = await block(dir, 'a', `CREATE TABLE t (id INTEGER PRIMARY KEY, x TEXT); INSERT INTO t VALUES ${rows(1)}`)
    const b = await block(dir, 'b', `CREATE TABLE t (id INTEGER PRIMARY KEY, x TEXT); INSERT INTO t VALUES ${rows(1000)}`)
    const c = await block(dir, 'c', `CREATE TABLE t (id INTEGER PRIMARY KEY, x TEXT, y); INSERT INTO t (id, x) VALUES ${rows(1)}`)
    expect(a.bytes.subarray(0, pageSize(a.bytes)).equals(b.bytes.subarray(0, pageSize(b.bytes)))).toBe(true)
    // planFastTable's statements: the root page, the columns (which the schema's own reads ask too), the rowid's EXPLAIN.
    const planning = (sql: string[]): string[] => sql.filter(s => s.includes('SELECT rootpage') || s.includes('PRAGMA main.table_xinfo') || s.startsWith('EXPLAIN'))
    expect(planning(await prepared(async () => { await readBlockFile(a.path, { maxBytes: MAX, head: head(a.bytes, pageSize(a.bytes)) }) })).filter(s => !s.includes('table_xinfo'))).toHaveLength(2)
    let got: unknown
    expect(planning(await prepared(async () => { got = await readBlockFile(b.path, { maxBytes: MAX, head: head(b.bytes, pageSize(b.bytes)) }) }))).toEqual([])
    expect(got).toEqual(await readBlockFile(b.path, { maxBytes: MAX }))
    expect(planning(await prepared(async () => { got = await readBlockFile(c.path, { maxBytes: MAX, head: head(c.bytes, pageSize(c.bytes)) }) })).filter(s => !s.includes('table_xinfo'))).toHaveLength(2)
    expect(got).toEqual(await readBlockFile(c.path, { maxBytes: MAX }))
  })

  it('are read for a block of other tables, and its own are reported', async () => {
    const dir = tmpDir()
    const a = await block(dir, 'a', 'CREATE TABLE t (x); INSERT INTO t VALUES (1)')
    const c = await block(dir, 'c', 'CREATE TABLE u (y, z); INSERT INTO u VALUES (1, 2)')
    await readBlockFile(a.path, { maxBytes: MAX, head: head(a.bytes) })
    let got: Awaited<ReturnType<typeof readBlockFile>> | undefined
    const sql = await prepared(async () => { got = await readBlockFile(c.path, { maxBytes: MAX, head: head(c.bytes) }) })
    expect(sql.some(s => s.includes('sqlite_schema'))).toBe(true)
    expect(got?.userTables.map(t => [t.name, t.columns])).toEqual([['u', ['y', 'z']]])
    expect(got).toEqual(await readBlockFile(c.path, { maxBytes: MAX }))
  })

  it('leave every other check to the block itself: a refused block is refused with the same code and message', async () => {
    const dir = tmpDir()
    const a = await block(dir, 'a', "CREATE TABLE t (x); INSERT INTO t VALUES (1), ('two')")
    const b = await block(dir, 'b', "CREATE TABLE t (x); INSERT INTO t VALUES (2), ('three')")
    const size = pageSize(b.bytes)
    const db = new Database(b.path, { readonly: true })
    const root = db.prepare<[], string>("SELECT root FROM _tables WHERE name = 't'").pluck().get() ?? ''
    const tRoot = db.prepare<[], number>("SELECT rootpage FROM sqlite_schema WHERE name = 't'").pluck().get() ?? 0
    db.close()
    const at = b.bytes.indexOf(Buffer.from(root, 'latin1'))
    expect(at).toBeGreaterThanOrEqual(size)
    expect(tRoot).toBeGreaterThan(1)
    const hostile: Array<[string, string, (x: Buffer) => void]> = [
      // _tables' recorded root edited (its index holds only the name): RowsRoot no longer matches.
      ['a _tables root edited', 'ROWS_ROOT_MISMATCH', x => { x[at] = x[at] === 0x61 ? 0x62 : 0x61 }],
      // The user table's root page made garbage: SQLite's check refuses the file.
      ['a table page overwritten', 'CORRUPT', x => { x.fill(0xff, (tRoot - 1) * size, tRoot * size) }],
      // A row's value changed in place (same size): the table no longer hashes to its recorded root.
      ['a row edited', 'MANIFEST_MISMATCH', x => { const i = x.indexOf(Buffer.from('three', 'latin1'), size); x.write('thref', i, 'latin1') }]
    ]
    for (const [what, code, edit] of hostile) {
      const bytes = Buffer.from(b.bytes)
      edit(bytes)
      expect(bytes.subarray(0, size).equals(a.bytes.subarray(0, size)), what).toBe(true)
      const path = join(dir, 'hostile.db')
      writeFileSync(path, bytes)
      const without = await outcome(readBlockFile(path, { maxBytes: MAX }))
      expect(without, what).toHaveProperty('code', code)
      await readBlockFile(a.path, { maxBytes: MAX, head: head(a.bytes) })
      const sql = await prepared(async () => { expect(await outcome(readBlockFile(path, { maxBytes: MAX, head: head(bytes) })), what).toEqual(without) })
      expect(sql.some(s => s.includes('sqlite_schema')), what).toBe(false)
    }
  })
})

describe('schemaOnPage: page 1 holds the whole schema', () => {
  it('for an ordinary block', async () => {
    const a = await block(tmpDir(), 'a', 'CREATE TABLE t (x); INSERT INTO t VALUES (1)')
    expect(schemaOnPage(a.bytes.subarray(0, pageSize(a.bytes)))).toBe(true)
  })

  it('not when a CREATE statement spills to an overflow page', async () => {
    const long = `CREATE TABLE t (x DEFAULT '${'y'.repeat(6000)}')`
    const a = await block(tmpDir(), 'a', `${long}; INSERT INTO t DEFAULT VALUES`)
    expect(schemaOnPage(a.bytes.subarray(0, pageSize(a.bytes)))).toBe(false)
    // Read with the memo's help asked for, it reads as without it.
    expect(await readBlockFile(a.path, { maxBytes: MAX, head: head(a.bytes) })).toEqual(await readBlockFile(a.path, { maxBytes: MAX }))
  })

  it('not when sqlite_schema is more than one page (page 1 an interior page)', async () => {
    const tables = Array.from({ length: 60 }, (_, i) => `CREATE TABLE table_number_${i} (a_rather_long_column_name_${i}, another_long_column_name_${i}); INSERT INTO table_number_${i} VALUES (${i}, ${i})`).join(';')
    const a = await block(tmpDir(), 'a', tables)
    const page = a.bytes.subarray(0, pageSize(a.bytes))
    expect(page[100]).toBe(0x05)
    expect(schemaOnPage(page)).toBe(false)
  })

  it('not for a cell pointer or a size out of the page', () => {
    const page = Buffer.alloc(1024)
    page[100] = 0x0d
    page.writeUInt16BE(1, 103)
    page.writeUInt16BE(2000, 108)
    expect(schemaOnPage(page)).toBe(false)
    page.writeUInt16BE(1000, 108)
    page.fill(0xff, 1000, 1024)
    expect(schemaOnPage(page)).toBe(false)
    page[1000] = 0x20
    expect(schemaOnPage(page)).toBe(true)
  })
})
