import Database from 'better-sqlite3'
import { spawnSync } from 'node:child_process'
import { copyFileSync, cpSync, readdirSync, rmSync, truncateSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { Chain, importBlock, signImport } from '../../../src/chain/index.js'
import type { SigningKey } from '../../../src/crypto/index.js'
import { readSeal } from '../../../src/storage/index.js'
import { QueryMirror, QuerySandbox, runQuery } from '../../../src/query/index.js'
import { extendChain, fixtureKey, newTestChain, plantBlock } from '../../helpers/chain.js'
import { disguisedRtree } from '../../helpers/hostile-schemas.js'
import { forge } from '../../fixtures/forge.js'
import { assertMirrorMatchesFiles, dumpMirror, failure, rowsOf, sqliteFile } from '../../helpers/query.js'
import { entryOf, loaderFor } from '../../helpers/src-entry.js'
import { tmpDir } from '../../helpers/tmp.js'

const alice = fixtureKey('alice')
const sandboxes: QuerySandbox[] = []
afterAll(async () => { await Promise.all(sandboxes.map(async s => { await s.close() })) })

const dumpText = (path: string): string => JSON.stringify(dumpMirror(path), (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))

let n = 0
/** A block from `sql` statements (each block's tables, columns and rows). */
async function block (chain: Chain, key: SigningKey, sql: string): Promise<void> {
  const file = sqliteFile(join(tmpDir(), `in${n++}.db`), db => { db.exec(sql) })
  await signImport(chain, file, key)
}

async function feed (to: Chain, from: Chain, start: number, mirror?: QueryMirror): Promise<string[]> {
  const statuses: string[] = []
  for (let h = start; h <= from.tip().height; h++) {
    const p = from.dir.blockPath(h)
    statuses.push((await importBlock(to, p, readSeal(p))).status)
    await mirror?.sync()
  }
  return statuses
}

/** The mirror built incrementally equals one rebuilt from scratch, and both match the files. */
async function assertConsistent (chain: Chain, mirror: QueryMirror): Promise<void> {
  assertMirrorMatchesFiles(chain)
  const incremental = dumpMirror(chain.dir.queryDb)
  const copy = join(tmpDir(), 'rebuild')
  cpSync(chain.dir.root, copy, { recursive: true })
  const other = Chain.open(copy)
  const fresh = QueryMirror.open(other)
  try {
    await fresh.rebuild()
    expect(dumpMirror(other.dir.queryDb)).toEqual(incremental)
  } finally {
    fresh.close()
    other.close()
  }
  expect(mirror.tip()?.hash).toBe(chain.tip().hash)
}

describe('query mirror', () => {
  it('unions tables by name: new columns NULL elsewhere, case-insensitive names, disagreeing types kept exact', async () => {
    const { chain } = await newTestChain({ key: alice })
    await block(chain, alice, "CREATE TABLE Things (id INTEGER PRIMARY KEY, name TEXT COLLATE NOCASE, qty INT); INSERT INTO Things (name, qty) VALUES ('a', 1), ('B', 2)")
    await block(chain, alice, "CREATE TABLE things (ID INTEGER PRIMARY KEY, name TEXT COLLATE NOCASE, qty INT, Colour TEXT); INSERT INTO things (name, qty, colour) VALUES ('c', 3, 'red')")
    await block(chain, alice, "CREATE TABLE other (x BLOB) ; INSERT INTO other VALUES (x'00ff'), (NULL)")
    const mirror = QueryMirror.open(chain)
    sandboxes.push(new QuerySandbox(chain.dir.root))
    const sb = sandboxes.at(-1) as QuerySandbox
    try {
      await mirror.sync()
      const r = await rowsOf(chain, sb, 'SELECT * FROM THINGS ORDER BY _height, id')
      expect(r.columns).toEqual(['_height', 'id', 'name', 'qty', 'Colour'])
      expect(r.rows).toEqual([[1n, 1n, 'a', 1n, null], [1n, 2n, 'B', 2n, null], [2n, 1n, 'c', 3n, 'red']])
      // The collation every block agrees on is kept: GROUP BY folds case as it would in one file.
      expect((await rowsOf(chain, sb, "SELECT count(*) FROM things WHERE name = 'b'")).rows).toEqual([[1n]])
      // A block that declares qty TEXT: the column becomes untyped and every value stays as stored.
      await block(chain, alice, "CREATE TABLE things (name TEXT, qty TEXT); INSERT INTO things VALUES ('d', '0042')")
      await mirror.sync()
      expect((await rowsOf(chain, sb, 'SELECT qty, typeof(qty) FROM things ORDER BY _height, rowid')).rows).toEqual([[1n, 'integer'], [2n, 'integer'], [3n, 'integer'], ['0042', 'text']])
      expect((await rowsOf(chain, sb, 'SELECT name, type FROM pragma_table_info(\'things\') ORDER BY cid')).rows).toEqual([['_height', 'INTEGER'], ['id', 'INTEGER'], ['name', 'TEXT'], ['qty', ''], ['Colour', 'TEXT']])
      await assertConsistent(chain, mirror)
      // Blocks are read through private copies in tmp/ (streamed, never whole in memory): none is left.
      expect(readdirSync(chain.dir.tmpDir)).toEqual([])
    } finally {
      mirror.close()
      chain.close()
    }
  })

  it('follows reorgs both ways, removing tables, columns and type conflicts of orphaned blocks', async () => {
    const { chain: a, dir } = await newTestChain({ key: alice })
    await block(a, alice, "CREATE TABLE t (k TEXT, v INT); INSERT INTO t VALUES ('shared', 1)")
    a.close()
    const bDir = join(tmpDir(), 'b')
    cpSync(dir, bDir, { recursive: true })
    const chain = Chain.open(dir)
    const b = Chain.open(bDir)
    const mirror = QueryMirror.open(chain)
    try {
      await mirror.sync()
      // Branch A (3 blocks): a table only it has, an extra column, a type conflict on v.
      await block(chain, alice, "CREATE TABLE t (k TEXT, v INT, a_only REAL); INSERT INTO t VALUES ('a1', 2, 0.5); CREATE TABLE only_a (x); INSERT INTO only_a VALUES (1)")
      await mirror.sync()
      await block(chain, alice, "CREATE TABLE t (k TEXT, v TEXT); INSERT INTO t VALUES ('a2', '007')")
      await mirror.sync()
      await block(chain, alice, "CREATE TABLE t (k TEXT, v INT); INSERT INTO t VALUES ('a3', 3)")
      await mirror.sync()
      const snapshot = join(tmpDir(), 'a-branch')
      cpSync(dir, snapshot, { recursive: true })
      const queryDbAtA = join(tmpDir(), 'query-at-a.db')
      mirror.close()
      copyFileSync(chain.dir.queryDb, queryDbAtA)
      const mirror2 = QueryMirror.open(chain)
      await assertConsistent(chain, mirror2)
      expect(dumpText(chain.dir.queryDb)).toContain('only_a')
      expect(dumpText(chain.dir.queryDb)).toContain('\\"v\\", \\"a_only\\" REAL') // v untyped: the branch disagrees on it

      // Branch B (4 blocks) wins: its own table, and t without the extra column.
      for (let i = 0; i < 4; i++) await block(b, alice, `CREATE TABLE t (k TEXT, v INT); INSERT INTO t VALUES ('b${i}', ${10 + i}); CREATE TABLE only_b (y TEXT); INSERT INTO only_b VALUES ('y${i}')`)
      const statuses = await feed(chain, b, 2, mirror2)
      expect(statuses).toContain('reorg')
      expect(chain.tip().hash).toBe(b.tip().hash)
      await assertConsistent(chain, mirror2)
      const after = dumpText(chain.dir.queryDb)
      expect(after).not.toContain('only_a')
      expect(after).not.toContain('a_only')
      expect(after).toContain('\\"v\\" INTEGER') // the conflict on v left with branch A

      // Branch A grows longer and wins back.
      const a2 = Chain.open(snapshot)
      for (let i = 0; i < 3; i++) await block(a2, alice, `CREATE TABLE t (k TEXT, v INT, a_only REAL); INSERT INTO t VALUES ('a${4 + i}', ${20 + i}, 1.5)`)
      expect(await feed(chain, a2, 2, mirror2)).toContain('reorg')
      expect(chain.tip().hash).toBe(a2.tip().hash)
      await assertConsistent(chain, mirror2)
      a2.close()

      // A mirror that slept through both reorgs catches up by itself.
      mirror2.close()
      for (const f of ['', '-wal', '-shm']) rmSync(chain.dir.queryDb + f, { force: true })
      copyFileSync(queryDbAtA, chain.dir.queryDb)
      const mirror3 = QueryMirror.open(chain)
      await block(chain, alice, "CREATE TABLE t (k TEXT, v INT); INSERT INTO t VALUES ('late', 99)")
      const report = await mirror3.sync()
      expect(report.rolledBack).toBe(0) // blocks 1..4 of branch A are canonical again
      await assertConsistent(chain, mirror3)
      mirror3.close()
    } finally {
      chain.close()
      b.close()
    }
  })

  it('leaves out a table too wide for one SQLite table, keeps the rest, and restores it when a reorg makes it fit', async () => {
    const wide = (prefix: string): string => {
      const cols = Array.from({ length: 1100 }, (_, i) => `${prefix}${i} INT`)
      return `CREATE TABLE wide (${cols.join(', ')}); INSERT INTO wide (${prefix}0, ${prefix}1099) VALUES (1, 2)`
    }
    const { chain, dir } = await newTestChain({ key: alice })
    await block(chain, alice, `${wide('c')}; CREATE TABLE t (v INT); INSERT INTO t VALUES (1)`)
    chain.close()
    const bDir = join(tmpDir(), 'b')
    cpSync(dir, bDir, { recursive: true })
    const a = Chain.open(dir)
    const b = Chain.open(bDir)
    const mirror = QueryMirror.open(a)
    const sb = new QuerySandbox(a.dir.root)
    sandboxes.push(sb)
    try {
      // Block 2 names 1,100 more columns: 2,200 in all, beyond SQLite's 2,000 per table.
      await block(a, alice, `${wide('d')}; CREATE TABLE t (v INT); INSERT INTO t VALUES (2)`)
      await mirror.sync()
      expect((await rowsOf(a, sb, 'SELECT sum(v) FROM t')).rows).toEqual([[3n]])
      const err = await failure(rowsOf(a, sb, 'SELECT count(*) FROM wide'))
      expect(err.code).toBe('QUERY_TABLE_TOO_WIDE')
      expect((err as { hint?: string }).hint).toContain('--per-block')
      expect((await rowsOf(a, sb, 'SELECT count(*) FROM wide', { perBlock: true })).rows).toEqual([[1n, 1n], [2n, 1n]])
      await assertConsistent(a, mirror)

      // Branch B (no second wide block) wins: the table fits again and its rows come back.
      for (let i = 0; i < 2; i++) await block(b, alice, `CREATE TABLE t (v INT); INSERT INTO t VALUES (${10 + i})`)
      expect(await feed(a, b, 2, mirror)).toContain('reorg')
      expect((await rowsOf(a, sb, 'SELECT count(*), sum(c1099) FROM wide')).rows).toEqual([[1n, 2n]])
      await assertConsistent(a, mirror)
    } finally {
      mirror.close()
      a.close()
      b.close()
    }
  })

  it('explains that _meta and _keys live in each block, not in the mirror', async () => {
    const { chain } = await newTestChain({ key: alice })
    const sb = new QuerySandbox(chain.dir.root)
    sandboxes.push(sb)
    try {
      const err = await failure(rowsOf(chain, sb, 'SELECT * FROM _keys'))
      expect(err.code).toBe('QUERY_UNKNOWN_TABLE')
      expect((err as { hint?: string }).hint).toMatch(/--per-block.*petal signers/)
      expect((await rowsOf(chain, sb, "SELECT value FROM _meta WHERE key = 'Height'", { perBlock: true })).rows).toEqual([[0n, '0']])
    } finally {
      chain.close()
    }
  })

  it('rebuilds itself when query.db is unreadable or belongs to another chain', async () => {
    const { chain } = await newTestChain({ key: alice })
    await block(chain, alice, "CREATE TABLE t (v); INSERT INTO t VALUES (1)")
    const mirror = QueryMirror.open(chain)
    await mirror.sync()
    mirror.close()
    const good = dumpMirror(chain.dir.queryDb)
    // Garbage in place of the file.
    for (const f of ['-wal', '-shm']) rmSync(chain.dir.queryDb + f, { force: true })
    copyFileSync(join(import.meta.dirname, 'format.test.ts'), chain.dir.queryDb)
    const m2 = QueryMirror.open(chain)
    await m2.sync()
    m2.close()
    expect(dumpMirror(chain.dir.queryDb)).toEqual(good)
    // Another chain's mirror.
    const db = new Database(chain.dir.queryDb)
    db.prepare("UPDATE _mirror SET value = 'ffff' WHERE key = 'chain_id'").run()
    db.close()
    const m3 = QueryMirror.open(chain)
    expect(m3.tip()).toBeUndefined()
    await m3.sync()
    m3.close()
    expect(dumpMirror(chain.dir.queryDb)).toEqual(good)
    chain.close()
  })

  it('lets two mirrors (two processes) sync the same query.db concurrently', async () => {
    const { chain, dir } = await newTestChain({ key: alice })
    for (let i = 0; i < 12; i++) await block(chain, alice, `CREATE TABLE t (i INT); INSERT INTO t VALUES (${i}); CREATE TABLE u${i % 3} (z); INSERT INTO u${i % 3} VALUES (${i})`)
    const other = Chain.open(dir)
    const m1 = QueryMirror.open(chain)
    const m2 = QueryMirror.open(other)
    try {
      const [r1, r2] = await Promise.all([m1.sync(), m2.sync()])
      expect(r1.applied + r2.applied).toBe(13)
      assertMirrorMatchesFiles(chain)
    } finally {
      m1.close()
      m2.close()
      other.close()
      chain.close()
    }
  })

  it('leaves out a block it cannot hold (a virtual table an older Petal accepted), says so with its code, and queries the rest', async () => {
    const { chain } = await newTestChain({ key: alice })
    await block(chain, alice, 'CREATE TABLE t (v INT); INSERT INTO t VALUES (1)')
    const tip = chain.tip()
    const bad = join(tmpDir(), 'vtab.db')
    const forged = await forge({ out: bad, key: alice, chainId: chain.chainId, height: 2, previousHash: tip.hash, timestamp: new Date(Date.parse(tip.timestamp) + 1000).toISOString(), legacySchema: disguisedRtree })
    await plantBlock(chain, bad, forged.seal, forged.header)
    await block(chain, alice, 'CREATE TABLE t (v INT); INSERT INTO t VALUES (3)')
    const sb = new QuerySandbox(chain.dir.root)
    sandboxes.push(sb)
    const mirror = QueryMirror.open(chain)
    try {
      const r = await mirror.sync()
      expect(r.skipped.map(s => [s.height, s.code])).toEqual([[2, 'SCHEMA_NOT_ALLOWED']])
      expect(r.skipped[0]?.message).toMatch(/virtual tables are not allowed/)
      expect(mirror.tip()?.hash).toBe(chain.tip().hash)
      // Rows of every other block; the result says which block is missing.
      const q = await runQuery(chain, { sql: 'SELECT _height, v FROM t ORDER BY _height', format: 'rows', sandbox: sb, onRows: () => {} })
      expect(q.skipped.map(s => s.height)).toEqual([2])
      // Read by the sandbox in the statement's snapshot (the caller does not open the mirror again).
      const summary = await sb.run({ mode: 'mirror', sql: 'SELECT 1', format: 'rows', timeoutMs: 0 })
      expect(summary.skipped?.map(s => [s.height, s.code])).toEqual([[2, 'SCHEMA_NOT_ALLOWED']])
      expect((await rowsOf(chain, sb, 'SELECT _height, v FROM t ORDER BY _height')).rows).toEqual([[1n, 1n], [3n, 3n]])
      expect((await rowsOf(chain, sb, 'SELECT height FROM _blocks ORDER BY height')).rows).toEqual([[0n], [1n], [2n], [3n]])
      // A rebuild leaves it out the same way.
      const again = await mirror.rebuild()
      expect(again.skipped.map(s => s.height)).toEqual([2])
    } finally {
      mirror.close()
      chain.close()
    }
  })

  it('never reads a damaged block file far larger than its record: not whole, not into memory', async () => {
    const { chain } = await newTestChain({ key: alice })
    await extendChain(chain, alice, 2)
    const { root, queryDb } = chain.dir
    const path = chain.dir.blockPath(1)
    chain.close()
    rmSync(queryDb, { force: true })
    // A small block's file grown to 768 MiB (sparse: no disk). It was read whole, synchronously.
    truncateSync(path, 768 * 1024 * 1024)
    // The helper's bundle (src-entry.ts): the child compiles no TypeScript (its peak is the sync's).
    const entry = entryOf(join(import.meta.dirname, '..', '..', 'helpers', 'mirror-sync-peak.ts'))
    const r = spawnSync(process.execPath, [...loaderFor(entry), entry, root], { encoding: 'utf8', timeout: 60_000 })
    expect(r.stderr).toBe('')
    const out = JSON.parse(r.stdout) as { tip: number, code: string, maxRssKiB: number }
    expect(out).toMatchObject({ tip: 0, code: 'MIRROR_BLOCK_MISSING' })
    expect(out.maxRssKiB).toBeLessThan(384 * 1024)
  })
})
