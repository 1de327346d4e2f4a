// IndexDb.latestTable by the index on block_tables' names (block_tables_latest, session 49), and
// an index of version 3 made before it: read as it is, given the index at a writer's first write.
import { describe, expect, it } from 'vitest'
import Database from 'better-sqlite3'
import { join } from 'node:path'
import { IndexDb, type BlockRecord, type TableRecord } from '../../../src/storage/index.js'
import { tmpDir } from '../../helpers/tmp.js'

const hex = (n: number): string => n.toString(16).padStart(64, '0')
const record = (id: number, height: number, parent: number, canonical: boolean): BlockRecord => ({
  hash: hex(id), height, parent: hex(parent), canonical, version: 2, signer: '1:' + 'ab'.repeat(32),
  timestamp: '2026-12-07T03:00:00Z', rowsRoot: 'cd'.repeat(32), prevSig: '30', seal: '30', size: 4096, keyOpCount: 0, receivedAt: 0
})
const table = (name: string, sql: string): TableRecord => ({ name, sql, rows: 1, root: 'ef'.repeat(32) })

/**
 * Canonical 0..8, `t` declared at 2 (v1) and 6 (v2, spelt `T`), `old` at 1 alone; side blocks
 * placed last at heights 7 and 9 (above the tip) declaring `t` v3 and `side` alone; then a reorg
 * that makes side block 7 canonical in place of the canonical one (its table `t` v4 the highest).
 */
async function fill (path: string, reorg: boolean): Promise<void> {
  const index = IndexDb.open(path)
  await index.withWriteLock(async () => {
    for (let h = 0; h <= 8; h++) {
      const t = h === 2 ? [table('t', 'CREATE TABLE t (v1)')] : h === 6 ? [table('T', 'CREATE TABLE T (v2)')] : h === 1 ? [table('old', 'CREATE TABLE old (a)')] : []
      index.insertBlock(record(h, h, h - 1, true), t, [])
    }
    index.insertBlock(record(100, 9, 8, false), [table('t', 'CREATE TABLE t (v3)'), table('side', 'CREATE TABLE side (s)')], [])
    index.insertBlock(record(101, 7, 6, false), [table('t', 'CREATE TABLE t (v4)')], [])
    if (reorg) {
      index.setCanonical(hex(7), false)
      index.setCanonical(hex(8), false)
      index.setCanonical(hex(101), true)
    }
  })
  index.close()
}

const ask = (index: IndexDb): unknown => ['t', 'TT'.slice(1), 'OLD', 'side', 'absent'].map(n => index.latestTable(n) ?? null)

function dropLatestIndex (path: string): void {
  const db = new Database(path)
  db.exec('DROP INDEX block_tables_latest')
  db.close()
}

const hasLatestIndex = (path: string): boolean => {
  const db = new Database(path, { readonly: true })
  try { return db.prepare("SELECT count(*) FROM sqlite_schema WHERE name = 'block_tables_latest'").pluck().get() === 1 } finally { db.close() }
}

describe('IndexDb.latestTable', () => {
  for (const reorg of [false, true]) {
    it(`answers the highest canonical block's definition, side blocks placed later skipped${reorg ? ', after a reorg' : ''}, with the index and without it alike`, async () => {
      const path = join(tmpDir(), 'chain.db')
      await fill(path, reorg)
      const expected = [
        reorg ? { name: 't', sql: 'CREATE TABLE t (v4)', height: 7 } : { name: 'T', sql: 'CREATE TABLE T (v2)', height: 6 },
        reorg ? { name: 't', sql: 'CREATE TABLE t (v4)', height: 7 } : { name: 'T', sql: 'CREATE TABLE T (v2)', height: 6 },
        { name: 'old', sql: 'CREATE TABLE old (a)', height: 1 },
        null, // a side block's table alone
        null
      ]
      const reader = IndexDb.open(path, { readonly: true })
      // The index is what answers (a plan by it, not a scan of block_tables).
      expect(hasLatestIndex(path)).toBe(true)
      expect(ask(reader)).toEqual(expected)
      reader.close()
      dropLatestIndex(path)
      const without = IndexDb.open(path, { readonly: true })
      expect(ask(without)).toEqual(expected)
      without.close()
    })
  }

  it('an index of version 3 made before block_tables_latest: read as it is, then given it at a writer\'s first write (and at a rebuild\'s clear)', async () => {
    const path = join(tmpDir(), 'chain.db')
    await fill(path, false)
    dropLatestIndex(path)
    const reader = IndexDb.open(path, { readonly: true })
    const before = ask(reader)
    const writer = IndexDb.open(path)
    expect(hasLatestIndex(path)).toBe(false) // opening writes nothing
    await writer.withWriteLock(async () => { writer.setMeta('x', '1') })
    expect(hasLatestIndex(path)).toBe(true)
    // The reader that opened before follows: the same answers, now by the index.
    expect(ask(reader)).toEqual(before)
    reader.close()
    dropLatestIndex(path)
    await writer.withWriteLock(async () => { writer.setMeta('x', '2') })
    expect(hasLatestIndex(path)).toBe(false) // once a connection: the next one adds it again
    await writer.withWriteLock(async () => { writer.clear() }, { rebuilds: true })
    expect(hasLatestIndex(path)).toBe(true)
    writer.close()
  })
})
