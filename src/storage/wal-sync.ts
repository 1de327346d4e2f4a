import type Database from 'better-sqlite3'
import { fdatasync } from 'node:fs'
import { dirname } from 'node:path'
import { fsyncDirAsync } from '../util/index.js'

/**
 * The directory of a WAL database's -wal, synced once per connection by Petal's deferred syncs (a
 * commit at synchronous = NORMAL, its log synced after it on the thread pool: chain.db's group
 * placements, pending.db's group commits). SQLite syncs a log's directory at the first sync of
 * each connection's handle of it (os_unix.c: every WAL is opened with SQLITE_OPEN_CREATE, which
 * marks the handle UNIXFILE_DIRSYNC, whoever created the file), and a commit at NORMAL syncs
 * nothing: were a connection's first commits deferred ones, they would be acknowledged in a log
 * whose directory entry a power cut could still lose (until session 40 the writable opens' own
 * commits at FULL happened to sync it first). The log stays one file while a connection is open
 * (SQLite deletes it only at the last close, resets and truncates it in place), so once is enough.
 */

const synced = new WeakSet<Database.Database>()

/** After a deferred sync of `db`'s -wal succeeded: fsync its directory, the first time for this connection. */
export async function syncWalDirOnce (db: Database.Database): Promise<void> {
  if (synced.has(db)) return
  await fsyncDirAsync(dirname(db.name))
  synced.add(db)
}

/** pending.db's deferred sync: fdatasync of the -wal through `fd` (opened before the COMMIT), then syncWalDirOnce. */
export async function fdatasyncWal (db: Database.Database, fd: number): Promise<void> {
  await new Promise<void>((resolve, reject) => { fdatasync(fd, err => { if (err === null) resolve(); else reject(err) }) })
  await syncWalDirOnce(db)
}
