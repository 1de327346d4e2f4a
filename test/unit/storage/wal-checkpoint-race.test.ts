import { describe, expect, it } from 'vitest'
import Database from 'better-sqlite3'
import { spawn } from 'node:child_process'
import { existsSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { nativeWalIndexBuilt } from '../../helpers/native-build.js'
import { tmpDir } from '../../helpers/tmp.js'
import { waitFor } from '../../helpers/wait.js'
import { readableCommits } from '../../../src/storage/wal-frames.js'
import { loseFrame } from '../../helpers/wal-db.js'

/**
 * wal39's leftover: Petal's checkpoint (wal-checkpoint.ts) read the log under SQLite's write lock,
 * let the lock go, then copied. A commit of another process made in between, whose own write the
 * disk then lost (its fsync failing), was copied unchecked: pending.db read malformed. Now the
 * lock is held from the check to the end of the copy, and the close's TRUNCATE, which runs after
 * it is let go, copies nothing past the checked frames. A child process (the built dist/, as
 * SQLite's extension is) writes 5 MB into pending.db and closes it, paused after its check
 * (PETAL_PAUSE); meanwhile this process commits a row, and loses its frame behind SQLite.
 */

const DIST = join(import.meta.dirname, '..', '..', '..', 'dist')

const CHILD = `
  ;(async () => {
    const { PendingStore } = await import(${JSON.stringify(join(DIST, 'ingest', 'store.js'))})
    const store = PendingStore.open(process.argv[1])
    await store.write(() => store.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run('big', 'y'.repeat(5_000_000)))
    store.close()
  })()`

// The re-write after a failed fsync (rewriteLog), on a database of its own: the same window.
const REWRITE = `
  const Database = require('better-sqlite3')
  ;(async () => {
    const { rewriteLog } = await import(${JSON.stringify(join(DIST, 'storage', 'index.js'))})
    const db = new Database(process.argv[1])
    db.pragma('journal_mode = WAL'); db.pragma('wal_autocheckpoint = 0'); db.pragma('synchronous = FULL')
    db.exec('CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)')
    db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run('big', 'y'.repeat(100_000))
    if (rewriteLog(db, 0) !== true) throw new Error('not re-written')
    db.close()
  })()`

/** Another writer's commit while the child is paused: true when made (and then its frame lost), false when the write lock was held. */
function commitAndLose (path: string): boolean {
  const db = new Database(path, { timeout: 0 })
  try {
    db.pragma('wal_autocheckpoint = 0') // this connection's own checkpoint would copy the frame before its loss
    db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run('x', 'lost')
  } catch (err) {
    if ((err as { code?: string }).code === 'SQLITE_BUSY') return false
    throw err
  } finally {
    db.close()
  }
  // Its commit frame: the log's last valid one (frame 1 when the commit restarted a copied log).
  loseFrame(path, readableCommits(`${path}-wal`, Number.MAX_SAFE_INTEGER))
  return true
}

/** Run the child, paused at `point` each time it passes it; at its first pause, commitAndLose. */
async function race (point: string, child = CHILD): Promise<{ committed: boolean, check: string, keys: string[] }> {
  const path = join(tmpDir(), 'pending.db')
  const pause = join(tmpDir(), 'pause')
  const proc = spawn(process.execPath, ['-e', child, path], { env: { ...process.env, PETAL_PAUSE: point, PETAL_PAUSE_FILE: pause }, stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  proc.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const exited = new Promise<number | null>(resolve => proc.on('exit', resolve))
  let code: number | null | undefined
  void exited.then(c => { code = c })
  let committed: boolean | undefined
  for (;;) {
    await waitFor(() => existsSync(pause) || code !== undefined, { what: `the child at ${point}`, timeout: 60_000 })
    if (!existsSync(pause)) break
    committed ??= commitAndLose(path)
    rmSync(pause)
  }
  expect(code, stderr).toBe(0)
  const db = new Database(path, { readonly: true })
  try {
    return { committed: committed ?? false, check: String(db.pragma('quick_check', { simple: true })), keys: db.prepare("SELECT key FROM meta WHERE key IN ('big', 'x') ORDER BY key").pluck().all() as string[] }
  } finally {
    db.close()
  }
}

describe.runIf(nativeWalIndexBuilt())('no commit is copied unchecked between the checkpoint\'s check and its copy', () => {
  it('after the check the write lock is still held: the other writer cannot commit (failed on the old code: it did, its lost frame was copied, and pending.db read "database disk image is malformed")', async () => {
    const r = await race('wal:checkpoint-checked')
    expect(r).toEqual({ committed: false, check: 'ok', keys: ['big'] })
  }, 90_000)

  it('the close\'s TRUNCATE, once the lock is let go, copies no commit made since: the log stays and recovery drops the lost one', async () => {
    const r = await race('wal:checkpoint-truncate')
    expect(r).toEqual({ committed: true, check: 'ok', keys: ['big'] })
  }, 90_000)

  it('the re-write of a log whose fsync failed (rewriteLog) holds the lock from its check to its copy too (failed on the old code: the other writer\'s lost frame was copied, "database disk image is malformed")', async () => {
    const r = await race('wal:checkpoint-checked', REWRITE)
    expect(r).toEqual({ committed: false, check: 'ok', keys: ['big'] })
  }, 90_000)
})
