import type Database from 'better-sqlite3'
import { closeSync, fsync, openSync } from 'node:fs'
import { AbortError, errorCode, failpoint, fsyncFileAsync, isNotFound, Mutex, pausepointSync, sleep } from '../util/index.js'
import { StorageError } from './errors.js'
import { commitWal } from './wal-commit.js'
import { syncWalDirOnce } from './wal-sync.js'
import { claimLog } from './wal-claims.js'
import { systemFailure } from './system-error.js'
import { indexWriteRefused } from './index-readonly.js'
import { clearWriterRecord, describeWriter, readLockHolder, writerDetails, writeWriterRecord, type WriterRecord } from './writer-record.js'

export interface LockOptions {
  signal?: AbortSignal
  /** Give up after this long (default: wait until aborted); 0: do not wait at all. */
  timeoutMs?: number
  /**
   * Called when the lock is held by another process, and again whenever the holder changes, with
   * the holder's record (undefined: it has not said who it is), so the CLI can say what it waits for.
   */
  onWait?: (holder: WriterRecord | undefined) => void
  /** What this writer does, for the record other processes read while they wait (`writer.json`). */
  work?: string
  /**
   * The caller wrote `writer.json` before taking the lock and clears it after the commit (a reindex
   * that replaces a missing or unreadable chain.db: readers must be told of it from before the old
   * file is removed until the new one is committed); the lock neither writes nor clears it.
   */
  recordHeld?: boolean
}

export interface WriteLockOptions extends LockOptions {
  /**
   * Commit with `synchronous = NORMAL`, then fsync `chain.db-wal` on the thread pool before resolving
   * (the event loop goes on meanwhile). Only for a change whose journal undoes it if a crash loses the commit.
   */
  syncOffLoop?: boolean
  /**
   * `fn` empties the index (IndexDb.clear, its first write) and fills it anew (reindex, a genesis'
   * install): an index of an older schema version is not moved first; clear() remakes its tables empty.
   */
  rebuilds?: boolean
}

/**
 * chain.db's write lock: SQLite's own (`BEGIN IMMEDIATE`), which works across processes and is
 * released by the kernel if the holder dies, so a crashed importer can never wedge the store. One
 * writer at a time within this process too (a mutex), and `writer.json` says who holds it.
 */
export class IndexWriteLock {
  private readonly mutex = new Mutex()
  private inTx = false

  constructor (private readonly db: Database.Database, private readonly recordPath: string, private readonly unwritableAtOpen = false) {}

  /**
   * Run `fn` holding the store's write lock, inside one SQLite transaction: committed if `fn`
   * resolves, rolled back if it throws. Waits without blocking the event loop.
   */
  async run<T> (fn: () => Promise<T>, options: WriteLockOptions = {}): Promise<T> {
    const started = Date.now()
    return await this.locked(async () => {
      // One wait: this process's other writers' (the mutex), then other processes' (BEGIN IMMEDIATE).
      if (options.timeoutMs !== undefined) options = { ...options, timeoutMs: Math.max(0, options.timeoutMs - (Date.now() - started)) }
      // The safety level cannot change inside a transaction: set before BEGIN, reset after COMMIT.
      if (options.syncOffLoop !== true) return await this.lockedTx(fn, options, started)
      // Opened before the COMMIT, fsynced after it: Linux reports a writeback error once to each
      // descriptor open when it happened, and to one opened later only if none has seen it. SQLite's
      // own fsync of the -wal inside the COMMIT (an automatic checkpoint's, whose failure SQLite
      // ignores) took the report, and the fsync of a descriptor opened after it succeeded (review35).
      const wal = openIfThere(`${this.db.name}-wal`)
      // Unsettled from before its COMMIT until its sync is done (wal-claims.ts).
      const settle = claimLog(this.db.name)
      this.db.pragma('synchronous = NORMAL')
      let result: T
      try {
        result = await this.lockedTx(fn, options, started)
      } catch (err) {
        settle()
        if (wal !== undefined) closeSync(wal)
        throw err
      } finally {
        this.db.pragma('synchronous = FULL')
      }
      failpoint('index:committed-unsynced')
      try {
        await this.syncWal(wal)
      } catch (err) {
        throw unflushed(err)
      } finally {
        settle()
      }
      return result
    }, options)
  }

