// chain.db of schema version 1 under a writer of version 2: the move waits for the write lock as
// every write does (the command's --wait, not SQLite's fixed 5 s at the open), takes it after
// writer.json names the mover, and a rebuild (reindex) does not move what it is about to empty
// (docs/data-directory.md, "chain.db"; index46's leads).
import { describe, expect, it } from 'vitest'
import Database from 'better-sqlite3'
import { spawn } from 'node:child_process'
import { existsSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { IndexDb, showIndexMoves, StorageError, type BlockRecord } from '../../../src/storage/index.js'
import type { WriterRecord } from '../../../src/storage/writer-record.js'
import { reindexChain } from '../../../src/chain/index.js'
import { isPetalError } from '../../../src/util/index.js'
import { extendChain, newTestChain } from '../../helpers/chain.js'
import { blocksDump, rewriteAsVersion1, rewriteAsVersion2 } from '../../helpers/index-v1.js'
import { loaderFor, srcEntry } from '../../helpers/src-entry.js'
import { tmpDir } from '../../helpers/tmp.js'
import { waitFor } from '../../helpers/wait.js'

const hex = (n: number): string => n.toString(16).padStart(64, '0')
const record = (i: number): BlockRecord => ({
  hash: hex(i + 1), height: i, parent: hex(i), canonical: true, version: 2, signer: '1:' + 'ab'.repeat(32),
  timestamp: '2026-12-06T21:00:00Z', rowsRoot: 'cd'.repeat(32), prevSig: '30', seal: '30', size: 4096, keyOpCount: 0, receivedAt: 0
})

/** chain.db of version 1 with `n` blocks, each with a table. */
async function version1 (n = 20): Promise<string> {
  const path = join(tmpDir(), 'chain.db')
  const index = IndexDb.open(path)
  await index.withWriteLock(async () => { for (let i = 0; i < n; i++) index.insertBlock(record(i), [{ name: 't', sql: 'CREATE TABLE t (a)', rows: i, root: hex(i) }], []) })
  index.close()
  rewriteAsVersion1(path)
  return path
}

/** Another connection holding chain.db's write lock (BEGIN IMMEDIATE), as a writer of another process does. */
function holdLock (path: string): Database.Database {
  const db = new Database(path)
  db.exec('BEGIN IMMEDIATE')
  return db
}

const codeOf = async (p: Promise<unknown>): Promise<string> => await p.then(() => 'ok', (err: unknown) => isPetalError(err) ? err.code : String(err))

describe('the move of chain.db from schema version 1', () => {
  it('waits for a held write lock as long as the write\'s --wait says: given up at once with --wait 0, waited for past 5 s without (before: SQLite\'s 5 s at the open, on the thread)', async () => {
    const path = await version1()
    const holder = holdLock(path)
    const writer = IndexDb.open(path)
    try {
      // Shorter than 5 s: LOCK_TIMEOUT, as any write (before: the open blocked the thread 5 s and threw INDEX_BUSY).
      expect(await codeOf(writer.withWriteLock(async () => {}, { timeoutMs: 0 }))).toBe('LOCK_TIMEOUT')
      expect(await codeOf(writer.withWriteLock(async () => {}, { timeoutMs: 50 }))).toBe('LOCK_TIMEOUT')
      expect(blocksDump(path).version).toBe('1')
      expect(writer.tablesOf(hex(3))).toEqual([{ name: 't', sql: 'CREATE TABLE t (a)', rows: 2, root: hex(2) }])
      // Longer (no --wait: until the holder is done): the holder, on this thread, lets go only once
      // the writer waits, which the open's busy wait never let it do.
      let waited = 0
      const placed = writer.withWriteLock(async () => { writer.insertBlock(record(20), [], []) }, { onWait: () => { waited++; holder.exec('COMMIT') } })
      expect(await codeOf(placed)).toBe('ok')
      expect(waited).toBe(1)
      expect(blocksDump(path).version).toBe('3')
      expect(writer.tablesOf(hex(3))).toEqual([{ name: 't', sql: 'CREATE TABLE t (a)', rows: 2, root: hex(2) }])
      expect(writer.byHeight(20)?.hash).toBe(hex(21))
    } finally {
      writer.close()
      holder.close()
    }
  })

  it('a write that fails after the move rolls it back with itself: the writer reads version 1 again and the next write moves it', async () => {
    const path = await version1()
    const writer = IndexDb.open(path)
    try {
      expect(await codeOf(writer.withWriteLock(async () => { throw new StorageError('IO_ERROR', 'failed') }))).toBe('IO_ERROR')
      expect(blocksDump(path).version).toBe('1')
      expect(writer.tablesOf(hex(3))).toHaveLength(1)
      await writer.withWriteLock(async () => {})
      expect(blocksDump(path).version).toBe('3')
      expect(writer.tablesOf(hex(3))).toHaveLength(1)
    } finally {
      writer.close()
    }
  })

  it('names the mover in writer.json while it moves: a write of another process that finds the lock held names it (before: "another process (it has not said which)")', async () => {
    const path = await version1(200)
    const pause = join(tmpDir(), 'pause')
    const src = pathToFileURL(srcEntry('storage', 'index.ts')).href
    const code = `const { IndexDb } = await import(${JSON.stringify(src)}); const i = IndexDb.open(${JSON.stringify(path)}); await i.withWriteLock(async () => {}, { work: 'import block 7' }); i.close()`
    const child = spawn(process.execPath, [...loaderFor(src), '--input-type=module', '-e', code], { env: { ...process.env, PETAL_PAUSE: 'index-migrate:copied', PETAL_PAUSE_FILE: pause }, stdio: 'ignore' })
    const exited = new Promise<number | null>(resolve => child.on('exit', resolve))
    let writer: IndexDb | undefined
    try {
      await waitFor(() => existsSync(pause), { what: 'the mover to hold inside its move' })
      const err = await (async () => { writer = IndexDb.open(path); await writer.withWriteLock(async () => {}, { timeoutMs: 0 }) })().then(() => undefined, (e: unknown) => e)
      expect(err).toBeInstanceOf(StorageError)
      expect((err as StorageError).code).toBe('LOCK_TIMEOUT')
      expect((err as StorageError).message).toContain(`waiting for pid ${child.pid ?? 0} (import block 7, since`)
      expect((err as StorageError).details).toMatchObject({ holder: { pid: child.pid, work: 'import block 7' } })
      // A write that waits is told of it, and goes on once the move has committed.
      const told: Array<WriterRecord | undefined> = []
      const w = writer as unknown as IndexDb
      const placed = w.withWriteLock(async () => { w.insertBlock(record(200), [], []) }, { onWait: h => { told.push(h); rmSync(pause, { force: true }) } })
      expect(await codeOf(placed)).toBe('ok')
      expect(told[0]).toMatchObject({ pid: child.pid, work: 'import block 7' })
      expect(await exited).toBe(0)
      expect(blocksDump(path).version).toBe('3')
      expect(w.byHeight(200)?.hash).toBe(hex(201))
      expect(existsSync(join(path, '..', 'writer.json'))).toBe(false)
    } finally {
      rmSync(pause, { force: true })
      child.kill('SIGKILL')
      writer?.close()
    }
  })
})

describe('petal reindex of chain.db of an older schema version', () => {
  for (const older of ['1', '2']) it(`remakes the tables of version ${older} empty in the rebuild's transaction instead of moving them first (no move shown), and rebuilds every block`, async () => {
    const { chain, key, dir } = await newTestChain()
    await extendChain(chain, key, 6)
    const expected = blocksDump(chain.dir.chainDb)
    chain.close()
    if (older === '1') rewriteAsVersion1(join(dir, 'chain.db'), true); else rewriteAsVersion2(join(dir, 'chain.db'))
    expect(blocksDump(join(dir, 'chain.db')).version).toBe(older)
    const moves: string[] = []
    showIndexMoves(() => ({ update: p => moves.push(p.phase ?? ''), end: () => moves.push('end') }))
    try {
      const r = await reindexChain(dir)
      expect(r.tipHeight).toBe(6)
    } finally {
      showIndexMoves(undefined)
    }
    expect(moves).toEqual([])
    expect(blocksDump(join(dir, 'chain.db'))).toEqual({ ...expected, version: '3' })
    const db = new Database(join(dir, 'chain.db'), { readonly: true })
    // The new layout whole, the unused indexes of the WITHOUT ROWID layout gone with its tables.
    expect(db.prepare("SELECT name FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL ORDER BY name").pluck().all()).toEqual(['block_tables_latest', 'blocks_canonical_height', 'blocks_hkey', 'blocks_side', 'checkpoints_size'])
    db.close()
  })
})
