import Database from 'better-sqlite3'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, expect, it } from 'vitest'
import { PendingStore } from '../../../src/ingest/store.js'

const cleanup: Array<() => void> = []
afterEach(() => { for (const f of cleanup.splice(0).reverse()) f() })

// Every open of pending.db for writing writes (its meta rows) and so waits for its write lock, 5 s
// at most. Another process that held the lock longer (a node's large append, `petal seal`) made
// the open fail as a damaged store, hinting "restore it from a backup": a user who did so lost the
// rows acknowledged since that backup, over a store that was only busy (review50).
it('a pending.db whose write lock another connection holds past the busy wait is said busy, not damaged', () => {
  const dir = mkdtempSync(join(tmpdir(), 'petal-store-busy-'))
  cleanup.push(() => { rmSync(dir, { recursive: true, force: true }) })
  const path = join(dir, 'pending.db')
  PendingStore.open(path).close()
  const holder = new Database(path)
  holder.exec('BEGIN IMMEDIATE')
  cleanup.push(() => { holder.exec('ROLLBACK'); holder.close() })
  let err: { code?: string, message?: string, hint?: string } | undefined
  try {
    PendingStore.open(path).close()
  } catch (e) {
    err = e as typeof err
  }
  expect(err?.code).toBe('INGEST_STORE_UNAVAILABLE')
  expect(err?.message).toContain('another process')
  expect(err?.hint).not.toContain('backup')
  expect(err?.hint).toContain('run the command again')
}, 30_000)
