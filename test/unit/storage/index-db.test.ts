import { describe, expect, it } from 'vitest'
import Database from 'better-sqlite3'
import { spawn, spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { IndexDb, type BlockRecord } from '../../../src/storage/index.js'
import { SCHEMA_VERSION } from '../../../src/storage/index-records.js'
import { isPetalError } from '../../../src/util/index.js'
import { loaderFor, srcEntry } from '../../helpers/src-entry.js'
import { tmpDir } from '../../helpers/tmp.js'

function codeOf (fn: () => unknown): string {
  try { fn(); return 'OK' } catch (err) { if (isPetalError(err)) return err.code; throw err }
}

describe('chain.db', () => {
  it('a locked index is INDEX_BUSY, never INDEX_CORRUPT (which `petal reindex` would replace)', () => {
    const path = join(tmpDir(), 'chain.db')
    const holder = new Database(path)
    holder.exec('BEGIN EXCLUSIVE')
    try {
      // Without a wait (a reader's quiet repair): its open's 5 s busy wait would end the same way.
      expect(codeOf(() => IndexDb.open(path, { wait: false }))).toBe('INDEX_BUSY')
    } finally {
      holder.close()
    }
    IndexDb.open(path).close()
  })

  it('an open waits for a lock that is let go within its wait (a crashed writer\'s WAL recovered)', async () => {
    const path = join(tmpDir(), 'chain.db')
    // Another process holds the lock and lets it go 300 ms after saying so: the open, made then,
    // succeeds once it is free instead of failing at once.
    const child = spawn(process.execPath, ['--input-type=module', '-e', `import Database from 'better-sqlite3'
      const db = new Database(${JSON.stringify(path)}); db.exec('BEGIN EXCLUSIVE'); console.log('held')
      setTimeout(() => { db.close(); process.exit(0) }, 300)`], { stdio: ['ignore', 'pipe', 'inherit'] })
    const exited = new Promise(resolve => child.on('close', resolve))
    await new Promise<void>(resolve => { child.stdout.on('data', (d: Buffer) => { if (d.toString().includes('held')) resolve() }) })
    try {
      expect(codeOf(() => IndexDb.open(path, { wait: false }))).toBe('INDEX_BUSY')
      expect(codeOf(() => IndexDb.open(path).close())).toBe('OK')
    } finally {
      await exited
    }
  })

  it('a new index killed (-9) while its tables are made opens cleanly next time, with its schema version', () => {
    // The process that makes chain.db is killed right after the tables are created, before the
    // schema version is written: made in one transaction, nothing of it is left; committed one
    // statement at a time, the next open found the tables, skipped them and refused the file
    // ("schema version missing": INDEX_CORRUPT, for a directory nothing was ever written to).
    const path = join(tmpDir(), 'chain.db')
    const src = pathToFileURL(srcEntry('storage', 'index.ts')).href
    const child = `import Database from 'better-sqlite3'
      const exec = Database.prototype.exec
      Database.prototype.exec = function (sql) {
        const r = exec.call(this, sql)
        if (sql.includes('CREATE TABLE IF NOT EXISTS checkpoints')) process.kill(process.pid, 'SIGKILL')
        return r
      }
      const { IndexDb } = await import(${JSON.stringify(src)})
      IndexDb.open(${JSON.stringify(path)})`
    const r = spawnSync(process.execPath, [...loaderFor(src), '--input-type=module', '-e', child], { encoding: 'utf8', timeout: 30_000 })
    expect(r.signal, r.stderr).toBe('SIGKILL')
    const db = IndexDb.open(path)
    try {
      expect(db.getMeta('schema_version')).toBe(SCHEMA_VERSION)
    } finally {
      db.close()
    }
  })

  it('opening an existing index, for reading or writing, takes no lock a writer holds', async () => {
    const path = join(tmpDir(), 'chain.db')
    const writer = IndexDb.open(path)
    let during: string[] = []
    await writer.withWriteLock(async () => {
      writer.setMeta('x', '1')
      during = [codeOf(() => IndexDb.open(path, { readonly: true }).close()), codeOf(() => IndexDb.open(path).close())]
    })
    expect(during).toEqual(['OK', 'OK'])
    writer.close()
  })

  // Each index of chain.db is written for every block placed; one keyed by a hash is a write at a
  // random page per block (docs/performance/catchup.md, "Session 25: catch-up").
  const indexesOf = (path: string): string[] => {
    const db = new Database(path, { readonly: true })
    try {
      return db.prepare<[], string>("SELECT name FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL ORDER BY name").pluck().all()
    } finally {
      db.close()
    }
  }

  it('a new index has only the indexes its statements read (none on parent; the one on names is latestTable\'s)', () => {
    const path = join(tmpDir(), 'chain.db')
    IndexDb.open(path).close()
    expect(indexesOf(path)).toEqual(['block_tables_latest', 'blocks_canonical_height', 'blocks_hkey', 'blocks_side', 'checkpoints_size'])
  })

  it('clearing an index written before (reindex) drops the indexes nothing reads', async () => {
    const path = join(tmpDir(), 'chain.db')
    IndexDb.open(path).close()
    const old = new Database(path)
    old.exec('CREATE INDEX blocks_parent ON blocks(parent); CREATE INDEX block_tables_name ON block_tables(name);')
    old.close()
    const index = IndexDb.open(path)
    await index.withWriteLock(async () => { index.clear() })
    index.close()
    expect(indexesOf(path)).toEqual(['block_tables_latest', 'blocks_canonical_height', 'blocks_hkey', 'blocks_side', 'checkpoints_size'])
  })

  const record = (i: number, canonical: boolean): BlockRecord => ({
    hash: i.toString(16).padStart(64, '0'), height: i, parent: (i - 1).toString(16).padStart(64, '0'), canonical, version: 2, signer: '1:' + 'ab'.repeat(32),
    timestamp: '2026-12-04T05:00:00Z', rowsRoot: 'cd'.repeat(32), prevSig: '30', seal: '30', size: 4096, keyOpCount: 0, receivedAt: 0
  })

  it('a new index keeps blocks and their tables in the order they were placed (block_tables keyed by blocks.id)', async () => {
    const path = join(tmpDir(), 'chain.db')
    const index = IndexDb.open(path)
    // Hashes in descending order: a table keyed by hash would hold these rows the other way round.
    await index.withWriteLock(async () => { for (let i = 1; i <= 5; i++) index.insertBlock({ ...record(i, true), hash: (100 - i).toString(16).padStart(64, '0') }, [{ name: 't', sql: 'CREATE TABLE t (a)', rows: 1, root: 'ef'.repeat(32) }], []) })
    index.close()
    const db = new Database(path, { readonly: true })
    expect(db.prepare('SELECT height FROM blocks ORDER BY id').pluck().all()).toEqual([1, 2, 3, 4, 5])
    expect(db.prepare('SELECT block FROM block_tables').pluck().all()).toEqual([1, 2, 3, 4, 5])
    // Its one index (block_tables_latest) by name, then block: a name's entries in placement order too.
    expect(db.prepare("SELECT name FROM sqlite_schema WHERE tbl_name = 'block_tables' AND type = 'index' AND sql IS NOT NULL").pluck().all()).toEqual(['block_tables_latest'])
    expect(db.prepare('SELECT block FROM block_tables INDEXED BY block_tables_latest WHERE name = ? COLLATE NOCASE').pluck().all('T')).toEqual([1, 2, 3, 4, 5])
    db.close()
  })

  // Another file's read-only refusal inside a write transaction (a signimportblock source whose hot
  // journal cannot be rolled back) passes as it is: 1d887faf said it as "the disk refused to open
  // chain.db-wal for writing", IO_ERROR, of a chain.db this user may write (88d35c47; review56b).
  it('a read-only refusal thrown inside a write transaction by another file is not said as chain.db\'s', async () => {
    const index = IndexDb.open(join(tmpDir(), 'chain.db'))
    try {
      const other = Object.assign(new Error('attempt to write a readonly database'), { code: 'SQLITE_READONLY_ROLLBACK' })
      await expect(index.withWriteLock(async () => { throw other })).rejects.toBe(other)
    } finally {
      index.close()
    }
  })
})
