import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { openSqlite, type SqliteDb } from './sqlite.js'
import { errorCode, lockHolders, sleep } from '../util/index.js'
import { dataFileExists } from './data-file.js'
import { openRefusedByDisk } from './system-error.js'

/**
 * The lock a running node holds on its data directory for its whole life: an exclusive SQLite lock
 * on `node.lock`, which the kernel releases when the process dies, however it dies. Unlike a pid
 * file it cannot go stale, be fooled by pid reuse, or let two nodes start at the same instant.
 * The same kind of lock on another file (`file`) guards other one-at-a-time work (`seal.lock`: the
 * one process sealing pending rows).
 */
export class NodeLock {
  /** How long a process that means to keep a lock waits for another's look at it (isHeld) to end. */
  static readonly LOOK_WAIT_MS = 1000
  /** The lock files this process holds (SQLite reports this process's own lock as busy too). */
  private static readonly mine = new Set<string>()

  private constructor (private readonly db: SqliteDb, private readonly file: string) {}

  /**
   * Take the lock, or return undefined if another process holds it after `waitMs`. Another
   * command's look at the lock (isHeld) holds it for an instant: whoever means to keep the lock
   * (a node's start) waits that out rather than take the look for a running node.
   */
  static tryAcquire (dir: string, file = 'node.lock', waitMs = 0): NodeLock | undefined {
    const path = join(dir, file)
    dataFileExists(path, 'node lock')
    let db: SqliteDb | undefined
    try {
      db = openSqlite(path)
      db.pragma(`busy_timeout = ${Math.max(0, Math.round(waitMs))}`)
      db.exec('BEGIN EXCLUSIVE')
      const key = resolve(dir, file)
      NodeLock.mine.add(key)
      return new NodeLock(db, key)
    } catch (err) {
      db?.close()
      const code = errorCode(err) ?? ''
      if (code === 'SQLITE_BUSY') return undefined
      // The disk refusing the open (ENOSPC, EIO) reads as SQLITE_CANTOPEN or, after SQLite's
      // silent read-only retry, SQLITE_READONLY: not a permissions problem when this user may write.
      if (code === 'SQLITE_CANTOPEN' || code.startsWith('SQLITE_READONLY')) throw openRefusedByDisk(path, err) ?? err
      throw err
    }
  }

  /**
   * Wait for the lock without blocking the event loop (polling, 10 ms doubling to 200 ms), for
   * locks held for short work: the seal lock, a reindex's claim of a lost chain.db. `onWait` is
   * called once, when the lock is first found held.
   */
  static async acquire (dir: string, file: string, o: { signal?: AbortSignal, onWait?: () => void } = {}): Promise<NodeLock> {
    let delay = 10
    let warned = false
    for (;;) {
      const lock = NodeLock.tryAcquire(dir, file)
      if (lock !== undefined) return lock
      if (!warned) { warned = true; o.onWait?.() }
      await sleep(delay, o.signal)
      delay = Math.min(delay * 2, 200)
    }
  }

  /**
   * Run `fn` (a read-change-rename of a small file) holding the lock `file` in `dir`, waiting for
   * it as `acquire` does; `onWait` is told the pids holding it, where /proc/locks tells.
   */
  static async holding<T> (dir: string, file: string, fn: () => T, o: { signal?: AbortSignal, onWait?: (holders: number[] | undefined) => void } = {}): Promise<T> {
    const lock = await NodeLock.acquire(dir, file, { signal: o.signal, onWait: () => o.onWait?.(lockHolders(join(dir, file))) })
    try {
      return fn()
    } finally {
      lock.release()
    }
  }

  /**
   * True when a node holds the lock of `dir` right now. Creates nothing. It takes the lock for an
   * instant to look (SQLite has no test without taking), which a starting node waits out (LOOK_WAIT_MS).
   */
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
