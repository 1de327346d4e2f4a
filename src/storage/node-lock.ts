import { accessSync, constants, existsSync, statSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { openSqlite, type SqliteDb } from './sqlite.js'
import { errorCode, errorMessage, lockHolders, shellWord, sleep } from '../util/index.js'
import { dataFileExists } from './data-file.js'
import { StorageError } from './errors.js'
import { openRefusedByDisk } from './system-error.js'
import { unwritableFix } from './write-access.js'

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
    return NodeLock.take(dir, file, waitMs, true)
  }

  /** tryAcquire; `hold` false: a look (isHeld), which a lock file this user may not write does not refuse. */
  private static take (dir: string, file: string, waitMs: number, hold: boolean): NodeLock | undefined {
    const path = join(dir, file)
    dataFileExists(path, 'lock file')
    if (hold) refuseUnwritable(path)
    let db: SqliteDb | undefined
    try {
      // A look opens the file read-only: its BEGIN EXCLUSIVE is then a shared lock, which meets a
      // holder's exclusive one and writes nothing. Opened to write, the lock file (empty) got its
      // first page written under the lock, into a journal made beside it: in a directory this user
      // may not write (a data directory made read-only, its lock files still this user's), every
      // look, `status`'s at node.lock, failed with "attempt to write a readonly database" (locks54).
      db = hold ? openSqlite(path) : openSqlite(path, { readonly: true, fileMustExist: true })
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
      if (code === 'SQLITE_CANTOPEN' || code.startsWith('SQLITE_READONLY')) throw (hold ? undefined : unreadable(path, err)) ?? openRefusedByDisk(path, err) ?? deniedDir(path, err) ?? err
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
    const lock = NodeLock.take(dir, file, 0, false)
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

/**
 * Refuse to hold a lock file this user may not write (another user's command made it, e.g. a
 * `sudo petal …`): SQLite opens it read-only, and BEGIN EXCLUSIVE then takes a shared lock only,
 * which excludes no other such process: two edits of the witnesses or tokens file, two seals, two
 * nodes each held "the" lock at once (review53). A look (isHeld) may: its shared lock still meets
 * a holder's exclusive one. A file not there is made by SQLite; a read-only file system writes nothing.
 */
function refuseUnwritable (path: string): void {
  try {
    accessSync(path, constants.W_OK)
  } catch (err) {
    const code = errorCode(err)
    if (code === 'EROFS') {
      // SQLite opens it read-only there too: two holders at once (two `petal run`s both started; locks54).
      throw new StorageError('PERMISSION_DENIED', `cannot hold the lock ${path}: the file system is read-only, and read-only the lock would keep no other process out`, {
        hint: 'commands that only read (status, blocks, block, signers, verify, query) work there; others need the file system mounted read-write',
        details: { systemCode: code, path }
      })
    }
    if (code !== 'EACCES' && code !== 'EPERM') return
    const fix = unwritableFix(path)
    throw new StorageError('PERMISSION_DENIED', `cannot hold the lock ${path}: this user may not write it${fix?.other === true ? ' (another user\'s command made it)' : ''}, and read-only it would keep no other process out`, {
      hint: fix === undefined
        ? `check its owner and mode (\`ls -l ${shellWord(path)}\`): give it to the user who runs Petal here (\`chown\`), or run the command as a user who may write it`
        : `${fix.command} (\`ls -l ${shellWord(path)}\` shows its owner and mode), or run Petal as a user who may write it`,
      details: { systemCode: code, path }
    })
  }
}

/**
 * A look at a lock file this user may not read (a `sudo petal run` under umask 077 made node.lock
 * 0600): SQLite's "unable to open database file" named no file, and `petal status` failed with a
 * hint about the data directory (review55). Reading it is all a look needs; it holds no data.
 */
function unreadable (path: string, err: unknown): StorageError | undefined {
  let denied: string
  try {
    accessSync(path, constants.R_OK)
    return undefined
  } catch (e) {
    const code = errorCode(e)
    if (code !== 'EACCES' && code !== 'EPERM') return undefined
    denied = code
  }
  const st = statSync(path, { throwIfNoEntry: false })
  const other = st !== undefined && st.uid !== process.getuid?.()
  const file = shellWord(path)
  return new StorageError('PERMISSION_DENIED', `cannot look at the lock ${path}: this user may not read it${other ? ' (another user\'s command made it)' : ''} (${errorMessage(err)})`, {
    hint: `${other ? 'as its owner or root, let others read it' : 'let this user read it'}: \`chmod a+r ${file}\` (a lock file holds no data; \`ls -l ${file}\` shows its owner and mode), or run the command as its owner`,
    // access(2)'s errno, which decided it (SQLite's open code, in the message, a failing disk gives too).
    details: { systemCode: denied, path },
    cause: err
  })
}

/**
 * A lock file SQLite could not make, or hold, where permissions explain it: its directory is there
 * and this user may not write it (a `witnesses` link's list kept in another user's directory; a
 * data directory made read-only, where a holder's SQLite makes the lock's journal). The error
 * SQLite gives names no path, and the CLI's hint then spoke of the data directory (review53, locks54).
 */
function deniedDir (path: string, err: unknown): StorageError | undefined {
  const dir = dirname(path)
  if (!existsSync(dir)) return undefined
  let denied: string
  try {
    accessSync(dir, constants.W_OK)
    return undefined
  } catch (e) {
    denied = errorCode(e) ?? 'EACCES'
  }
  const own = unwritableFix(dir)
  const what = existsSync(path) ? `cannot hold the lock ${path}: SQLite makes its journal beside it, and this user may not write ${dir}` : `cannot create the lock ${path}: this user may not write ${dir}`
  return new StorageError('PERMISSION_DENIED', `${what} (${errorMessage(err)})`, {
    // This user's own directory, made read-only: the command that gives the write back (another user's: not ours to take).
    hint: own === undefined || own.other
      ? `check the owner and mode of ${dir} (\`ls -ld ${shellWord(dir)}\`), or run the command as a user who may write it`
      : `${own.command} (\`ls -ld ${shellWord(dir)}\` shows its owner and mode), or run the command as a user who may write it`,
    // access(2)'s errno, which decided it: with SQLite's SQLITE_CANTOPEN (in the message), which a
    // failing disk gives too, the seal loop took it for one and retried loudly, up to a minute
    // apart after the fix (ingest/seal-loop.ts, refusedByPermissions; review56).
    details: { systemCode: denied, path },
    cause: err
  })
}