  /** fsync the WAL as a FULL commit does (no WAL left: a checkpoint synced it): on the thread pool, through `fd` if given (closed); its directory once (wal-sync.ts). */
  private async syncWal (fd?: number): Promise<void> {
    if (fd === undefined) {
      await fsyncFileAsync(`${this.db.name}-wal`).catch((err: unknown) => { if (!isNotFound(err)) throw err })
    } else {
      try {
        await new Promise<void>((resolve, reject) => { fsync(fd, err => { if (err === null) resolve(); else reject(err) }) })
      } finally {
        closeSync(fd)
      }
    }
    await syncWalDirOnce(this.db)
  }

  /**
   * Run `fn` between this process's write transactions (under its mutex, until it settles), outside
   * any. The wait for this process's other writers honours `options` as run's does (AbortError,
   * LOCK_TIMEOUT), which until session 40 it ignored: a writer queued behind a long one of its own
   * process waited for it whatever --wait or its signal said.
   */
  async exclusive<T> (fn: () => T | Promise<T>, options: LockOptions = {}): Promise<T> { return await this.locked(fn, options) }

  /**
   * `fn` under the mutex, waited for as `options` say: AbortError on the signal, LOCK_TIMEOUT after
   * timeoutMs. The wait's timer and its listener on the signal end with the wait: an
   * AbortSignal.timeout per write ran its timer to the end whatever became of the wait (--wait
   * 3600: an hour-long timer for each write of a long import; review41).
   */
  private async locked<T> (fn: () => T | Promise<T>, options: LockOptions): Promise<T> {
    const started = Date.now()
    const { signal, timeoutMs } = options
    let release: () => void
    if (timeoutMs === undefined) {
      release = await this.mutex.acquire(signal)
    } else {
      const wait = new AbortController()
      const stop = (): void => { wait.abort() }
      const timer = setTimeout(stop, timeoutMs)
      timer.unref() // the holder it waits for keeps the process alive
      signal?.addEventListener('abort', stop, { once: true })
      try {
        release = await this.mutex.acquire(signal?.aborted === true ? signal : wait.signal)
      } catch (err) {
        if (signal?.aborted === true || !wait.signal.aborted) throw err
        throw this.timedOut(started)
      } finally {
        clearTimeout(timer)
        signal?.removeEventListener('abort', stop)
      }
    }
    try {
      return await fn()
    } finally {
      release()
    }
  }

  private timedOut (started: number): StorageError {
    const holder = readLockHolder(this.recordPath, this.db.name)
    return new StorageError('LOCK_TIMEOUT', `gave up after ${((Date.now() - started) / 1000).toFixed(1)} s waiting for ${describeWriter(holder)}, which is writing to this data directory`, {
      hint: 'run the command again when that process has finished, or wait longer with --wait SECONDS',
      details: { holder: writerDetails(holder) }
    })
  }

