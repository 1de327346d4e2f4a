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
})
