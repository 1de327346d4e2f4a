// chain.db of schema version 1 (block_tables keyed by hash) under a Petal of version 2 (keyed by
// blocks.id): a writer moves it in one transaction, a kill -9 inside leaves the old layout or the
// new one whole, and a reader reads it as it is without writing (docs/data-directory.md, "chain.db").
import { describe, expect, it } from 'vitest'
import Database from 'better-sqlite3'
import { createHash } from 'node:crypto'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { IndexDb, showIndexMoves, type BlockRecord, type TableRecord } from '../../../src/storage/index.js'
import { addHashKeyFunction, moveTables } from '../../../src/storage/index-migrate.js'
import { StorageError } from '../../../src/storage/errors.js'
import type { WorkProgress } from '../../../src/util/index.js'
import { blocksDump, rewriteAsVersion1, rewriteAsVersion2 } from '../../helpers/index-v1.js'
import { loaderFor, srcEntry } from '../../helpers/src-entry.js'
import { tmpDir } from '../../helpers/tmp.js'

const hex = (n: number, pad = 64): string => n.toString(16).padStart(pad, '0')
const record = (i: number, canonical: boolean, height = i): BlockRecord => ({
  // Hashes that do not follow the heights, so that an order by hash is not an order by height.
  hash: hex((i * 7919) % 1000 + 1000 * (canonical ? 0 : 1)), height, parent: hex(i - 1), canonical, version: 2, signer: '1:' + 'ab'.repeat(32),
  timestamp: `2026-12-04T05:00:${String(i % 60).padStart(2, '0')}Z`, rowsRoot: 'cd'.repeat(32), prevSig: '30', seal: '30', size: 4096 + i, keyOpCount: 0, receivedAt: 0
})
const tables = (i: number): TableRecord[] => [
  ...(i % 2 === 0 ? [{ name: 'T', sql: 'CREATE TABLE T (a)', rows: i, root: hex(i) }] : [{ name: 't', sql: 'CREATE TABLE t (a, b)', rows: i, root: hex(i) }]),
  ...(i % 3 === 0 ? [{ name: 'u', sql: 'CREATE TABLE u (x)', rows: 1, root: hex(i + 1) }] : [])
]

/** An index of the current version: 40 canonical blocks and 5 side blocks (one deleted), each with its tables. */
async function fill (path: string): Promise<void> {
  const index = IndexDb.open(path)
  await index.withWriteLock(async () => {
    for (let i = 0; i < 40; i++) {
      index.insertBlock(record(i, true), tables(i), [])
      if (i % 8 === 5) index.insertBlock(record(i, false), tables(i + 1), [])
    }
    index.deleteBlock(record(13, false).hash)
  })
  index.close()
}

/** Every answer of IndexDb that reads block_tables, and the blocks. */
function answers (index: IndexDb): unknown {
  const all = [...index.range(0, 100), ...index.sideBlocks()]
  return {
    blocks: all.map(b => index.byHash(b.hash)),
    storedFiles: all.map(b => index.storedFile(b.hash)),
    tablesOf: all.map(b => index.tablesOf(b.hash)),
    missing: index.tablesOf(hex(99999)),
    activity: index.canonicalActivity(0, 100),
    variants: index.tableVariants(),
    withT: index.blocksWithTables(['t'], 3, 30),
    withTU: index.blocksWithTables(['t', 'u'], 0, 100),
    none: index.blocksWithTables([], 10, 12),
    latest: ['t', 'T', 'u', 'absent'].map(n => index.latestTable(n))
  }
}

function answersOf (path: string, readonly: boolean): unknown {
  const index = IndexDb.open(path, { readonly })
  try { return answers(index) } finally { index.close() }
}

/** A writer's open and first write (an empty one), synchronously: the move of an index of version 1. */
function moveNow (path: string): void {
  const writer = IndexDb.open(path)
  try { expect(writer.tryWriteLockSync(() => {})).toBe(true) } finally { writer.close() }
}

const sha = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex')

