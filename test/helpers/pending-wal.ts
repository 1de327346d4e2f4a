import Database from 'better-sqlite3'
import { join } from 'node:path'
import { PendingStore } from '../../src/ingest/store.js'
import { tmpDir } from './tmp.js'

/** A fresh pending.db, its store kept in `stores` (for the test file's afterEach to close). */
export function openPendingIn (stores: PendingStore[]): { store: PendingStore, path: string } {
  const path = join(tmpDir(), 'pending.db')
  const store = PendingStore.open(path)
  stores.push(store)
  return { store, path }
}

/** One row of pending.db's meta through the store's write path (its commit, its checkpoint). */
export async function put (store: PendingStore, key: string, value: string): Promise<void> {
  await store.write(() => store.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run(key, value))
}

/** What a process opening the file after every connection is gone reads: SQLite's recovery from the disk. */
export function readAfter (path: string): { check: string, keys: string[] } {
  const db = new Database(path, { readonly: true })
  try {
    return { check: String(db.pragma('quick_check', { simple: true })), keys: db.prepare("SELECT key FROM meta WHERE key IN ('x', 'big', 'after') ORDER BY key").pluck().all() as string[] }
  } finally {
    db.close()
  }
}
