// A writer killed inside a rollback-journal transaction leaves a hot journal beside the file (what
// a kill -9 while pending.db or chain.db is being created leaves, before WAL mode is set). A
// read-only open must still read the file: openSqliteReadonly rolls the journal back first.
import Database from 'better-sqlite3'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { Ingest } from '../../../src/ingest/index.js'
import { openSqliteReadonly } from '../../../src/storage/index.js'
import { errorCode } from '../../../src/util/index.js'
import { fixtureKey, newTestChain } from '../../helpers/chain.js'
import { asRoot, otherUserCanRun, runAsOtherUserWith } from '../../helpers/other-user.js'
import { loaderFor, srcEntry } from '../../helpers/src-entry.js'
import { tmpDir } from '../../helpers/tmp.js'
import { waitFor } from '../../helpers/wait.js'

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
    // Nothing made beside it either (no -wal or -shm: the file was not switched to WAL mode).
    db.close()
    expect(readdirSync(dirname(file)).sort()).toEqual(['killed.db', 'killed.db.src'])
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

  it('leaves a live writer in another process alone: its transaction commits after the reader has read the last commit', async () => {
    const file = join(tmpDir(), 'live2.db')
    const setup = new Database(file)
    setup.exec('CREATE TABLE t (a); INSERT INTO t VALUES (1)')
    setup.close()
    // The writer: a transaction open with its journal beside the file, until told to commit.
    const writer = spawn(process.execPath, ['-e', `const db = new (require('better-sqlite3'))(process.argv[1])
      db.exec('BEGIN; INSERT INTO t VALUES (2)')
      console.log(require('node:fs').existsSync(process.argv[1] + '-journal') ? 'journal' : 'none')
      process.stdin.once('data', () => { db.exec('COMMIT'); console.log(db.prepare('SELECT count(*) AS n FROM t').get().n); db.close() })`, file], { cwd: process.cwd(), stdio: ['pipe', 'pipe', 'inherit'] })
    const lines: string[] = []
    writer.stdout.on('data', (d: Buffer) => { lines.push(...d.toString().trim().split('\n')) })
    const exited = once(writer, 'exit')
    await waitFor(() => lines.length > 0, { what: 'the writer to begin' })
    expect(lines[0]).toBe('journal')
    const reader = openSqliteReadonly(file)
    open.push(reader)
    expect(reader.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 1 })
    writer.stdin.end('commit\n')
    expect(await exited).toEqual([0, null])
    expect(lines[1]).toBe('2')
    expect(reader.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 2 })
  })

  it('a hot WAL is not a hot journal: read with the last commit, nothing rolled back or checkpointed (the file and its WAL keep their bytes)', () => {
    const file = join(tmpDir(), 'wal.db')
    const src = `${file}.src`
    const w = new Database(src)
    w.pragma('journal_mode = WAL')
    w.pragma('wal_autocheckpoint = 0')
    w.exec('CREATE TABLE t (a); INSERT INTO t VALUES (1), (2), (3)')
    // As a writer killed with its commits in the WAL leaves them (its -shm gone with the process).
    copyFileSync(src, file)
    copyFileSync(`${src}-wal`, `${file}-wal`)
    w.close()
    const before = [readFileSync(file), readFileSync(`${file}-wal`)]
    const db = openSqliteReadonly(file)
    expect(db.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 3 })
    db.close()
    expect([readFileSync(file), readFileSync(`${file}-wal`)]).toEqual(before)
    expect(existsSync(`${file}-journal`)).toBe(false)
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

  /** What `open` (an expression of `file`) says in a process of a user who cannot write: 'read N rows' or the error's code and hint. */
  const readAsOtherUser = (file: string, open = 'openSqliteReadonly(file)'): string => {
    // The suite's bundles of the two modules (each used alone), not src through tsx.
    const entries = [srcEntry('storage', 'index.ts'), srcEntry('query', 'sandbox', 'connection.ts')]
    const r = runAsOtherUserWith(loaderFor(...entries), `const { openSqliteReadonly } = await import(${JSON.stringify(entries[0])})
      const { openForQuery } = await import(${JSON.stringify(entries[1])})
      const file = process.argv[1]
      try { const db = ${open}; console.log('read ' + db.prepare('SELECT count(*) AS n FROM t').get().n + ' rows') }
      catch (e) { console.log(e.code + ': ' + e.hint) }`, file)
    expect(r.stderr).toBe('')
    return r.stdout
  }
  const WRITE_INTERRUPTED = 'WRITE_INTERRUPTED: run the command again as a user who can write the data directory: opening the file then rolls the interrupted write back'

  it.skipIf(!otherUserCanRun)('a user who cannot write the directory gets WRITE_INTERRUPTED and its hint, even where the file itself is writable; a writer then reads the last commit', () => {
    const base = tmpDir()
    chmodSync(base, 0o755)
    const notMine = join(base, 'not-mine')
    const dirOnly = join(base, 'dir-only')
    for (const dir of [notMine, dirOnly]) { mkdirSync(dir); killedMidTransaction(join(dir, 'x.db'), 3) }
    // The file and its journal cannot be written either.
    for (const f of ['x.db', 'x.db-journal']) chmodSync(join(notMine, f), 0o444)
    // The file and its journal can be written, the directory not (the journal cannot be deleted:
    // SQLite writes the file back, then fails with SQLITE_IOERR_DELETE, a "disk I/O error").
    for (const f of ['x.db', 'x.db-journal']) chmodSync(join(dirOnly, f), 0o666)
    try {
      for (const dir of [notMine, dirOnly]) chmodSync(dir, asRoot ? 0o755 : 0o555)
      for (const dir of [notMine, dirOnly]) expect(readAsOtherUser(join(dir, 'x.db')), dir).toBe(WRITE_INTERRUPTED)
      // The query sandbox's connection says so too (its MIRROR_UNAVAILABLE hint, to sync the mirror once, cannot help).
      expect(readAsOtherUser(join(notMine, 'x.db'), "openForQuery(file, 'the query mirror')")).toBe(WRITE_INTERRUPTED)
    } finally {
      for (const dir of [notMine, dirOnly]) chmodSync(dir, 0o755)
    }
    // The journal stayed hot where it could not be deleted: the next writer rolls back again.
    for (const dir of [notMine, dirOnly]) {
      expect(existsSync(join(dir, 'x.db-journal'))).toBe(true)
      const db = openSqliteReadonly(join(dir, 'x.db'))
      open.push(db)
      expect(db.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 3 })
    }
  })
})
