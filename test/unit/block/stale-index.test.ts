// quick_check does not compare an index's content with its table's: a hostile block can carry an
// index that lists other rows than its table (here made stale with writable_schema, every page
// still in use, so quick_check passes). SQLite then answers from whichever b-tree its plan picks.
// What a block commits to must not depend on that: the manifest's rows (fast path from the pages,
// reference path through SQLite) are the table b-tree's, and the reserved tables must agree with
// their indexes, or import (SQLite, through the index) and plain verify/reindex (the pages) would
// see different key operations.
import { describe, expect, it } from 'vitest'
import Database from 'better-sqlite3'
import { join } from 'node:path'
import { buildBlock, inspectSchema, openBlockReadonly, readBlockFile, readBlockPages, signKeyOp, tableRoot, type KeyOpRow } from '../../../src/block/index.js'
import { fastTableRoot, planFastTable } from '../../../src/block/fast-rows.js'
import { isPetalError, toHex } from '../../../src/util/index.js'
import { fixtureKey } from '../../helpers/chain.js'
import { tmpDir } from '../../helpers/tmp.js'

const MAX = 1 << 26

/**
 * Run `change` on `path` while index `index` is out of the schema, so SQLite does not maintain it;
 * then put the index back exactly as it was (same root page, same SQL).
 */
function staleIndex (path: string, index: string, change: (db: Database.Database) => void): void {
  let db = new Database(path)
  // better-sqlite3 opens in SQLite's defensive mode, which forbids writing sqlite_schema.
  db.unsafeMode(true)
  const row = db.prepare<[string], { type: string, name: string, tbl_name: string, rootpage: number, sql: string | null }>('SELECT * FROM sqlite_schema WHERE name = ?').get(index)
  if (row === undefined) throw new Error(`no index ${index}`)
  const table = db.prepare<[string], string>('SELECT sql FROM sqlite_schema WHERE name = ?').pluck().get(row.tbl_name)
  db.pragma('writable_schema = ON')
  db.prepare('DELETE FROM sqlite_schema WHERE name = ?').run(index)
  // An automatic index (a PRIMARY KEY's) cannot be left out while its table declares the key.
  if (row.sql === null) db.prepare('UPDATE sqlite_schema SET sql = ? WHERE name = ?').run(table?.replace(/, PRIMARY KEY \([^)]*\)\)$/, ')'), row.tbl_name)
  db.close()
  db = new Database(path)
  db.unsafeMode(true)
  change(db)
  db.pragma('writable_schema = ON')
  db.prepare('INSERT INTO sqlite_schema VALUES (?, ?, ?, ?, ?)').run(row.type, row.name, row.tbl_name, row.rootpage, row.sql)
  db.prepare('UPDATE sqlite_schema SET sql = ? WHERE name = ?').run(table, row.tbl_name)
  db.close()
  const check = new Database(path, { readonly: true })
  expect(check.pragma('quick_check', { simple: true })).toBe('ok')
  expect(check.pragma('integrity_check', { simple: true })).not.toBe('ok')
  check.close()
}

async function code (p: Promise<unknown>): Promise<string> {
  try { await p; return 'OK' } catch (err) { if (isPetalError(err)) return err.code; throw err }
}

