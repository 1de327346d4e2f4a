import { describe, expect, it } from 'vitest'
import { guardSqlite } from '../../../src/block/sqlite.js'
import { AbortError } from '../../../src/util/index.js'

describe('guardSqlite', () => {
  it('passes an interruption through: stopping is not a verdict on the block', () => {
    expect(() => guardSqlite('b.db', () => { throw new AbortError() })).toThrow(expect.objectContaining({ code: 'ABORTED' }))
  })

  it('turns SQLite failures (and anything else a hostile file provokes) into coded block errors', () => {
    const sqlite = Object.assign(new Error('database disk image is malformed'), { code: 'SQLITE_CORRUPT' })
    expect(() => guardSqlite('b.db', () => { throw sqlite })).toThrow(expect.objectContaining({ code: 'CORRUPT' }))
    const notadb = Object.assign(new Error('file is not a database'), { code: 'SQLITE_NOTADB' })
    expect(() => guardSqlite('b.db', () => { throw notadb })).toThrow(expect.objectContaining({ code: 'NOT_SQLITE' }))
    expect(() => guardSqlite('b.db', () => { throw new TypeError('x') })).toThrow(expect.objectContaining({ code: 'CORRUPT' }))
  })
})
