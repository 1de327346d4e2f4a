import { describe, expect, it } from 'vitest'
import Database from 'better-sqlite3'
import { join } from 'node:path'
import { IndexDb } from '../../../src/storage/index.js'
import { isPetalError } from '../../../src/util/index.js'
import { tmpDir } from '../../helpers/tmp.js'

function codeOf (fn: () => unknown): string {
  try { fn(); return 'OK' } catch (err) { if (isPetalError(err)) return err.code; throw err }
}

describe('chain.db', () => {
  it('a locked index is INDEX_BUSY, never INDEX_CORRUPT (which `petal reindex` would replace)', () => {
    const path = join(tmpDir(), 'chain.db')
    const holder = new Database(path)
    holder.exec('BEGIN EXCLUSIVE')
    try {
      expect(codeOf(() => IndexDb.open(path))).toBe('INDEX_BUSY')
    } finally {
      holder.close()
    }
    IndexDb.open(path).close()
  })

  it('opening an existing index, for reading or writing, takes no lock a writer holds', async () => {
    const path = join(tmpDir(), 'chain.db')
    const writer = IndexDb.open(path)
    let during: string[] = []
    await writer.withWriteLock(async () => {
      writer.setMeta('x', '1')
      during = [codeOf(() => IndexDb.open(path, { readonly: true }).close()), codeOf(() => IndexDb.open(path).close())]
    })
    expect(during).toEqual(['OK', 'OK'])
    writer.close()
  })

  // Each index of chain.db is written for every block placed; one keyed by a hash is a write at a
  // random page per block (docs/performance.md, "Session 25: catch-up").
  const indexesOf = (path: string): string[] => {
    const db = new Database(path, { readonly: true })
    try {
      return db.prepare<[], string>("SELECT name FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL ORDER BY name").pluck().all()
    } finally {
      db.close()
    }
  }

  it('a new index has only the indexes its statements read (none on parent or on a table\'s name)', () => {
    const path = join(tmpDir(), 'chain.db')
    IndexDb.open(path).close()
    expect(indexesOf(path)).toEqual(['blocks_canonical_height', 'blocks_side', 'checkpoints_size'])
  })

  it('clearing an index written before (reindex) drops the indexes nothing reads', async () => {
    const path = join(tmpDir(), 'chain.db')
    IndexDb.open(path).close()
    const old = new Database(path)
    old.exec('CREATE INDEX blocks_parent ON blocks(parent); CREATE INDEX block_tables_name ON block_tables(name);')
    old.close()
    const index = IndexDb.open(path)
    await index.withWriteLock(async () => { index.clear() })
    index.close()
    expect(indexesOf(path)).toEqual(['blocks_canonical_height', 'blocks_side', 'checkpoints_size'])
  })
})