describe('chain.db of schema version 1', () => {
  for (const withoutRowid of [false, true]) {
    const layout = withoutRowid ? 'WITHOUT ROWID (before session 25)' : 'rowid tables (sessions 25-44)'
    it(`${layout}: a reader answers from it unchanged, a writer moves it to version 2, and every answer is the same`, async () => {
      const path = join(tmpDir(), 'chain.db')
      await fill(path)
      const expected = answersOf(path, true)
      const before = blocksDump(path)
      rewriteAsVersion1(path, withoutRowid)
      expect(blocksDump(path)).toEqual({ ...before, version: '1' })

      const bytes = sha(path)
      expect(answersOf(path, true)).toEqual(expected)
      expect(sha(path)).toBe(bytes) // the reader wrote nothing
      expect(blocksDump(path).version).toBe('1')

      // A writer reads it as it is until its first write, which moves it (inside its transaction).
      const writer = IndexDb.open(path)
      expect(writer.getMeta('schema_version')).toBe('1')
      expect(answers(writer)).toEqual(expected)
      expect(sha(path)).toBe(bytes)
      // Written on as a new one: a block placed, a side block removed.
      await writer.withWriteLock(async () => {
        expect(writer.getMeta('schema_version')).toBe('3')
        expect(answers(writer)).toEqual(expected)
        writer.insertBlock(record(40, true), tables(40), [])
        writer.deleteBlock(record(5, false).hash)
      })
      expect(writer.tablesOf(record(40, true).hash)).toEqual(tables(40).sort((a, b) => a.name < b.name ? -1 : 1))
      expect(writer.tablesOf(record(5, false).hash)).toEqual([])
      writer.close()
      expect(blocksDump(path).version).toBe('3')

      const db = new Database(path, { readonly: true })
      // The new layout whole: blocks.id, block_tables keyed by it, no index left of version 1.
      expect(db.prepare("SELECT name FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL ORDER BY name").pluck().all()).toEqual(['block_tables_latest', 'blocks_canonical_height', 'blocks_hkey', 'blocks_side', 'checkpoints_size'])
      expect(db.prepare("SELECT name FROM pragma_table_info('block_tables') ORDER BY cid").pluck().all()).toEqual(['block', 'name', 'sql', 'rows', 'root'])
      // Rows in placement order: ids by height for the blocks of the canonical chain.
      const heights = db.prepare('SELECT height FROM blocks WHERE canonical = 1 ORDER BY id').pluck().all() as number[]
      expect(heights).toEqual([...heights].sort((a, b) => a - b))
      db.close()
    })
  }

  for (const withoutRowid of [false, true]) {
    it(`${withoutRowid ? 'WITHOUT ROWID' : 'rowid tables'}: moved a few blocks a statement (side blocks at the bounds), every answer is the same, and its progress goes to the whole index's bytes`, async () => {
      const path = join(tmpDir(), 'chain.db')
      await fill(path)
      const expected = answersOf(path, true)
      rewriteAsVersion1(path, withoutRowid)
      const seen: Array<WorkProgress | 'end'> = []
      showIndexMoves(() => ({ update: p => seen.push(p), end: () => seen.push('end') }))
      try {
        const db = new Database(path)
        const bytes = Number(db.pragma('page_count', { simple: true })) * 4096
        // The move a writer's first write makes (OlderVersionView.settle), 7 blocks a statement:
        // bounds at heights 7, 14, 21 (a side block), 28, 35.
        addHashKeyFunction(db)
        db.transaction(() => { moveTables(db, 7) }).immediate()
        db.close()
        expect(answersOf(path, true)).toEqual(expected)
        expect(seen.at(-1)).toBe('end')
        const updates = seen.filter((p): p is WorkProgress => p !== 'end')
        expect(new Set(updates.map(p => p.phase))).toEqual(new Set(['moving blocks', 'moving tables', 'indexing']))
        expect(updates.length).toBeGreaterThan(8)
        expect(updates.every(p => p.total >= bytes)).toBe(true)
        expect(updates.map(p => p.done)).toEqual(updates.map(p => p.done).sort((a, b) => a - b))
        expect(updates.at(-1)?.done).toBe(updates.at(-1)?.total)
        seen.length = 0
        moveNow(path) // version 2 already: nothing to show
        expect(seen).toEqual([])
      } finally {
        showIndexMoves(undefined)
      }
    })
  }

  for (const version of ['1', '2'] as const) {
    it(`of version ${version}, short of room beside it: DISK_FULL before anything is written, saying how much to free; with that much, moved`, async () => {
      const path = join(tmpDir(), 'chain.db')
      await fill(path)
      const expected = answersOf(path, true)
      if (version === '1') rewriteAsVersion1(path); else rewriteAsVersion2(path)
      const before = blocksDump(path)
      const db = new Database(path)
      addHashKeyFunction(db)
      let err: unknown
      try { db.transaction(() => { moveTables(db, 7, () => 1000) }).immediate() } catch (e) { err = e }
      expect(err).toBeInstanceOf(StorageError)
      const e = err as StorageError
      expect(e.code).toBe('DISK_FULL')
      const { need, free } = e.details as { need: number, free: number }
      expect(free).toBe(1000)
      expect(e.message).toBe(`moving chain.db to schema version 3 needs about ${Math.ceil(need / 1e6).toLocaleString('en-US')} MB free beside it, and ${join(path, '..')}'s file system has 1 MB`)
      expect(e.hint).toBe(`free at least ${Math.ceil((need - free) / 1e6).toLocaleString('en-US')} MB on the file system of ${join(path, '..')}, then run the command again; nothing was changed (chain.db is still of version ${version})`)
      expect(blocksDump(path)).toEqual(before)
      // The hint followed: that much more free, and the move goes through.
      db.transaction(() => { moveTables(db, 7, () => free + (need - free)) }).immediate()
      db.close()
      expect(blocksDump(path).version).toBe('3')
      expect(answersOf(path, true)).toEqual(expected)
    })
  }

  it('is not moved by a reader\'s quiet repair (a writable open that must not wait), whose read-only connection reads it', async () => {
    const path = join(tmpDir(), 'chain.db')
    await fill(path)
    rewriteAsVersion1(path)
    const reader = IndexDb.open(path, { readonly: true })
    expect(() => IndexDb.open(path, { wait: false })).toThrow(/schema version 1/)
    expect(reader.tableVariants().map(v => v.name)).toEqual(['T', 'u', 't'])
    reader.close()
    expect(blocksDump(path).version).toBe('1')
  })

  it('a reader left open across another connection\'s move reads the new tables from its next statement (a snapshot taken before, the old ones)', async () => {
    const path = join(tmpDir(), 'chain.db')
    await fill(path)
    const expected = answersOf(path, true)
    rewriteAsVersion1(path)
    const reader = IndexDb.open(path, { readonly: true })
    try {
      expect(answers(reader)).toEqual(expected)
      // Moved while the reader's snapshot is of version 1: it reads that snapshot through its views.
      reader.readTransaction(() => {
        expect(reader.tablesOf(record(2, true).hash)).toEqual(tables(2))
        moveNow(path)
        expect(blocksDump(path).version).toBe('3')
        expect(answers(reader)).toEqual(expected)
      })
      // Then the moved index (before: 'no such column: hash' at every read of a block's tables).
      expect(answers(reader)).toEqual(expected)
      expect(reader.readTransaction(() => answers(reader))).toEqual(expected)
    } finally {
      reader.close()
    }
  })

  for (const point of ['index-migrate:copied', 'index-migrate:done']) {
    it(`a writer killed (-9) inside the move (${point}) leaves version 1 whole, and the next writer moves it with every row`, async () => {
      const path = join(tmpDir(), 'chain.db')
      await fill(path)
      const expected = answersOf(path, true)
      const before = blocksDump(path)
      rewriteAsVersion1(path)
      const src = pathToFileURL(srcEntry('storage', 'index.ts')).href
      const child = `const { IndexDb } = await import(${JSON.stringify(src)}); await IndexDb.open(${JSON.stringify(path)}).withWriteLock(async () => {})`
      const r = spawnSync(process.execPath, [...loaderFor(src), '--input-type=module', '-e', child], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, PETAL_FAILPOINT: point } })
      expect(r.signal, r.stderr).toBe('SIGKILL')
      // The kill left chain.db-wal (and the hot pages) behind: a reader sees the old layout whole.
      expect(answersOf(path, true)).toEqual(expected)
      expect(blocksDump(path)).toEqual({ ...before, version: '1' })
      moveNow(path)
      expect(answersOf(path, false)).toEqual(expected)
      expect(blocksDump(path)).toEqual({ ...before, version: '3' })
    })
  }
})
