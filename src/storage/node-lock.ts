import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { openSqlite, type SqliteDb } from './sqlite.js'
import { errorCode } from '../util/index.js'
import { dataFileExists } from './data-file.js'

/**
 * The lock a running node holds on its data directory for its whole life: an exclusive SQLite lock
 * on `node.lock`, which the kernel releases when the process dies, however it dies. Unlike a pid
 * file it cannot go stale, be fooled by pid reuse, or let two nodes start at the same instant.
 * The same kind of lock on another file (`file`) guards other one-at-a-time work (`seal.lock`: the
 * one process sealing pending rows).
 */
export class NodeLock {
  /** The lock files this process holds (SQLite reports this process's own lock as busy too). */
  private static readonly mine = new Set<string>()

  private constructor (private readonly db: SqliteDb, private readonly file: string) {}

  /** Take the lock, or return undefined at once if another process holds it. */
  static tryAcquire (dir: string, file = 'node.lock'): NodeLock | undefined {
    dataFileExists(join(dir, file), 'node lock')
    const db = openSqlite(join(dir, file))
    try {
      db.pragma('busy_timeout = 0')
      db.exec('BEGIN EXCLUSIVE')
      const key = resolve(dir, file)
      NodeLock.mine.add(key)
      return new NodeLock(db, key)
    } catch (err) {
      db.close()
      if (errorCode(err) === 'SQLITE_BUSY') return undefined
      throw err
    }
  }

  /** True when a node holds the lock of `dir` right now. Creates nothing. */
  static isHeld (dir: string, file = 'node.lock'): boolean {
    // A node creates the file when it starts; without it no node has ever run here.
    if (!existsSync(join(dir, file))) return false
    const lock = NodeLock.tryAcquire(dir, file)
    lock?.release()
    return lock === undefined
  }

  /** True when this process holds the lock of `dir`. */
  static isHeldHere (dir: string, file = 'node.lock'): boolean {
    return NodeLock.mine.has(resolve(dir, file))
  }

  release (): void {
    if (!this.db.open) return
    if (this.db.inTransaction) this.db.exec('ROLLBACK')
    this.db.close()
    NodeLock.mine.delete(this.file)
  }
}
