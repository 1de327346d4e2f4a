import { describe, expect, it } from 'vitest'
import Database from 'better-sqlite3'
import { chmodSync, copyFileSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { buildBlock, GENESIS_PREVIOUS_HASH, openBlockReadonly, readBlockFile, signKeyOp, verifyPrevious, verifySeal, type BuildBlockOptions, type TableEntry } from '../../../src/block/index.js'
import { sha256File } from '../../../src/crypto/index.js'
import { isPetalError } from '../../../src/util/index.js'
import { fixtureKey } from '../../helpers/chain.js'
import { tmpDir } from '../../helpers/tmp.js'

const key = fixtureKey('alice')
const MAX = 1 << 26

function opts (over: Partial<BuildBlockOptions> & { output: string }): BuildBlockOptions {
  return { key, chainId: 'aa'.repeat(32), height: 7, previousHash: 'bb'.repeat(32), timestamp: '2026-03-01T10:00:00.000Z', maxBytes: MAX, ...over }
}

function userDb (path: string, sql: string): string {
  const db = new Database(path)
  db.exec(sql)
  db.close()
  return path
}

async function code (p: Promise<unknown>): Promise<string> {
  try { await p; return 'OK' } catch (err) { if (isPetalError(err)) return err.code; throw err }
}

describe('building a v2 block', () => {
  it('takes an empty input (0 bytes, or a database whose schema is still empty) as a block without user tables', async () => {
    const dir = tmpDir()
    const zero = join(dir, 'zero.db')
    writeFileSync(zero, '')
    // Page size set, schema never written: SQLite leaves the header's text encoding at 0.
    const blank = join(dir, 'blank.db')
    const db = new Database(blank)
    db.pragma('page_size = 4096')
    db.exec('VACUUM')
    db.close()
    expect(readFileSync(blank).readUInt32BE(56)).toBe(0)
    for (const [i, src] of [zero, blank].entries()) {
      const b = await buildBlock(opts({ source: src, output: join(dir, `b${i}.db`) }))
      const r = await readBlockFile(b.path, { maxBytes: MAX })
      expect(r.tables).toEqual([])
      expect(readFileSync(src).length, 'the input is untouched').toBe(i === 0 ? 0 : 4096)
    }
    // A block itself must say its encoding: the exception is for inputs only.
    const asBlock = join(dir, 'blank-as-block.db')
    copyFileSync(blank, asBlock)
    expect(await code(readBlockFile(asBlock, { maxBytes: MAX }))).toBe('NOT_SQLITE')
  })

  it('the block is writable by its builder only, whatever the mode of its source (signimportblock does not hash it again)', async () => {
    const dir = tmpDir()
    for (const [i, mode] of [0o666, 0o444, 0o640].entries()) {
      const src = userDb(join(dir, `m${i}.db`), 'CREATE TABLE a (x); INSERT INTO a VALUES (1)')
      chmodSync(src, mode)
      const b = await buildBlock(opts({ source: src, output: join(dir, `m${i}-block.db`) }))
      expect(statSync(b.path).mode & 0o777, `source mode ${mode.toString(8)}`).toBe((mode & 0o644) | 0o600)
    }
  })

  it('checks _tables against the roots its builder computed (knownTables) without hashing the rows again', async () => {
    const dir = tmpDir()
    const src = userDb(join(dir, 'k.db'), "CREATE TABLE a (x); INSERT INTO a VALUES (1), ('two'); CREATE TABLE b (y REAL); INSERT INTO b VALUES (2)")
    const b = await buildBlock(opts({ source: src, output: join(dir, 'k-block.db') }))
    const known = b.manifest.tables
    expect((await readBlockFile(b.path, { maxBytes: MAX, knownTables: known })).tables).toEqual(known)
    const other = known.map((t, i) => i === 0 ? { ...t, root: 'cd'.repeat(32) } : t)
    expect(await code(readBlockFile(b.path, { maxBytes: MAX, knownTables: other }))).toBe('MANIFEST_MISMATCH')
    expect(await code(readBlockFile(b.path, { maxBytes: MAX, knownTables: known.slice(1) }))).toBe('MANIFEST_MISMATCH')
  })

  it('leaves the file unlocked after its checks, whether they pass or refuse it midway (one read transaction for all of them)', async () => {
    const dir = tmpDir()
    const b = await buildBlock(opts({ source: userDb(join(dir, 'l.db'), 'CREATE TABLE a (x); INSERT INTO a VALUES (1)'), output: join(dir, 'l-block.db') }))
    // A writer that does not wait: BEGIN EXCLUSIVE fails with SQLITE_BUSY while a reader holds the file.
    const writable = (): boolean => {
      const db = new Database(b.path, { timeout: 0 })
      try { db.exec('BEGIN EXCLUSIVE; ROLLBACK'); return true } catch { return false } finally { db.close() }
    }
    const held = openBlockReadonly(b.path)
    held.exec('BEGIN')
    held.prepare('SELECT count(*) FROM _meta').get()
    expect(writable(), 'the probe sees a reader\'s lock').toBe(false)
    held.close()
    expect(await code(readBlockFile(b.path, { maxBytes: MAX }))).toBe('OK')
    expect(writable()).toBe(true)
    const wrong = [{ ...(await readBlockFile(b.path, { maxBytes: MAX })).tables[0] as TableEntry, root: 'cd'.repeat(32) }]
    expect(await code(readBlockFile(b.path, { maxBytes: MAX, knownTables: wrong }))).toBe('MANIFEST_MISMATCH')
    expect(writable()).toBe(true)
  })

  it('copies the user file, never modifies it, and reads back what it wrote', async () => {
    const dir = tmpDir()
    const src = userDb(join(dir, 'u.db'), "CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT, photo BLOB, score REAL); INSERT INTO people VALUES (1, 'ann', x'00ff', 1.5), (2, NULL, NULL, NULL)")
    const before = await sha256File(src)
    const b = await buildBlock(opts({ source: src, output: join(dir, 'b.db') }))
    expect(await sha256File(src)).toBe(before)
    expect(b.hash).toBe(await sha256File(b.path))
    const r = await readBlockFile(b.path, { maxBytes: MAX })
    expect(r.header).toMatchObject({ version: 2, chainId: 'aa'.repeat(32), height: 7, previousHash: 'bb'.repeat(32), creator: key.id, rowsRoot: b.manifest.rowsRoot })
    expect(r.tables).toEqual(b.manifest.tables)
    expect(r.tables[0]).toMatchObject({ name: 'people', rows: 2 })
    expect(verifyPrevious(key.publicKey, r.header)).toBe(true)
    expect(verifySeal(key.publicKey, r.header, b.hash, b.seal)).toBe(true)
    // The header says rollback journal, never WAL.
    const hdr = readFileSync(b.path).subarray(18, 20)
    expect([...hdr]).toEqual([1, 1])
  })

  it('gives the same RowsRoot for the same rows whatever the page size or insertion history', async () => {
    const dir = tmpDir()
    const a = userDb(join(dir, 'a.db'), "PRAGMA page_size = 512; CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'x'), (2, 'y'), (3, 'z')")
    const b = userDb(join(dir, 'b.db'), "PRAGMA page_size = 8192; CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (3, 'z'), (9, 'junk'), (1, 'x'); DELETE FROM t WHERE id = 9; INSERT INTO t VALUES (2, 'y')")
    const ba = await buildBlock(opts({ source: a, output: join(dir, 'ba.db') }))
    const bb = await buildBlock(opts({ source: b, output: join(dir, 'bb.db') }))
    expect(ba.hash).not.toBe(bb.hash)
    expect(ba.manifest.rowsRoot).toBe(bb.manifest.rowsRoot)
  })

  it('keeps the user\'s _keys rows, checks their shape, and adds --keyops endorsements', async () => {
    const dir = tmpDir()
    const bob = fixtureKey('bob')
    const src = userDb(join(dir, 'k.db'), 'CREATE TABLE t (x)')
    const k = signKeyOp(key, 'aa'.repeat(32), 'A', bob.publicKey)
    const b = await buildBlock(opts({ source: src, output: join(dir, 'b.db'), keyOps: [k] }))
    const r = await readBlockFile(b.path, { maxBytes: MAX })
    expect(r.keyOps).toHaveLength(1)
    expect(r.keyOps[0]).toMatchObject({ op: 'A', keyId: bob.id, signer: key.id })
  })

  it('keeps a block without user tables small: 1024-byte pages, no free pages, whatever the source', async () => {
    const dir = tmpDir()
    const k = signKeyOp(key, 'aa'.repeat(32), 'A', fixtureKey('bob').publicKey)
    // A source with no user table but an old `_keys` (its pages are freed when the block's is written).
    const stale = userDb(join(dir, 'stale.db'), "PRAGMA page_size = 4096; CREATE TABLE _keys (op TEXT NOT NULL, pubkey_hash TEXT NOT NULL, pubkey TEXT NOT NULL, sigkey_hash TEXT NOT NULL, signature TEXT NOT NULL, metadata TEXT, PRIMARY KEY (pubkey_hash, sigkey_hash)); CREATE TABLE pad (x); DROP TABLE pad")
    const cases: Array<[string, Partial<BuildBlockOptions>]> = [['no source', {}], ['no source, a key operation', { keyOps: [k] }], ['a 4096-byte-page source without tables', { source: stale, replaceKeyOps: true, keyOps: [k] }]]
    for (const [i, [what, over]] of cases.entries()) {
      const b = await buildBlock(opts({ output: join(dir, `e${i}.db`), ...over }))
      const r = await readBlockFile(b.path, { maxBytes: MAX })
      expect(r.sqlite.pageSize, what).toBe(1024)
      expect(readFileSync(b.path).length, what).toBeLessThanOrEqual(8 * 1024)
      expect(b.hash, what).toBe(await sha256File(b.path))
      expect(r.keyOps, what).toHaveLength(over.keyOps?.length ?? 0)
      const db = new Database(b.path, { readonly: true })
      expect(db.pragma('freelist_count', { simple: true }), what).toBe(0)
      db.close()
    }
    // User tables keep the source's page layout (VACUUM could renumber their rowids).
    const user = userDb(join(dir, 'user.db'), 'PRAGMA page_size = 4096; CREATE TABLE t (x); INSERT INTO t VALUES (1)')
    const u = await buildBlock(opts({ source: user, output: join(dir, 'u.db') }))
    expect((await readBlockFile(u.path, { maxBytes: MAX })).sqlite.pageSize).toBe(4096)
  })

  it('builds a genesis without a source file', async () => {
    const dir = tmpDir()
    const g = await buildBlock(opts({ output: join(dir, 'g.db'), chainId: '', height: 0, previousHash: GENESIS_PREVIOUS_HASH, genesis: { quorumRule: 'majority', maxBlockBytes: 4096 * 4, maxReorgDepth: 3 }, keyOps: [signKeyOp(key, '', 'A', key.publicKey)], pageSize: 512 }))
    const r = await readBlockFile(g.path, { maxBytes: MAX })
    expect(r.header.genesis).toEqual({ quorumRule: 'majority', maxBlockBytes: 16384, maxReorgDepth: 3 })
    expect(r.sqlite.pageSize).toBe(512)
    expect(r.userTables).toEqual([])
  })
})

describe('refusing bad input files, leaving everything unchanged', () => {
  const cases: Array<[string, (dir: string) => string, string]> = [
    ['a missing path', dir => join(dir, 'missing.db'), 'FILE_NOT_FOUND'],
    ['a text file', dir => { writeFileSync(join(dir, 'x.txt'), 'hello'.repeat(100)); return join(dir, 'x.txt') }, 'NOT_SQLITE'],
    ['a WAL-mode database', dir => userDb(join(dir, 'w.db'), 'PRAGMA journal_mode = WAL; CREATE TABLE t (x); INSERT INTO t VALUES (1)'), 'WAL_MODE'],
    ['a trigger', dir => userDb(join(dir, 't.db'), 'CREATE TABLE t (x); CREATE TRIGGER g AFTER INSERT ON t BEGIN SELECT 1; END'), 'SCHEMA_NOT_ALLOWED'],
    ['a view', dir => userDb(join(dir, 'v.db'), 'CREATE TABLE t (x); CREATE VIEW v AS SELECT * FROM t'), 'SCHEMA_NOT_ALLOWED'],
    ['a virtual table', dir => userDb(join(dir, 'f.db'), 'CREATE VIRTUAL TABLE f USING fts5(body)'), 'SCHEMA_NOT_ALLOWED'],
    ['a generated column', dir => userDb(join(dir, 'g.db'), 'CREATE TABLE t (a, b GENERATED ALWAYS AS (a * 2))'), 'SCHEMA_NOT_ALLOWED'],
    ['a table name starting with _', dir => userDb(join(dir, 'u.db'), 'CREATE TABLE _mine (x)'), 'SCHEMA_NOT_ALLOWED'],
    ['a _height column', dir => userDb(join(dir, 'h.db'), 'CREATE TABLE t (_height INTEGER)'), 'SCHEMA_NOT_ALLOWED'],
    ['a _meta of the wrong shape', dir => userDb(join(dir, 'm.db'), 'CREATE TABLE _meta (k, v, extra)'), 'RESERVED_SCHEMA'],
    ['a _keys without its primary key', dir => userDb(join(dir, 'k.db'), 'CREATE TABLE _keys (op TEXT, pubkey_hash TEXT, pubkey TEXT, sigkey_hash TEXT, signature TEXT, metadata TEXT)'), 'RESERVED_SCHEMA'],
    ['a _keys row that is not a key operation', dir => userDb(join(dir, 'r.db'), "CREATE TABLE _keys (op TEXT NOT NULL, pubkey_hash TEXT NOT NULL, pubkey TEXT NOT NULL, sigkey_hash TEXT NOT NULL, signature TEXT NOT NULL, metadata TEXT, PRIMARY KEY (pubkey_hash, sigkey_hash)); INSERT INTO _keys VALUES ('A', 'x', 'y', 'z', 'w', NULL)"), 'KEYOP_MALFORMED']
  ]
  for (const [what, make, expected] of cases) {
    it(`${what} → ${expected}`, async () => {
      const dir = tmpDir()
      const src = make(dir)
      const before = await sha256File(src).catch(() => 'absent')
      const out = join(dir, 'out.db')
      expect(await code(buildBlock(opts({ source: src, output: out })))).toBe(expected)
      expect(await sha256File(src).catch(() => 'absent')).toBe(before)
    })
  }

  it('a file over the size limit → BLOCK_TOO_LARGE', async () => {
    const dir = tmpDir()
    const src = userDb(join(dir, 'big.db'), "CREATE TABLE t (x); WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 2000) INSERT INTO t SELECT randomblob(100) FROM c")
    expect(await code(buildBlock(opts({ source: src, output: join(dir, 'o.db'), maxBytes: 100_000 })))).toBe('BLOCK_TOO_LARGE')
  })
})

describe('reading untrusted files', () => {
  it('refuses a truncated file before SQLite opens it', async () => {
    const dir = tmpDir()
    const b = await buildBlock(opts({ source: userDb(join(dir, 'u.db'), 'CREATE TABLE t (x); INSERT INTO t VALUES (1)'), output: join(dir, 'b.db') }))
    const cut = join(dir, 'cut.db')
    copyFileSync(b.path, cut)
    const bytes = readFileSync(cut)
    writeFileSync(cut, bytes.subarray(0, bytes.length - 100))
    expect(await code(readBlockFile(cut, { maxBytes: MAX }))).toBe('CORRUPT')
  })

  it('checks tables of a few rows (hashed through SQLite) and larger ones (from the pages) alike: rows changed, added or stored with another type are refused', async () => {
    const dir = tmpDir()
    // 32 rows and fewer are hashed through SQLite in a small file; 33, or a file over 64 KiB, from the pages.
    for (const [i, n, pad] of [[0, 1, 0], [1, 32, 0], [2, 33, 0], [3, 2, 70_000]] as const) {
      const src = userDb(join(dir, `few${i}.db`), `CREATE TABLE t (id INTEGER PRIMARY KEY, x REAL, y); WITH RECURSIVE c(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM c WHERE k < ${n}) INSERT INTO t (x, y) SELECT k, k FROM c;` +
        (pad > 0 ? `CREATE TABLE z (b); INSERT INTO z VALUES (zeroblob(${pad}));` : ''))
      const b = await buildBlock(opts({ source: src, output: join(dir, `few${i}-block.db`) }))
      expect(await code(readBlockFile(b.path, { maxBytes: MAX })), `${n} rows`).toBe('OK')
      const tampered = (name: string, sql: string): string => {
        const p = join(dir, `few${i}-${name}.db`)
        copyFileSync(b.path, p)
        const db = new Database(p)
        db.exec(sql)
        db.close()
        return p
      }
      // x is REAL: SQLite stores its integral values as integers and reads them back as REAL, on both paths.
      for (const [name, sql, want] of [
        ['changed', 'UPDATE t SET y = y + 1 WHERE id = 1', 'MANIFEST_MISMATCH'],
        ['added', 'WITH RECURSIVE c(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM c WHERE k < 40) INSERT INTO t (x, y) SELECT k, k FROM c', 'MANIFEST_MISMATCH'],
        ['retyped', "UPDATE t SET y = CAST(y AS TEXT) WHERE id = 1", 'MANIFEST_MISMATCH'],
        ['same', 'UPDATE t SET x = x WHERE id = 1', 'OK']
      ] as const) {
        expect(await code(readBlockFile(tampered(name, sql), { maxBytes: MAX })), `${n} rows, ${name}`).toBe(want)
      }
    }
  })

  it('refuses a damaged record of a few-row table as it refuses one in a larger file, with or without quick_check first', async () => {
    const dir = tmpDir()
    // The same one-row table hashed through SQLite (small file) and from the pages (a file over 64 KiB).
    for (const pad of [0, 70_000]) {
      const src = userDb(join(dir, `rec${pad}.db`), "CREATE TABLE t (id INTEGER PRIMARY KEY, y); INSERT INTO t (y) VALUES ('abcdefgh');" +
        (pad > 0 ? `CREATE TABLE z (b); INSERT INTO z VALUES (zeroblob(${pad}));` : ''))
      const b = await buildBlock(opts({ source: src, output: join(dir, `rec${pad}-block.db`) }))
      const bytes = readFileSync(b.path)
      const at = bytes.indexOf(Buffer.from('abcdefgh'))
      expect(bytes[at - 1], 'the text\'s serial type precedes it').toBe(13 + 2 * 8)
      // A text longer than its cell and a reserved serial type are corrupt; an 8-byte integer where
      // the text was is a readable row that no longer hashes to the recorded root.
      for (const [serial, want] of [[0x7f, 'CORRUPT'], [10, 'CORRUPT'], [6, 'MANIFEST_MISMATCH']] as const) {
        const bad = Buffer.from(bytes)
        bad[at - 1] = serial
        const p = join(dir, `rec${pad}-${serial}.db`)
        writeFileSync(p, bad)
        for (const quickCheck of [true, false]) {
          expect(await code(readBlockFile(p, { maxBytes: MAX, quickCheck })), `pad ${pad}, serial ${serial}, quick_check ${String(quickCheck)}`).toBe(want)
        }
      }
    }
  })
})
