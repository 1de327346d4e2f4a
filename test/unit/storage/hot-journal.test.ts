// A writer killed inside a rollback-journal transaction leaves a hot journal beside the file (what
// a kill -9 while pending.db or chain.db is being created leaves, before WAL mode is set). A
// read-only open must still read the file: openSqliteReadonly rolls the journal back first.
import Database from 'better-sqlite3'
import { copyFileSync, existsSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { Ingest } from '../../../src/ingest/index.js'
import { openSqliteReadonly } from '../../../src/storage/index.js'
import { errorCode } from '../../../src/util/index.js'
import { fixtureKey, newTestChain } from '../../helpers/chain.js'
import { tmpDir } from '../../helpers/tmp.js'

const open: Array<{ close: () => unknown }> = []
afterEach(async () => { for (const x of open.splice(0).reverse()) await x.close() })

/**
 * `dest` (and `dest`-journal) as a process killed mid-transaction leaves them: a transaction on a
 * copy at `dest`.src, large enough to spill pages into the file, is copied while still open.
 * `committed` rows are in table t before it.
 */
function killedMidTransaction (dest: string, committed: number): void {
  const src = `${dest}.src`
  const db = new Database(src)
  if (committed > 0) {
    db.exec('CREATE TABLE t (a)')
    for (let i = 0; i < committed; i++) db.prepare('INSERT INTO t VALUES (?)').run(i)
  }
  db.pragma('cache_size = 2') // spill: the transaction's pages reach the file before COMMIT
  db.exec('BEGIN')
  db.exec('CREATE TABLE IF NOT EXISTS t (a); CREATE TABLE rows (x)')
  const insert = db.prepare('INSERT INTO t VALUES (?)')
  for (let i = 0; i < 2_000; i++) insert.run('x'.repeat(200))
  expect(statSync(`${src}-journal`).size).toBeGreaterThan(0)
  copyFileSync(src, dest)
  copyFileSync(`${src}-journal`, `${dest}-journal`)
  db.exec('ROLLBACK')
  db.close()
}

const failureCode = (f: () => unknown): string | undefined => {
  try { f() } catch (err) { return errorCode(err) }
  return undefined
}

describe('openSqliteReadonly and a hot journal', () => {
  it('rolls back what a killed writer left half done, then reads the last commit; the journal is gone', () => {
    const file = join(tmpDir(), 'killed.db')
    killedMidTransaction(file, 3)
    // What a plain read-only connection says (and what the pending store's reader said before).
    expect(failureCode(() => new Database(file, { readonly: true }).prepare('SELECT count(*) FROM sqlite_schema').get())).toBe('SQLITE_READONLY_ROLLBACK')
    const db = openSqliteReadonly(file)
    open.push(db)
    expect(db.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 3 })
    expect(db.prepare("SELECT count(*) AS n FROM sqlite_schema WHERE name = 'rows'").get()).toEqual({ n: 0 })
    expect(existsSync(`${file}-journal`)).toBe(false)
  })

  it('a file killed before its first commit reads as an empty database', () => {
    const file = join(tmpDir(), 'new.db')
    killedMidTransaction(file, 0)
    const db = openSqliteReadonly(file)
    open.push(db)
    expect(db.prepare('SELECT count(*) AS n FROM sqlite_schema').get()).toEqual({ n: 0 })
    expect(statSync(file).size).toBe(0)
  })

  it('leaves a live writer\'s transaction alone: its journal is not hot while it holds the file', () => {
    const file = join(tmpDir(), 'live.db')
    const writer = new Database(file)
    open.push(writer)
    writer.exec('CREATE TABLE t (a); INSERT INTO t VALUES (1)')
    writer.exec('BEGIN; INSERT INTO t VALUES (2)')
    const reader = openSqliteReadonly(file)
    open.push(reader)
    expect(reader.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 1 })
    writer.exec('COMMIT')
    expect(reader.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 2 })
  })

  it('a pending store killed while it was created reads as empty, and then takes writes', async () => {
    const alice = fixtureKey('alice')
    const { chain } = await newTestChain({ key: alice })
    open.push(chain)
    killedMidTransaction(chain.dir.pendingDb, 0)
    const reader = Ingest.open({ chain, readonly: true })
    expect(reader.stats().pendingRows).toBe(0)
    await reader.close()
    const writer = Ingest.open({ chain, key: alice })
    open.push(writer)
    expect((await writer.append('events', [{ n: 1n }])).receipts).toHaveLength(1)
    expect(writer.stats().pendingRows).toBe(1)
  })
})
