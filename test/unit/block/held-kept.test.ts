// The held-bytes connection a thread keeps from block to block (held-db.ts): each block's bytes
// replace the previous block's as its main database (the addon's swap), its settings stay, and
// nothing of one block is read for the next: not its bytes, not its schema, not a refused block's
// connection. A thread checks one block at a time; one asked for while the kept one is busy is a
// fresh connection of its own, and the kept one still takes the next block.
import { beforeEach, describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { readBlockFile } from '../../../src/block/index.js'
import { dropKeptHeld, openHeld, releaseHeld } from '../../../src/block/held-db.js'
import { closeBlockDb, hardenReadonly, neutraliseModules, openBlockReadonly, type Db } from '../../../src/block/sqlite.js'
import { MAX_BLOCK_BYTES, head, sensorBlock, sqlBlock } from '../../helpers/block-read.js'
import { nativeHeldDbBuilt } from '../../helpers/native-build.js'
import { tmpDir } from '../../helpers/tmp.js'

const read = async (path: string, bytes: Buffer): Promise<Awaited<ReturnType<typeof readBlockFile>>> => await readBlockFile(path, { maxBytes: MAX_BLOCK_BYTES, head: head(bytes, 4096), bytes })

/** openHeld as openBlockReadonly calls it: a fresh connection set up as a block connection, keepable. */
const open = (bytes: Buffer): ReturnType<typeof openHeld> => openHeld(bytes, (db: Db) => { hardenReadonly(db); neutraliseModules(db) })

/** The bytes of a block whose page holding `needle` is made an invalid b-tree page: CORRUPT. */
function damaged (bytes: Buffer, needle: string): Buffer {
  const out = Buffer.from(bytes)
  const size = out.readUInt16BE(16)
  const at = out.indexOf(needle)
  expect(at).toBeGreaterThan(size)
  out[at - at % size] = 0xff
  return out
}

// Test files share a process (isolate: false): no kept connection from a file before.
beforeEach(() => { dropKeptHeld() })

describe.skipIf(!nativeHeldDbBuilt())('the kept held connection (held-db.ts)', () => {
  it('is opened once, and each block read on it is that block: its rows, its schema, in one buffer reused as a load thread does', async () => {
    const dir = tmpDir()
    const a = await sqlBlock(dir, 'a', "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t (v) VALUES ('one'), ('two')")
    const b = await sqlBlock(dir, 'b', "CREATE TABLE u (k TEXT); INSERT INTO u VALUES ('x'), ('y'), ('z')")
    const first = open(a.bytes)
    expect(first?.reused).toBe(false)
    const db = first?.db
    if (db === undefined) throw new Error('no held connection')
    expect(db.prepare('SELECT count(*) FROM t').pluck().get()).toBe(2)
    releaseHeld(db)
    // The same memory, overwritten with the next block (load-check.ts's ownBuf).
    const buf = Buffer.alloc(Math.max(a.bytes.length, b.bytes.length))
    b.bytes.copy(buf)
    const second = open(buf.subarray(0, b.bytes.length))
    expect(second).toEqual({ db, reused: true })
    expect(db.prepare('SELECT group_concat(k) FROM u').pluck().get()).toBe('x,y,z')
    expect(() => db.prepare('SELECT * FROM t')).toThrow(/no such table: t/)
    releaseHeld(db)
    a.bytes.copy(buf)
    expect(open(buf.subarray(0, a.bytes.length))?.reused).toBe(true)
    expect(db.prepare('SELECT group_concat(v) FROM t').pluck().get()).toBe('one,two')
    expect(() => db.prepare('SELECT * FROM u')).toThrow(/no such table: u/)
    releaseHeld(db)
  })

  it('keeps the defensive settings, read-only', async () => {
    const dir = tmpDir()
    const a = await sqlBlock(dir, 'a', 'CREATE TABLE t (x); INSERT INTO t VALUES (1)')
    const b = await sqlBlock(dir, 'b', 'CREATE TABLE t (x); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 40) INSERT INTO t SELECT zeroblob(3000) FROM n')
    expect(b.bytes.length).toBeGreaterThan(a.bytes.length)
    const dbs = new Set()
    for (const block of [a, b, a]) {
      const db = openBlockReadonly(block.path, { held: block.bytes })
      dbs.add(db)
      try {
        expect(db.pragma('trusted_schema', { simple: true })).toBe(0)
        expect(db.pragma('query_only', { simple: true })).toBe(1)
        expect(db.pragma('cell_size_check', { simple: true })).toBe(1)
        expect(() => db.exec('CREATE TABLE x (a)')).toThrow(/readonly|query_only/i)
      } finally {
        closeBlockDb(db)
      }
    }
    // One connection, its settings set once.
    expect(dbs.size).toBe(1)
  })

  it('readBlockFile block after block gives what a fresh connection gives', async () => {
    const paths = [await sensorBlock(300), await sensorBlock(40), await sensorBlock(3000)]
    const fresh = []
    for (const p of paths) fresh.push(await readBlockFile(p, { maxBytes: MAX_BLOCK_BYTES }))
    for (let round = 0; round < 2; round++) {
      for (const [i, p] of paths.entries()) {
        const got = await read(p, readFileSync(p))
        expect({ ...got, path: undefined }).toEqual({ ...fresh[i], path: undefined })
      }
    }
  })

  it('a block of another text encoding than the kept connection\'s is read on a fresh one, as from its file', async () => {
    // SQLite fixes a connection's encoding at its first schema: the kept connection refused a
    // UTF-16 block after UTF-8 ones ("attached databases must use the same text encoding as main
    // database"), on this path alone, and againIfCorrupt, seeing the file pass, called it the
    // disk's failure (an EIO): a pull's load thread stopped at a valid block (fuzz45).
    const dir = tmpDir()
    const blocks = [
      await sqlBlock(dir, 'u8', "CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('ä'), ('b')"),
      await sqlBlock(dir, 'le', "PRAGMA encoding = 'UTF-16le'; CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('ä'), ('b')"),
      await sqlBlock(dir, 'be', "PRAGMA encoding = 'UTF-16be'; CREATE TABLE u (v TEXT); INSERT INTO u VALUES ('x')")
    ]
    expect(blocks.map(b => b.bytes.readUInt32BE(56))).toEqual([1, 2, 3])
    for (const order of [[0, 1, 2, 0], [1, 1, 0, 2, 2, 1]]) {
      for (const i of order) {
        const b = blocks[i]
        if (b === undefined) throw new Error('no block')
        const fresh = await readBlockFile(b.path, { maxBytes: MAX_BLOCK_BYTES })
        expect({ ...await read(b.path, b.bytes), path: undefined }).toEqual({ ...fresh, path: undefined })
      }
    }
  })

  it('a refused block\'s connection is not kept: the next block gets a fresh one, and is read right', async () => {
    const path = await sensorBlock(3000)
    const bytes = readFileSync(path)
    await read(path, bytes)
    const kept = open(bytes)
    expect(kept?.reused).toBe(true)
    if (kept !== undefined) releaseHeld(kept.db)
    await expect(read(path, damaged(bytes, 'row 1234 of the test'))).rejects.toMatchObject({ code: 'CORRUPT' })
    const after = open(bytes)
    expect(after?.reused).toBe(false)
    expect(after?.db).not.toBe(kept?.db)
    if (after !== undefined) releaseHeld(after.db)
    expect((await read(path, bytes)).tables.map(t => t.rows)).toEqual([3000])
  })

  it('a connection opened without the settings is never kept', async () => {
    const dir = tmpDir()
    const a = await sqlBlock(dir, 'a', 'CREATE TABLE t (x); INSERT INTO t VALUES (1)')
    const plain = openHeld(a.bytes)
    if (plain === undefined) throw new Error('no held connection')
    expect(plain.db.pragma('trusted_schema', { simple: true })).toBe(1)
    releaseHeld(plain.db)
    expect(plain.db.open).toBe(false)
    const db = openBlockReadonly(a.path, { held: a.bytes })
    try {
      expect(db).not.toBe(plain.db)
      expect(db.pragma('trusted_schema', { simple: true })).toBe(0)
    } finally {
      closeBlockDb(db)
    }
  })

  it('one asked for while the kept one is busy is its own, closed on release; the kept one takes the next block', async () => {
    const dir = tmpDir()
    const a = await sqlBlock(dir, 'a', 'CREATE TABLE t (x); INSERT INTO t VALUES (1)')
    const b = await sqlBlock(dir, 'b', 'CREATE TABLE t (x); INSERT INTO t VALUES (2)')
    const c = await sqlBlock(dir, 'c', 'CREATE TABLE t (x); INSERT INTO t VALUES (3)')
    const kept = open(a.bytes)
    const other = open(b.bytes)
    if (kept === undefined || other === undefined) throw new Error('no held connection')
    expect(other.db).not.toBe(kept.db)
    expect(kept.db.prepare('SELECT x FROM t').pluck().get()).toBe(1)
    expect(other.db.prepare('SELECT x FROM t').pluck().get()).toBe(2)
    releaseHeld(other.db)
    expect(other.db.open).toBe(false)
    // The kept one still reads its own block, and swaps to the next once released.
    expect(kept.db.prepare('SELECT x FROM t').pluck().get()).toBe(1)
    releaseHeld(kept.db)
    expect(kept.db.open).toBe(true)
    expect(open(c.bytes)).toEqual({ db: kept.db, reused: true })
    expect(kept.db.prepare('SELECT x FROM t').pluck().get()).toBe(3)
    releaseHeld(kept.db)
  })

  it('a statement prepared on one block is prepared again on the next, not run with the first block\'s program', async () => {
    const dir = tmpDir()
    // The same schema cookie, their tables at each other's root pages.
    const a = await sqlBlock(dir, 'a', "CREATE TABLE t (v TEXT); CREATE TABLE u (w TEXT); INSERT INTO t VALUES ('a-t'); INSERT INTO u VALUES ('a-u')")
    const b = await sqlBlock(dir, 'b', "CREATE TABLE u (w TEXT); CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('b-t'); INSERT INTO u VALUES ('b-u')")
    expect(b.bytes.readUInt32BE(40)).toBe(a.bytes.readUInt32BE(40))
    const h = open(a.bytes)
    if (h === undefined) throw new Error('no held connection')
    const t = h.db.prepare('SELECT v FROM t').pluck()
    expect(t.get()).toBe('a-t')
    releaseHeld(h.db)
    expect(open(b.bytes)).toEqual({ db: h.db, reused: true })
    // Before: block a's program (t's root page in a) read b's page of u: 'b-u'.
    expect(t.get()).toBe('b-t')
    releaseHeld(h.db)
  })

  it('the bytes live as long as their connection: one a stepping statement kept from closing still has them', async () => {
    setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as () => void
    const a = await sqlBlock(tmpDir(), 'a', 'CREATE TABLE t (x); INSERT INTO t VALUES (1), (2), (3)')
    const left = ((): { rows: IterableIterator<unknown>, bytes: WeakRef<Buffer>, db: Db } => {
      const bytes = Buffer.from(a.bytes)
      const h = open(bytes)
      if (h === undefined) throw new Error('no held connection')
      const rows = h.db.prepare('SELECT x FROM t').pluck().iterate()
      expect(rows.next().value).toBe(1)
      // Its ROLLBACK and its close are refused while the statement steps: the connection is dropped, open.
      releaseHeld(h.db)
      return { rows, bytes: new WeakRef(bytes), db: h.db }
    })()
    expect(left.db.open).toBe(true)
    const next = open(a.bytes)
    expect(next?.db).not.toBe(left.db)
    if (next !== undefined) releaseHeld(next.db)
    for (let i = 0; i < 3; i++) { gc(); await new Promise(resolve => setImmediate(resolve)) }
    // Before: collected, and the statement's next step read freed memory.
    expect(left.bytes.deref()).toBeDefined()
    expect(left.rows.next().value).toBe(2)
    left.rows.return?.()
    left.db.close()
  })

  it('a read transaction left open is ended on release, and the next block swaps in', async () => {
    const dir = tmpDir()
    const a = await sqlBlock(dir, 'a', 'CREATE TABLE t (x); INSERT INTO t VALUES (1)')
    const b = await sqlBlock(dir, 'b', 'CREATE TABLE t (x); INSERT INTO t VALUES (2)')
    const h = open(a.bytes)
    if (h === undefined) throw new Error('no held connection')
    h.db.exec('BEGIN')
    expect(h.db.prepare('SELECT x FROM t').pluck().get()).toBe(1)
    releaseHeld(h.db)
    expect(h.db.inTransaction).toBe(false)
    expect(open(b.bytes)).toEqual({ db: h.db, reused: true })
    expect(h.db.prepare('SELECT x FROM t').pluck().get()).toBe(2)
    releaseHeld(h.db)
  })
})
