import Database from 'better-sqlite3'
import { closeSync, openSync, statSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { tmpDir } from './tmp.js'

/** A WAL database of three committed rows (t: a, b, c), its log never checkpointed. */
export function walDb (name = 'w.db'): { db: Database.Database, path: string } {
  const path = join(tmpDir(), name)
  const db = new Database(path)
  db.pragma('journal_mode = WAL')
  db.pragma('wal_autocheckpoint = 0')
  db.pragma('synchronous = FULL')
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)')
  for (const v of ['a', 'b', 'c']) db.prepare('INSERT INTO t (v) VALUES (?)').run(v)
  return { db, path }
}

/** Overwrite the page of the log's last frame behind SQLite, as a write the disk lost leaves it. */
export function loseLastFrame (path: string): void {
  loseFrame(path, (statSync(`${path}-wal`).size - 32) / (24 + 4096))
}

/** Overwrite the page of the log's frame `frame` (1-based, 4 KiB pages) behind SQLite. */
export function loseFrame (path: string, frame: number): void {
  const fd = openSync(`${path}-wal`, 'r+')
  try {
    writeSync(fd, Buffer.alloc(4096, 0x5a), 0, 4096, 32 + (frame - 1) * (24 + 4096) + 24)
  } finally {
    closeSync(fd)
  }
}