  /** Take the write lock (waiting as LockOptions say), run `fn` in a transaction, commit or roll back. */
  private async lockedTx<T> (fn: () => Promise<T>, options: LockOptions, since: number): Promise<T> {
    const started = Date.now()
    let said: string | undefined
    let delay = 5
    for (;;) {
      if (options.signal?.aborted === true) throw new AbortError()
      if (this.tryBegin()) break
      const holder = readLockHolder(this.recordPath, this.db.name)
      const who = describeWriter(holder)
      if (who !== said) { said = who; options.onWait?.(holder !== undefined && 'unlisted' in holder ? undefined : holder) }
      if (options.timeoutMs !== undefined && Date.now() - started >= options.timeoutMs) throw this.timedOut(since)
      await sleep(delay, options.signal)
      delay = Math.min(delay * 2, 100)
    }
    this.inTx = true
    // Between the lock and the record (a test holds a writer here: readLockHolder names it).
    pausepointSync('index-lock:taken')
    const record = options.recordHeld !== true
    if (record) writeWriterRecord(this.recordPath, options.work ?? 'writing')
    try {
      const result = await fn()
      if (record) clearWriterRecord(this.recordPath)
      commitWal(this.db, () => this.db.exec('COMMIT'))
      return result
    } catch (err) {
      if (record) clearWriterRecord(this.recordPath)
      if (this.db.inTransaction) this.db.exec('ROLLBACK')
      throw this.refused(err)
    } finally {
      this.inTx = false
    }
  }

  /**
   * Run `fn` under the write lock if it is free right now, synchronously; returns false without
   * running it when another connection holds the lock (a live writer). `work`: what writer.json
   * says meanwhile (a long write: the move of an index of an older schema version); none for a repair.
   */
  trySync (fn: () => void, work?: string): boolean {
    if (this.inTx || !this.tryBegin()) return false
    this.inTx = true
    if (work !== undefined) writeWriterRecord(this.recordPath, work)
    try {
      fn()
      if (work !== undefined) clearWriterRecord(this.recordPath)
      commitWal(this.db, () => this.db.exec('COMMIT'))
      return true
    } catch (err) {
      if (work !== undefined) clearWriterRecord(this.recordPath)
      if (this.db.inTransaction) this.db.exec('ROLLBACK')
      throw this.refused(err)
    } finally {
      this.inTx = false
    }
  }

  /** `BEGIN IMMEDIATE` without waiting: false when another connection holds the write lock. */
  private tryBegin (): boolean {
    try {
      this.db.pragma('busy_timeout = 0')
      this.db.exec('BEGIN IMMEDIATE')
      return true
    } catch (err) {
      const code = errorCode(err) ?? ''
      if (code === 'SQLITE_BUSY') return false
      // SQLite opens chain.db-wal read-only, silently, when the disk refuses its read-write open
      // (ENOSPC, EIO), and BEGIN says "readonly database": PERMISSION_DENIED for a user who may
      // write there (torture seed 35, import #5; mend35).
      if (code.startsWith('SQLITE_READONLY')) throw this.refused(err, true)
      throw err
    } finally {
      this.db.pragma('busy_timeout = 5000')
    }
  }

  /**
   * A write refused by a read-only connection, said with chain.db's path and a hint true of why
   * (index-readonly.ts); any other error as it is.
   */
  private refused (err: unknown, atBegin = false): unknown {
    return indexWriteRefused(this.db.name, err, this.unwritableAtOpen, atBegin) ?? err
  }

  /** Throws unless a write-lock transaction runs (the index's writes call it first). */
  assertTx (): void {
    if (!this.inTx) throw new Error('index write outside withWriteLock')
  }
}

/**
 * A deferred fsync of chain.db-wal failed after its COMMIT: the change is in the index (readers
 * see it) but not known to be durable, and its journal stays; the next writer's recovery re-writes
 * the log into chain.db (recover.ts) before it lets the journal go.
 */
function unflushed (err: unknown): unknown {
  const f = systemFailure(err)
  if (f === undefined) return err
  return new StorageError(f.code, `${f.message}; the change is in the index, not yet known to be on disk`, {
    hint: 'check the disk (dmesg, fsck); the next command that writes here (this one, run again) first re-writes the change into chain.db, or rolls it back by its journal',
    details: f.details,
    cause: err
  })
}

/** A read-only descriptor of `path`, or undefined when there is no such file (SQLite has not made its -wal yet). */
function openIfThere (path: string): number | undefined {
  try {
    return openSync(path, 'r')
  } catch (err) {
    if (isNotFound(err)) return undefined
    throw err
  }
}
