// chain.db of schema version 3: blocks found by `hkey`, the hash's first 13 hex digits as an
// integer, with the whole hash compared; hashes that share those digits stay apart; an index of
// version 2 (a unique index on the hash's text) is read as it is and moved at a writer's first
// write (docs/data-directory.md, "chain.db").
import { describe, expect, it } from 'vitest'
import Database from 'better-sqlite3'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { IndexDb, type BlockRecord, type TableRecord } from '../../../src/storage/index.js'
import { hashKey, hashKeyRange } from '../../../src/storage/index-records.js'
import { blocksDump, rewriteAsVersion1, rewriteAsVersion2 } from '../../helpers/index-v1.js'
import { loaderFor, srcEntry } from '../../helpers/src-entry.js'
import { tmpDir } from '../../helpers/tmp.js'

// Hashes sharing their first 13 digits (one hkey), one differing only in its 14th, one only in its last, and neighbours of the shared key.
const SHARED = 'abcdef0123456'
const hashes = [
  SHARED + '0'.repeat(51), SHARED + '1' + '0'.repeat(50), SHARED + '0'.repeat(50) + '1', SHARED + 'f'.repeat(51),
  'abcdef0123455' + 'f'.repeat(51), 'abcdef0123457' + '0'.repeat(51), '0'.repeat(64), 'f'.repeat(64)
]
const record = (hash: string, i: number): BlockRecord => ({
  hash, height: i, parent: i === 0 ? '1'.padStart(64, '0') : (hashes[i - 1] as string), canonical: true, version: 2, signer: '1:' + 'ab'.repeat(32),
  timestamp: '2026-12-06T21:00:00Z', rowsRoot: 'cd'.repeat(32), prevSig: '30', seal: '30', size: 4096 + i, keyOpCount: 0, receivedAt: 0
})
const tables = (i: number): TableRecord[] => [{ name: `t${i}`, sql: `CREATE TABLE t${i} (a)`, rows: i, root: hashes[i] as string }]

async function filled (): Promise<string> {
  const path = join(tmpDir(), 'chain.db')
  const index = IndexDb.open(path)
  await index.withWriteLock(async () => { hashes.forEach((h, i) => { index.insertBlock(record(h, i), tables(i), []) }) })
  index.close()
  return path
}

/** Every lookup by hash or prefix, for each hash. */
function lookups (index: IndexDb): unknown {
  return {
    byHash: hashes.map(h => index.byHash(h)?.height),
    tablesOf: hashes.map(h => index.tablesOf(h).map(t => t.name)),
    shared: index.byHashPrefix(SHARED, 10).map(b => b.height),
    shared14: index.byHashPrefix(SHARED + '0', 10).map(b => b.height),
    long: index.byHashPrefix(SHARED + '0'.repeat(50), 10).map(b => b.height),
    short: index.byHashPrefix('abcdef01', 10).map(b => b.height),
    limited: index.byHashPrefix('abcdef01', 2).map(b => b.height),
    none: [index.byHash(SHARED + '2' + '0'.repeat(50)), index.byHash('not a hash'), index.byHashPrefix('abcdef0123458', 10)]
  }
}

const EXPECTED = {
  byHash: [0, 1, 2, 3, 4, 5, 6, 7],
  tablesOf: hashes.map((_, i) => [`t${i}`]),
  shared: [0, 2, 1, 3],
  shared14: [0, 2],
  long: [0, 2],
  short: [4, 0, 2, 1, 3, 5],
  limited: [4, 0],
  none: [undefined, undefined, []]
}

