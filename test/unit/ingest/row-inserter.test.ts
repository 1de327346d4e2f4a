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
    db.exec('COMMIT')
    const rows = db.prepare('SELECT id, tbl, data, bytes, at FROM rows ORDER BY id').all() as Array<{ id: number, tbl: string, data: Buffer, bytes: number, at: number }>
    expect(rows).toHaveLength(345)
    rows.forEach((r, i) => {
      const d = i < 342 ? data[i] : data[i - 342]
      expect(r).toEqual({ id: i + 1, tbl: i < 342 ? 'Readings' : 'other', data: d, bytes: d?.length, at: i < 342 ? 1234 : 99 })
    })
    db.close()
  })
})
