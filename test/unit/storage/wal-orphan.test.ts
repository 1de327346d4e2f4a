import { afterEach, describe, expect, it } from 'vitest'
import Database from 'better-sqlite3'
import { spawnSync } from 'node:child_process'
import { statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import type { PendingStore } from '../../../src/ingest/store.js'
import { claimLog } from '../../../src/storage/index.js'
import { othersHoldShm } from '../../../src/storage/shm-holders.js'
import { holdOpenElsewhere } from '../../helpers/db-holder.js'
import { nativeWalIndexBuilt } from '../../helpers/native-build.js'
import { loaderFor, srcEntry } from '../../helpers/src-entry.js'
import { tmpDir } from '../../helpers/tmp.js'
import { openPendingIn, put, readAfter } from '../../helpers/pending-wal.js'
import { loseLastFrame } from '../../helpers/wal-db.js'

/**
 * A frame of the log whose write the disk lost, its writer gone before its re-write (killed, or
 * dead of the failure): until session 41 no checkpoint copied the log and nothing dropped the
 * loss until every process had closed the database (the next first opener's recovery), so the
 * log grew, and every commit made after the lost frame was acknowledged and then dropped by that
 * recovery. Now the checkpoint's committer drops it when no other process has the database open
 * and no deferred commit of its own is unsettled (commitWal's dropOrphanedLoss): its own commit,
 * made after the lost frame, is refused (IO_ERROR), the log is emptied, later commits stand.
 * The lost frame here is the last commit's, overwritten behind SQLite.
 */

const stores: PendingStore[] = []
afterEach(() => { for (const s of stores.splice(0)) s.close() })

const open = (): { store: PendingStore, path: string } => openPendingIn(stores)

describe.runIf(nativeWalIndexBuilt())('a lost frame no writer is left to re-write', () => {
  it('alone on the database, the checkpoint\'s committer drops it: its commit is refused, the log emptied, the next commits stand (failed on f455b47: the commit was acknowledged, the log kept growing)', async () => {
    const { store, path } = open()
    await put(store, 'x', 'before')
    loseLastFrame(path)
    // 5 MB: over 1,000 frames, the threshold of the checkpoint after a commit.
    const err = await put(store, 'big', 'y'.repeat(5_000_000)).then(() => undefined, (e: unknown) => e)
    expect(err).toMatchObject({ code: 'IO_ERROR', details: { undone: true } })
    expect(String((err as Error).message)).toMatch(/by a process gone before it re-wrote the log\); the commits after frame \d+, this one among them, were dropped/)
    expect(statSync(`${path}-wal`).size).toBe(0)
    await put(store, 'after', '1')
    expect(store.meta('after')).toBe('1')
    store.close()
    stores.length = 0
    expect(readAfter(path)).toEqual({ check: 'ok', keys: ['after'] })
  })

  it('while a deferred commit of this process is unsettled, nothing drops it (its writer re-writes the log and says what was dropped)', async () => {
    const { store, path } = open()
    await put(store, 'x', 'before')
    loseLastFrame(path)
    const size = statSync(path).size
    const settle = claimLog(store.db.name)
    try {
      await put(store, 'big', 'y'.repeat(5_000_000))
      expect(statSync(path).size).toBe(size)
    } finally {
      settle()
    }
    store.close()
    stores.length = 0
    expect(readAfter(path)).toEqual({ check: 'ok', keys: [] })
  })
})

describe('othersHoldShm', () => {
  it('is false with only this process\'s connections open, true with another process\'s, true where there is no -shm', async () => {
    const path = join(tmpDir(), 'w.db')
    expect(othersHoldShm(path)).toBe(true)
    const db = new Database(path)
    const db2 = new Database(path)
    try {
      db.pragma('journal_mode = WAL')
      db.exec('CREATE TABLE t (a)')
      db2.prepare('SELECT count(*) FROM t').get()
      expect(othersHoldShm(path)).toBe(false)
      const release = await holdOpenElsewhere(path)
      try {
        expect(othersHoldShm(path)).toBe(true)
      } finally {
        await release()
      }
      expect(othersHoldShm(path)).toBe(false)
    } finally {
      db2.close()
      db.close()
    }
  })

  // The kernel lists in /proc/locks only the locks of processes its /proc's PID namespace sees: in
  // a container's (a pod's sidecar sharing the data directory, `unshare -p`), another process's
  // connection is not there at all, and on f455b47 this said "alone" (false) with it open.
  it.runIf(unsharePid())('is true in a PID namespace other than the initial one, which does not see every process', () => {
    const path = join(tmpDir(), 'w.db')
    const db = new Database(path)
    try {
      db.pragma('journal_mode = WAL')
      db.exec('CREATE TABLE t (a)')
      const code = `const D = (await import('node:module')).createRequire(import.meta.url)(${JSON.stringify(SQLITE)}); const { othersHoldShm } = await import(${JSON.stringify(SHM_HOLDERS)})
const db = new D(${JSON.stringify(path)}); db.prepare('SELECT count(*) FROM t').get(); process.stdout.write(String(othersHoldShm(${JSON.stringify(path)}))); db.close()`
      const r = spawnSync('unshare', ['--pid', '--fork', '--mount-proc', process.execPath, ...loaderFor(SHM_HOLDERS), '--input-type=module', '-e', code], { encoding: 'utf8' })
      expect(r.stderr).toBe('')
      expect(r.stdout).toBe('true')
    } finally {
      db.close()
    }
  })
})

const SQLITE = createRequire(import.meta.url).resolve('better-sqlite3')
// The suite's bundle of it (src-entry.ts): its child goes without tsx.
const SHM_HOLDERS = srcEntry('storage', 'shm-holders.ts')

/** Whether this process may start one in a new PID namespace with its own /proc (root, util-linux's unshare). */
function unsharePid (): boolean {
  return process.platform === 'linux' && spawnSync('unshare', ['--pid', '--fork', '--mount-proc', 'true']).status === 0
}