describe('chain.db schema 3: blocks by hkey', () => {
  it('hkey is the hash\'s first 13 digits in order, and a prefix\'s range holds every hash that starts with it', () => {
    expect(hashKey(SHARED + '0'.repeat(51))).toBe(0xabcdef0123456)
    expect(hashKey('f'.repeat(64))).toBe(2 ** 52 - 1)
    expect(Number.isSafeInteger(hashKey('f'.repeat(64)))).toBe(true)
    expect(hashKey('xyz')).toBe(-1)
    expect(hashKeyRange('abcdef01')).toEqual([0xabcdef0100000, 0xabcdef01fffff])
    expect(hashKeyRange(SHARED + '77')).toEqual([0xabcdef0123456, 0xabcdef0123456])
    const sorted = [...hashes].sort()
    expect(sorted.map(hashKey)).toEqual([...sorted.map(hashKey)].sort((a, b) => a - b))
  })

  it('hashes that share the key are found, changed and removed each by its whole hash; a hash is stored once', async () => {
    const path = await filled()
    const index = IndexDb.open(path)
    try {
      expect(lookups(index)).toEqual(EXPECTED)
      const db = new Database(path, { readonly: true })
      expect(db.prepare('SELECT count(*) FROM blocks WHERE hkey = ?').pluck().get(0xabcdef0123456)).toBe(4)
      // Looked up by the hkey index (EXPLAIN QUERY PLAN), not by a scan.
      expect(db.prepare("EXPLAIN QUERY PLAN SELECT * FROM blocks WHERE hkey = 1 AND hash = 'a'").all().map(r => (r as { detail: string }).detail).join(' ')).toContain('USING INDEX blocks_hkey')
      db.close()
      await index.withWriteLock(async () => {
        expect(() => { index.insertBlock(record(hashes[2] as string, 9), [], []) }).toThrow(/UNIQUE constraint failed: blocks.hash/)
        index.setCanonical(hashes[1] as string, false)
        index.deleteBlock(hashes[2] as string)
      })
      expect(hashes.map(h => index.byHash(h)?.canonical)).toEqual([true, false, undefined, true, true, true, true, true])
      expect(index.tablesOf(hashes[2] as string)).toEqual([])
      expect(index.tablesOf(hashes[3] as string)).toEqual(tables(3))
      expect(index.byHashPrefix(SHARED, 10).map(b => b.height)).toEqual([0, 1, 3])
    } finally {
      index.close()
    }
  })

  it('an index of version 2 answers the same to a reader (views), writing nothing, and to a writer, which moves it at its first write; a reader left open follows the move', async () => {
    const path = await filled()
    rewriteAsVersion2(path)
    const before = blocksDump(path)
    expect(before.version).toBe('2')
    const reader = IndexDb.open(path, { readonly: true })
    const writer = IndexDb.open(path)
    try {
      expect(lookups(reader)).toEqual(EXPECTED)
      expect(lookups(writer)).toEqual(EXPECTED)
      expect(blocksDump(path)).toEqual(before)
      await writer.withWriteLock(async () => {})
      expect(blocksDump(path)).toEqual({ ...before, version: '3' })
      expect(lookups(writer)).toEqual(EXPECTED)
      expect(lookups(reader)).toEqual(EXPECTED)
      const db = new Database(path, { readonly: true })
      db.function('petal_hkey', (h: unknown) => hashKey(String(h)))
      expect(db.prepare('SELECT count(*) FROM blocks WHERE hkey = petal_hkey(hash)').pluck().get()).toBe(hashes.length)
      db.close()
    } finally {
      writer.close()
      reader.close()
    }
  })

  it('a writer killed (-9) inside the move from version 2 leaves version 2 whole, and the next writer moves it with every row', async () => {
    const path = await filled()
    rewriteAsVersion2(path)
    const before = blocksDump(path)
    const src = pathToFileURL(srcEntry('storage', 'index.ts')).href
    const child = `const { IndexDb } = await import(${JSON.stringify(src)}); await IndexDb.open(${JSON.stringify(path)}).withWriteLock(async () => {})`
    const r = spawnSync(process.execPath, [...loaderFor(src), '--input-type=module', '-e', child], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, PETAL_FAILPOINT: 'index-migrate:done' } })
    expect(r.signal, r.stderr).toBe('SIGKILL')
    expect(blocksDump(path)).toEqual(before)
    const writer = IndexDb.open(path)
    try {
      expect(lookups(writer)).toEqual(EXPECTED)
      await writer.withWriteLock(async () => {})
      expect(blocksDump(path)).toEqual({ ...before, version: '3' })
      expect(lookups(writer)).toEqual(EXPECTED)
    } finally {
      writer.close()
    }
  })

  it('a reader of version 1 whose index a Petal of sessions 45-46 moves to version 2 reads it through the views of version 2', async () => {
    const path = await filled()
    rewriteAsVersion1(path)
    const reader = IndexDb.open(path, { readonly: true })
    try {
      expect(lookups(reader)).toEqual(EXPECTED)
      // That Petal's move (index46's migrateIndex, in short): blocks with an id and a unique hash, block_tables keyed by the id, version 2.
      const cols = 'hash, height, parent, canonical, version, signer, timestamp, rows_root, prev_sig, seal, size, key_ops, received_at'
      const db = new Database(path)
      db.transaction(() => {
        db.exec(`CREATE TABLE b2 (id INTEGER PRIMARY KEY, hash TEXT NOT NULL UNIQUE, height INTEGER NOT NULL, parent TEXT NOT NULL, canonical INTEGER NOT NULL,
            version INTEGER NOT NULL, signer TEXT NOT NULL, timestamp TEXT NOT NULL, rows_root TEXT NOT NULL, prev_sig TEXT NOT NULL, seal TEXT NOT NULL,
            size INTEGER NOT NULL, key_ops INTEGER NOT NULL, received_at INTEGER NOT NULL);
          INSERT INTO b2 (id, ${cols}) SELECT rowid, ${cols} FROM blocks;
          CREATE TABLE bt2 (block INTEGER NOT NULL, name TEXT NOT NULL, sql TEXT NOT NULL, rows INTEGER NOT NULL, root TEXT NOT NULL, PRIMARY KEY (block, name)) WITHOUT ROWID;
          INSERT INTO bt2 SELECT b.id, t.name, t.sql, t.rows, t.root FROM b2 b JOIN block_tables t ON t.hash = b.hash;
          DROP TABLE block_tables; DROP TABLE blocks; ALTER TABLE b2 RENAME TO blocks; ALTER TABLE bt2 RENAME TO block_tables;
          CREATE UNIQUE INDEX blocks_canonical_height ON blocks(height) WHERE canonical = 1; CREATE INDEX blocks_side ON blocks(canonical, height);
          UPDATE meta SET value = '2' WHERE key = 'schema_version';`)
      })()
      db.close()
      expect(blocksDump(path).version).toBe('2')
      expect(lookups(reader)).toEqual(EXPECTED)
    } finally {
      reader.close()
    }
  })
})
