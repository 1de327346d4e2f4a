// A WITHOUT ROWID table's rows, paged by position, must come in the block's canonical order (its
// primary key: the order of its Merkle leaves, which a proof by position names). Without ORDER BY,
// SQLite scanned a secondary index that covers the columns, in that index's order.
import { describe, expect, it } from 'vitest'
import Database from 'better-sqlite3'
import { join } from 'node:path'
import { signImport } from '../../../src/chain/index.js'
import { readBlockRows } from '../../../src/query/index.js'
import { newTestChain } from '../../helpers/chain.js'
import { tmpDir } from '../../helpers/tmp.js'

describe('rows of a block table by position', () => {
  it('come in primary-key order when a secondary index covers the columns', async () => {
    const { chain, key } = await newTestChain()
    try {
      const src = join(tmpDir(), 'in.db')
      const db = new Database(src)
      db.exec("CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT) WITHOUT ROWID; CREATE INDEX tb ON t (b); INSERT INTO t VALUES (1, 'z'), (2, 'y'), (3, 'x')")
      db.close()
      await signImport(chain, src, key)
      const page = readBlockRows(chain.dir.root, chain.tip(), { table: 't', limit: 2, maxBytes: 1 << 20 })
      expect(page?.paging).toBe('position')
      expect(page?.rows).toEqual([[1n, 'z'], [2n, 'y']])
      const next = readBlockRows(chain.dir.root, chain.tip(), { table: 't', offset: page?.nextOffset, limit: 2, maxBytes: 1 << 20 })
      expect(next?.rows).toEqual([[3n, 'x']])
    } finally {
      chain.close()
    }
  })
})
