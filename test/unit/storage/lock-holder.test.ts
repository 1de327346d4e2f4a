// Who holds chain.db's write lock, for a writer that finds it held: writer.json's record, else the
// process the kernel lists as the holder of SQLite's write lock (readLockHolder). A writer takes
// the lock first and writes its record right after, so a `--wait 0` whose one look fell between the
// two named nobody (index47's finding); so did one at a holder that writes no record.
import { describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { IndexDb, StorageError } from '../../../src/storage/index.js'
import { loaderFor, srcEntry } from '../../helpers/src-entry.js'
import { tmpDir } from '../../helpers/tmp.js'
import { waitFor } from '../../helpers/wait.js'

const src = pathToFileURL(srcEntry('storage', 'index.ts')).href

/** A write of this process with --wait 0 on `path`: the error it fails with. */
async function lookOnce (path: string): Promise<StorageError> {
  const writer = IndexDb.open(path)
  try {
    const err = await writer.withWriteLock(async () => {}, { timeoutMs: 0 }).then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(StorageError)
    return err as StorageError
  } finally {
    writer.close()
  }
}

/** A child process running `code` (ES module) that holds chain.db's write lock until `pause` is removed. */
async function holder (code: string, pause: string, env: Record<string, string> = {}): Promise<{ pid: number, done: Promise<number | null> }> {
  const child = spawn(process.execPath, [...loaderFor(src), '--input-type=module', '-e', code], { env: { ...process.env, PETAL_PAUSE_FILE: pause, ...env }, stdio: 'ignore' })
  const done = new Promise<number | null>(resolve => child.on('exit', resolve))
  // Until the pid is in it: writeFileSync creates the file before it writes (the lead's CI read "").
  await waitFor(() => existsSync(pause) && readFileSync(pause, 'utf8') !== '', { what: 'the child to hold the write lock' })
  expect(Number(readFileSync(pause, 'utf8'))).toBe(child.pid)
  return { pid: child.pid ?? 0, done }
}

describe('a writer that finds chain.db\'s write lock held', () => {
  it('names a holder between its lock and its writer.json (a --wait 0 look in that window) by its pid and command line (before: "another process (it has not said which)")', async () => {
    const path = join(tmpDir(), 'chain.db')
    IndexDb.open(path).close()
    const pause = join(tmpDir(), 'pause')
    const code = `const { IndexDb } = await import(${JSON.stringify(src)}); const i = IndexDb.open(${JSON.stringify(path)}); await i.withWriteLock(async () => {}, { work: 'import block 7' }); i.close()`
    const h = await holder(code, pause, { PETAL_PAUSE: 'index-lock:taken' })
    try {
      expect(existsSync(join(path, '..', 'writer.json'))).toBe(false)
      const err = await lookOnce(path)
      expect(err.code).toBe('LOCK_TIMEOUT')
      expect(err.message).toContain(`waiting for pid ${h.pid} (\``)
      expect(err.message).toContain('--input-type=module -e const { IndexDb }')
      expect(err.message).toContain('which has not said what it writes)')
      expect(err.details).toMatchObject({ holder: { pid: h.pid } })
      rmSync(pause)
      expect(await h.done).toBe(0)
    } finally {
      rmSync(pause, { force: true })
    }
  })

  it('names a holder that writes no record (the sqlite3 shell, a Petal before session 47 moving an index at its open) by its pid', async () => {
    const path = join(tmpDir(), 'chain.db')
    IndexDb.open(path).close()
    const pause = join(tmpDir(), 'pause')
    const code = `const { default: Database } = await import('better-sqlite3'); const { writeFileSync, existsSync } = await import('node:fs')
      const db = new Database(${JSON.stringify(path)}); db.exec('BEGIN IMMEDIATE'); writeFileSync(${JSON.stringify(pause)}, String(process.pid))
      while (existsSync(${JSON.stringify(pause)})) await new Promise(r => setTimeout(r, 20)); db.exec('COMMIT'); db.close()`
    const h = await holder(code, pause)
    try {
      const err = await lookOnce(path)
      expect(err.code).toBe('LOCK_TIMEOUT')
      expect(err.message).toContain(`waiting for pid ${h.pid} (\``)
      expect(err.details).toMatchObject({ holder: { pid: h.pid } })
      rmSync(pause)
      expect(await h.done).toBe(0)
    } finally {
      rmSync(pause, { force: true })
    }
  })

  it('names this process when another of its connections holds it (before: "another process (it has not said which)")', async () => {
    const path = join(tmpDir(), 'chain.db')
    const holding = IndexDb.open(path)
    let release = (): void => {}
    const held = new Promise<void>(resolve => { release = resolve })
    const writing = holding.withWriteLock(async () => { await held }, { work: 'import block 9' })
    try {
      await waitFor(() => existsSync(join(path, '..', 'writer.json')), { what: 'the first connection to hold the lock' })
      const err = await lookOnce(path)
      expect(err.code).toBe('LOCK_TIMEOUT')
      expect(err.message).toContain(`waiting for pid ${process.pid} (this process itself, through another of its connections to chain.db)`)
    } finally {
      release()
      await writing
      holding.close()
    }
  })
})
