import { describe, expect, it } from 'vitest'
import Database from 'better-sqlite3'
import { spawnSync } from 'node:child_process'
import { rewriteLog, StorageError } from '../../../src/storage/index.js'
import { loseLastFrame, walDb } from '../../helpers/wal-db.js'

/**
 * The check before a re-write (rewriteLog) reads the wal-index through SQLite, never through a
 * descriptor of its own on the -shm: a close of one drops every fcntl lock the process holds on
 * it, SQLite's wal-index locks included (the revert of 989d6f3). Other processes then no longer
 * see this process's connections: the next opener takes itself for the first, truncates the -shm
 * under this process's mapping (SIGBUS, or SQLITE_PROTOCOL: sync-disk-failure.test.ts failed 7 of
 * 7), and a checkpoint empties the log under this process's readers. Here another process probes
 * the locks after the check: with this process's reader open, its TRUNCATE checkpoint must be
 * busy, and its reads must succeed. Both cases failed on 989d6f3 (busy 0: the reader's lock gone).
 */

/** Another process: its reads, then a commit and whether its TRUNCATE checkpoint (no busy wait) found a reader of ours. */
function probe (path: string): { rows: number, busy: number } {
  const code = `
    const Database = require('better-sqlite3')
    const db = new Database(${JSON.stringify(path)}, { timeout: 0 })
    const rows = db.prepare('SELECT count(*) FROM t').pluck().get()
    db.prepare('INSERT INTO t (v) VALUES (?)').run('probe')
    const busy = db.pragma('wal_checkpoint(TRUNCATE)')[0].busy
    db.close()
    process.stdout.write(JSON.stringify({ rows, busy }))`
  const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8', timeout: 30_000 })
  expect(r.status, r.stderr).toBe(0)
  return JSON.parse(r.stdout) as { rows: number, busy: number }
}

/** A reader of this process holding a snapshot: other processes must see its lock. (The schema's page: not the one a lost frame holds.) */
function reader (path: string): Database.Database {
  const r = new Database(path, { readonly: true })
  r.exec('BEGIN')
  r.prepare('SELECT count(*) FROM sqlite_schema').get()
  return r
}

describe('the check before a re-write leaves SQLite\'s locks alone', () => {
  it('a log that reads whole: another process still sees this process\'s reader', () => {
    const { db, path } = walDb('chain.db')
    const r = reader(path)
    expect(rewriteLog(db, 0)).toBe(false) // the reader's snapshot keeps the log
    expect(probe(path)).toEqual({ rows: 3, busy: 1 })
    expect(r.prepare('SELECT v FROM t ORDER BY id').pluck().all()).toEqual(['a', 'b', 'c'])
    r.exec('COMMIT')
    expect(db.pragma('quick_check', { simple: true })).toBe('ok')
    r.close()
    db.close()
  })

  it('a lost frame: the wal-index rebuilt through SQLite, and another process still sees this process\'s reader', () => {
    const { db, path } = walDb('chain.db')
    loseLastFrame(path)
    const r = reader(path)
    let err: unknown
    try { rewriteLog(db, 0) } catch (e) { err = e }
    // Without the addon the check is skipped: the locks are what this test is about.
    if (err !== undefined) expect((err as StorageError).message).toMatch(/no longer reads as it was written.*stay in the log/)
    const p = probe(path)
    expect(p).toEqual({ rows: err === undefined ? 3 : 2, busy: 1 })
    r.exec('COMMIT')
    r.close()
    expect(rewriteLog(db, 0)).toBe(true)
    db.close()
    const again = new Database(path, { readonly: true })
    expect(again.pragma('quick_check', { simple: true })).toBe('ok')
    expect(again.prepare('SELECT v FROM t ORDER BY id').pluck().all()).toEqual(err === undefined ? ['a', 'b', 'c', 'probe'] : ['a', 'b', 'probe'])
    again.close()
  })
})
