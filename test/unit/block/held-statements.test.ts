// The statements a thread's kept held connection keeps from block to block (held-db.ts,
// heldStatement): a small block's checks prepare their four statements once, each later block
// runs them again, prepared again by SQLite on that block's schema, and a read gives what a fresh
// connection gives, refusals included.
import { beforeEach, describe, expect, it } from 'vitest'
import Database from 'better-sqlite3'
import { copyFileSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { readBlockFile } from '../../../src/block/index.js'
import { dropKeptHeld, heldStatement, openHeld, releaseHeld } from '../../../src/block/held-db.js'
import { hardenReadonly, neutraliseModules, type Db } from '../../../src/block/sqlite.js'
import { MAX_BLOCK_BYTES, head, outcome, prepared, sqlBlock } from '../../helpers/block-read.js'
import { nativeHeldDbBuilt } from '../../helpers/native-build.js'
import { tmpDir } from '../../helpers/tmp.js'

const read = async (path: string, bytes: Buffer): Promise<Awaited<ReturnType<typeof readBlockFile>>> => await readBlockFile(path, { maxBytes: MAX_BLOCK_BYTES, head: head(bytes, 4096), bytes })
const open = (bytes: Buffer): ReturnType<typeof openHeld> => openHeld(bytes, (db: Db) => { hardenReadonly(db); neutraliseModules(db) })

/** A copy of a block whose `_meta` columns are renamed: its statement cannot be prepared on it. */
function renamedMeta (dir: string, path: string): { path: string, bytes: Buffer } {
  const out = join(dir, 'renamed.db')
  copyFileSync(path, out)
  const db = new Database(out)
  db.exec('ALTER TABLE _meta RENAME COLUMN key TO k')
  db.close()
  return { path: out, bytes: readFileSync(out) }
}

// Test files share a process (isolate: false): no kept connection from a file before.
beforeEach(() => { dropKeptHeld() })

describe.skipIf(!nativeHeldDbBuilt())('statements kept on the kept held connection', () => {
  it('are made once: later blocks of a load thread prepare none of the checks\' statements', async () => {
    const dir = tmpDir()
    const blocks = [
      await sqlBlock(dir, 'a', 'CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB); INSERT INTO t (b) VALUES (x\'07\')'),
      await sqlBlock(dir, 'b', 'CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB); INSERT INTO t (b) VALUES (x\'08\'), (x\'09\')')
    ]
    const [a, b] = blocks as [typeof blocks[0], typeof blocks[0]]
    await read(a.path, a.bytes)
    const seen = await prepared(async () => {
      for (let i = 0; i < 3; i++) { await read(b.path, b.bytes); await read(a.path, a.bytes) }
    })
    // Before: _meta, _keys, _tables and the table's rows, prepared for each of the six blocks.
    expect(seen.filter(s => /FROM (_meta|_keys|_tables|"t")/.test(s))).toEqual([])
  })

  it('a kept statement is prepared again on each next block: its rows, its columns, another table at the same root page', async () => {
    const dir = tmpDir()
    const a = await sqlBlock(dir, 'a', "CREATE TABLE t (v TEXT); CREATE TABLE u (w TEXT); INSERT INTO t VALUES ('a-t'); INSERT INTO u VALUES ('a-u')")
    const b = await sqlBlock(dir, 'b', "CREATE TABLE u (w TEXT); CREATE TABLE t (v TEXT, x TEXT); INSERT INTO t VALUES ('b-t', 'b-x'); INSERT INTO u VALUES ('b-u')")
    const h = open(a.bytes)
    if (h === undefined) throw new Error('no held connection')
    const make = (): Database.Statement<unknown[], unknown[]> => h.db.prepare<unknown[], unknown[]>('SELECT * FROM t').raw(true)
    const s = heldStatement(h.db, 'all of t', make)
    expect(s.all()).toEqual([['a-t']])
    releaseHeld(h.db)
    expect(open(b.bytes)).toEqual({ db: h.db, reused: true })
    expect(heldStatement(h.db, 'all of t', () => { throw new Error('made again') })).toBe(s)
    expect(s.all()).toEqual([['b-t', 'b-x']])
    releaseHeld(h.db)
    // A connection that is not the kept one gets a statement of its own each time.
    const other = openHeld(a.bytes)
    if (other === undefined) throw new Error('no held connection')
    expect(heldStatement(other.db, 'all of t', () => other.db.prepare('SELECT * FROM t').raw(true))).not.toBe(s)
    releaseHeld(other.db)
  })

  it('a block its kept statement cannot be prepared on is refused as on a fresh connection, and the next block is read right', async () => {
    const dir = tmpDir()
    const good = await sqlBlock(dir, 'good', 'CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB); INSERT INTO t (b) VALUES (x\'07\')')
    const bad = renamedMeta(dir, good.path)
    const fresh = await outcome(readBlockFile(bad.path, { maxBytes: MAX_BLOCK_BYTES }))
    expect(fresh).toMatchObject({ code: expect.any(String) })
    await read(good.path, good.bytes)
    expect(await outcome(read(bad.path, bad.bytes))).toEqual(fresh)
    const again = await read(good.path, good.bytes)
    expect({ ...again, path: undefined }).toEqual({ ...await readBlockFile(good.path, { maxBytes: MAX_BLOCK_BYTES }), path: undefined })
  })
})