describe('a block whose index disagrees with its table', () => {
  it('commits to the table b-tree, on both manifest paths, whatever plan SQLite would pick (a covering index of a WITHOUT ROWID table)', () => {
    const dir = tmpDir()
    const make = (path: string, index: boolean, rows: string): void => {
      const db = new Database(path)
      db.exec(`CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT) WITHOUT ROWID; ${index ? 'CREATE INDEX ti ON t (a, b);' : ''} INSERT INTO t VALUES ${rows}`)
      db.close()
    }
    const path = join(dir, 'wr.db')
    make(path, true, "(1, 'one'), (2, 'two'), (3, 'three')")
    staleIndex(path, 'ti', d => d.exec("UPDATE t SET b = 'evil' WHERE a = 2"))
    // What the table holds, in a file without the index.
    const clean = join(dir, 'clean.db')
    make(clean, false, "(1, 'one'), (2, 'evil'), (3, 'three')")
    const rootOf = (file: string): { rows: number, root: string, fast: { rows: number, root: string } | undefined } => {
      const db = openBlockReadonly(file)
      try {
        const [t] = inspectSchema(db, 'input').userTables
        if (t === undefined) throw new Error('no table')
        const plan = planFastTable(db, t)
        const fast = plan === undefined ? undefined : fastTableRoot(file, plan)
        return { ...tableRoot(db, t), fast: fast === undefined ? undefined : { rows: fast.rows, root: toHex(fast.root) } }
      } finally {
        db.close()
      }
    }
    const ro = openBlockReadonly(path)
    // The hostile state: SQLite's own plan for the canonical order reads the stale covering index.
    expect(ro.prepare('SELECT b FROM t ORDER BY a').pluck().all()).toEqual(['one', 'two', 'three'])
    ro.close()
    const want = rootOf(clean)
    expect(rootOf(path)).toEqual({ rows: 3, root: want.root, fast: { rows: 3, root: want.root } })
  })

  it('refuses a block whose _keys rows are not all in its key index: import would read other key operations than plain verify and reindex', async () => {
    const dir = tmpDir()
    const alice = fixtureKey('alice')
    const chainId = 'aa'.repeat(32)
    const op = (target: 'bob' | 'carol'): KeyOpRow => signKeyOp(alice, chainId, 'A', fixtureKey(target).publicKey)
    const b = await buildBlock({ output: join(dir, 'k.db'), key: alice, chainId, height: 3, previousHash: 'bb'.repeat(32), timestamp: '2026-03-01T10:00:00.000Z', maxBytes: MAX, keyOps: [op('bob')] })
    expect((await readBlockFile(b.path, { maxBytes: MAX })).keyOps).toHaveLength(1)
    // The table row now names another signer; the index still names alice (as many entries as
    // rows, so quick_check passes).
    const erin = fixtureKey('erin')
    staleIndex(b.path, 'sqlite_autoindex__keys_1', d => { d.prepare('UPDATE _keys SET sigkey_hash = ?').run(erin.id) })
    expect(readBlockPages(b.path, MAX)?.keyOps.map(k => k.signer)).toEqual([erin.id])
    expect(await code(readBlockFile(b.path, { maxBytes: MAX }))).toBe('CORRUPT')
  })

  it('gives the code and message of the checks one by one, in their order, where the whole-file integrity_check refuses a block', async () => {
    const dir = tmpDir()
    const alice = fixtureKey('alice')
    const chainId = 'aa'.repeat(32)
    const b = await buildBlock({ output: join(dir, 'k.db'), key: alice, chainId, height: 3, previousHash: 'bb'.repeat(32), timestamp: '2026-03-01T10:00:00.000Z', maxBytes: MAX, keyOps: [signKeyOp(alice, chainId, 'A', fixtureKey('bob').publicKey)] })
    staleIndex(b.path, 'sqlite_autoindex__keys_1', d => { d.prepare('UPDATE _keys SET sigkey_hash = ?').run(fixtureKey('erin').id) })
    const refusal = async (path: string): Promise<unknown> => await readBlockFile(path, { maxBytes: MAX }).then(() => 'OK', (err: unknown) => isPetalError(err) ? { code: err.code, message: err.message } : err)
    expect(await refusal(b.path)).toEqual({ code: 'CORRUPT', message: expect.stringMatching(/^SQLite integrity_check of _keys failed: /) })
    // A trigger as well: the schema's checks come before the reserved tables' integrity_checks.
    const db = new Database(b.path)
    db.exec('CREATE TRIGGER g AFTER INSERT ON _meta BEGIN SELECT 1; END')
    db.close()
    expect(await refusal(b.path)).toEqual({ code: 'SCHEMA_NOT_ALLOWED', message: 'triggers are not allowed in a block (trigger "g")' })
  })

  it('accepts, as quick_check does, a block whose user table disagrees with its own index (integrity_check would not)', async () => {
    const dir = tmpDir()
    const src = join(dir, 'u.db')
    const u = new Database(src)
    u.exec("CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT); CREATE INDEX tb ON t (b); INSERT INTO t VALUES (1, 'one'), (2, 'two')")
    u.close()
    const b = await buildBlock({ source: src, output: join(dir, 'b.db'), key: fixtureKey('alice'), chainId: 'aa'.repeat(32), height: 3, previousHash: 'bb'.repeat(32), timestamp: '2026-03-01T10:00:00.000Z', maxBytes: MAX })
    staleIndex(b.path, 'tb', d => { d.prepare("UPDATE t SET b = 'evil' WHERE a = 2").run() })
    // The rows changed, so the manifest no longer matches them: the structural checks alone.
    expect((await readBlockFile(b.path, { maxBytes: MAX, checkManifest: false })).userTables.map(t => t.name)).toEqual(['t'])
  })
})
