import { describe, expect, it } from 'vitest'
import { SCHEMA } from '../../../src/ingest/pending-schema.js'
import { unpackRows } from '../../../src/ingest/record-pack.js'
import { RowInserter } from '../../../src/ingest/row-inserter.js'
import { openSqlite } from '../../../src/storage/index.js'

describe('RowInserter', () => {
  it('stores an append as one record numbered by its last row, so row numbers stay consecutive across lone rows and records', () => {
    const db = openSqlite(':memory:')
    db.exec(SCHEMA)
    const ins = new RowInserter(db)
    const data = Array.from({ length: 342 }, (_, i) => Buffer.from(`row ${i} ${'x'.repeat(i % 7)}${i === 5 ? 'y'.repeat(300) : ''}`))
    db.exec('BEGIN')
    expect(ins.insert('Readings', data, 1234)).toBe(1)
    // A lone row (the usual HTTP append) after a record takes the next number, as SQLite's max + 1.
    expect(ins.insert('lone', [Buffer.from([0, 1, 2, 0xff])], 7)).toBe(343)
    expect(ins.insert('other', data.slice(0, 3), 99)).toBe(344)
    db.exec('COMMIT')
    const rows = db.prepare('SELECT id, tbl, data, bytes, at, n FROM rows ORDER BY id').all() as Array<{ id: number, tbl: string, data: Buffer, bytes: number, at: number, n: number }>
    expect(rows.map(r => [r.id, r.tbl, r.n, r.at])).toEqual([[342, 'Readings', 342, 1234], [343, 'lone', 1, 7], [346, 'other', 3, 99]])
    expect(unpackRows(rows[0]?.data as Buffer, 342)).toEqual(data)
    expect(rows[0]?.bytes).toBe(data.reduce((n, d) => n + d.length, 0))
    // A record of one row holds the row as it is, as layouts 1 and 2 did.
    expect(rows[1]).toMatchObject({ data: Buffer.from([0, 1, 2, 0xff]), bytes: 4 })
    expect(unpackRows(rows[2]?.data as Buffer, 3)).toEqual(data.slice(0, 3))
    db.close()
  })
})
