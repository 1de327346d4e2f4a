// A writer of an older Petal left running while this one moves chain.db to schema version 3 (a node
// of sessions 45-46 across an upgrade, docs/data-directory.md, "chain.db"): its next placement is
// refused whole, and SQLite tells it why and what to do (the move's trigger), where until session 48
// it said "NOT NULL constraint failed: blocks.hkey" (version 2) and nothing more. Its code is its
// own: the statements below are those of sessions 45-46 (version 2) and 25-44 (version 1), in short.
import { describe, expect, it } from 'vitest'
import Database from 'better-sqlite3'
import { join } from 'node:path'
import { IndexDb, type BlockRecord } from '../../../src/storage/index.js'
import { reindexChain } from '../../../src/chain/index.js'
import { errorCode } from '../../../src/util/index.js'
import { extendChain, newTestChain } from '../../helpers/chain.js'
import { blocksDump, rewriteAsVersion1, rewriteAsVersion2 } from '../../helpers/index-v1.js'
import { tmpDir } from '../../helpers/tmp.js'

const hex = (n: number): string => n.toString(16).padStart(64, '0')
const record = (i: number): BlockRecord => ({
  hash: hex(i + 1), height: i, parent: hex(i), canonical: true, version: 2, signer: '1:' + 'ab'.repeat(32),
  timestamp: '2026-12-07T00:00:00Z', rowsRoot: 'cd'.repeat(32), prevSig: '30', seal: '30', size: 4096, keyOpCount: 0, receivedAt: 0
})
const COLUMNS = 'hash, height, parent, canonical, version, signer, timestamp, rows_root, prev_sig, seal, size, key_ops, received_at'

/** The older Petal's placement of block `i` (insertBlock of sessions 25-46, in one transaction), on its own connection. */
function olderPlacement (db: Database.Database, version: '1' | '2'): (i: number) => void {
  const block = db.prepare(`INSERT INTO blocks (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
  const table = version === '2'
    ? db.prepare('INSERT INTO block_tables (block, name, sql, rows, root) VALUES (?, ?, ?, ?, ?)')
    : db.prepare('INSERT INTO block_tables (hash, name, sql, rows, root) VALUES (?, ?, ?, ?, ?)')
  return db.transaction((i: number) => {
    const b = record(i)
    const { lastInsertRowid } = block.run(b.hash, b.height, b.parent, 1, 2, b.signer, b.timestamp, b.rowsRoot, b.prevSig, b.seal, b.size, 0, 0)
    table.run(version === '2' ? lastInsertRowid : b.hash, 't', 'CREATE TABLE t (a)', 1, hex(i))
  })
}

const MOVED = /^chain\.db was moved to schema version 3 by a newer Petal while this process had it open, and this process cannot write that version: stop it, then run its command again with the newer Petal/

describe('an older Petal\'s writer across the move to schema version 3', () => {
  for (const version of ['2', '1'] as const) {
    it(`of version ${version}: its next placement is refused whole, saying the index was moved and to run its command again with the newer Petal (before: "NOT NULL constraint failed: blocks.hkey")`, async () => {
      const path = join(tmpDir(), 'chain.db')
      const index = IndexDb.open(path)
      await index.withWriteLock(async () => { for (let i = 0; i < 10; i++) index.insertBlock(record(i), [], []) })
      index.close()
      if (version === '2') rewriteAsVersion2(path); else rewriteAsVersion1(path)
      // The older writer, open before the move, places a block of its own meanwhile.
      const older = new Database(path)
      const place = olderPlacement(older, version)
      place(10)
      const writer = IndexDb.open(path)
      try {
        await writer.withWriteLock(async () => {})
        const before = blocksDump(path)
        expect(before.version).toBe('3')
        let err: unknown
        try { place(11) } catch (e) { err = e }
        expect(String((err as Error | undefined)?.message)).toMatch(MOVED)
        expect(errorCode(err)).toBe('SQLITE_CONSTRAINT_TRIGGER')
        expect(blocksDump(path)).toEqual(before)
        // This Petal's writes go on (the trigger fires only for an insert without hkey).
        await writer.withWriteLock(async () => { writer.insertBlock(record(11), [], []) })
        expect(writer.byHeight(11)?.hash).toBe(hex(12))
        expect(writer.byHeight(10)?.hash).toBe(hex(11))
      } finally {
        writer.close()
        older.close()
      }
    })
  }

  it('after petal reindex of an index of version 2 (its tables remade): refused the same way', async () => {
    const { chain, key, dir } = await newTestChain()
    await extendChain(chain, key, 3)
    chain.close()
    const path = join(dir, 'chain.db')
    rewriteAsVersion2(path)
    const older = new Database(path)
    const place = olderPlacement(older, '2')
    try {
      await reindexChain(dir)
      expect(blocksDump(path).version).toBe('3')
      expect(() => { place(20) }).toThrow(MOVED)
    } finally {
      older.close()
    }
  })

  /** An index of 4 blocks moved by session 47 (version 3 without blocks_hkey_required nor block_tables_latest), and an older writer open on it. */
  async function movedBy47 (): Promise<{ path: string, older: Database.Database, place: (i: number) => void }> {
    const path = join(tmpDir(), 'chain.db')
    const index = IndexDb.open(path)
    await index.withWriteLock(async () => { for (let i = 0; i < 4; i++) index.insertBlock(record(i), [], []) })
    index.close()
    rewriteAsVersion2(path)
    const older = new Database(path)
    const place = olderPlacement(older, '2')
    const moved47 = IndexDb.open(path)
    await moved47.withWriteLock(async () => {})
    moved47.close()
    const raw = new Database(path)
    raw.exec('DROP TRIGGER blocks_hkey_required; DROP INDEX IF EXISTS block_tables_latest')
    raw.close()
    return { path, older, place }
  }

  // This Petal's first write: a placement, or the repair of a crashed write that a writer's open
  // runs (Chain.open, recoverNow: under the lock, it may be the only write before the older writer places).
  const firstWrites: Array<[string, (w: IndexDb) => Promise<unknown>]> = [
    ['has written', async w => { await w.withWriteLock(async () => { w.insertBlock(record(4), [], []) }) }],
    ['has repaired it at an open (recoverNow\'s write, since session 50)', async w => { expect(w.tryWriteLockSync(() => {})).toBe(true) }]
  ]
  for (const [how, write] of firstWrites) {
    it(`of an index moved by session 47 (no trigger): refused the same way once this Petal ${how} (before: "NOT NULL constraint failed: blocks.hkey")`, async () => {
      const { path, older, place } = await movedBy47()
      const writer = IndexDb.open(path)
      try {
        await write(writer)
        const before = blocksDump(path)
        let err: unknown
        try { place(5) } catch (e) { err = e }
        expect(String((err as Error | undefined)?.message)).toMatch(MOVED)
        expect(blocksDump(path)).toEqual(before)
      } finally {
        writer.close()
        older.close()
      }
    })
  }
})
