import { describe, expect, it } from 'vitest'
import { SCHEMA } from '../../../src/ingest/pending-schema.js'
import { RowInserter } from '../../../src/ingest/row-inserter.js'
import { openSqlite } from '../../../src/storage/index.js'

describe('RowInserter', () => {
  it('stores every row in order under consecutive ids, across statements of every size', () => {
    const db = openSqlite(':memory:')
    db.exec(SCHEMA)
    const ins = new RowInserter(db)
    // 256 + 64 + 16 + 4 + 1 + 1 rows, then 3 more after them: every statement size in one call.
    const data = Array.from({ length: 342 }, (_, i) => Buffer.from(`row ${i} ${'x'.repeat(i % 7)}`))
    db.exec('BEGIN')
    expect(ins.insert('Readings', data, 1234)).toBe(1)
    expect(ins.insert('other', data.slice(0, 3), 99)).toBe(343)
    // One row alone (the usual HTTP append) takes a statement of its own.
    expect(ins.insert('lone', [Buffer.from([0, 1, 2, 0xff])], 7)).toBe(346)
    db.exec('COMMIT')
    const rows = db.prepare('SELECT id, tbl, data, bytes, at FROM rows ORDER BY id').all() as Array<{ id: number, tbl: string, data: Buffer, bytes: number, at: number }>
    expect(rows).toHaveLength(346)
    rows.slice(0, 345).forEach((r, i) => {
      const d = i < 342 ? data[i] : data[i - 342]
      expect(r).toEqual({ id: i + 1, tbl: i < 342 ? 'Readings' : 'other', data: d, bytes: d?.length, at: i < 342 ? 1234 : 99 })
    })
    expect(rows[345]).toEqual({ id: 346, tbl: 'lone', data: Buffer.from([0, 1, 2, 0xff]), bytes: 4, at: 7 })
    // The size is what length() gives for the stored BLOB, as in the multi-row statements.
    expect(db.prepare('SELECT count(*) AS n FROM rows WHERE bytes <> length(data) OR typeof(data) <> \'blob\'').get()).toEqual({ n: 0 })
    db.close()
  })
})
