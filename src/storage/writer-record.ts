import { closeSync, openSync, readFileSync, renameSync, unlinkSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { findInNamespace, formatTimestamp, isRecord, lockHolders, namedPid, nameNamespace, pidDetails, type PidDetails, processAlive, processCommand, processStartTime, sameNamespace, tempTag, unknownNamespace, writeFullySync } from '../util/index.js'

/** The work `petal reindex` records: a reader that finds the index empty or missing then waits for it (index-open-failure.ts). */
export const REINDEX_WORK = 'reindex'

/**
 * The file whose exclusive lock (NodeLock) a `petal reindex` holds while it decides to replace a
 * missing or unreadable chain.db and writes its record: one claim at a time, and the kernel frees
 * the lock of a process that dies, so a killed reindex's claim is never stuck.
 */
export const REINDEX_LOCK = 'reindex.lock'

/** Who holds a data directory's write lock and for what: `writer.json`, beside chain.db. */
export interface WriterRecord {
  /** Its pid in its own PID namespace (`pid_ns`). */
  pid: number
  /**
   * Its PID namespace (pidNamespace; "0", UNKNOWN_NAMESPACE, where the writer could not read its
   * own, since session 47; absent in an older Petal's record): a reader in another one, or of a
   * writer of an unknown one, cannot test the pid with process.kill or /proc.
   */
  pid_ns?: string
  /** Read back, of a writer in another PID namespace: its pid as this process names it, where one does. */
  here?: number
  /** What it is doing, in words (`signimportblock data.db`, `reindex`, `import block 12`). */
  work: string
  /** RFC 3339 UTC: when it took the lock (absent: a holder named by its lock alone, readLockHolder). */
  since?: string
  /**
   * When the process started (processStartTime; absent where /proc cannot be read): a record whose
   * pid now belongs to a process that started at another time is a dead writer's, its pid reused.
   */
  start?: string
}

// This process's start time, read once (it cannot change).
let ownStart: string | undefined | null = null

/**
 * Say that this process holds the write lock. Written after the lock is taken and removed while
 * it is still held, so a record always names the current holder or a dead one; except a reindex
 * that replaces a missing or unreadable chain.db (an index with no lock to hold), which writes it
 * before removing the old file and clears it after its commit (clearOwnWriterRecord). Informational:
 * not fsynced, and a stale record (a crashed writer) is ignored because its process is gone, or
 * its pid now names a process that started at another time.
 */
export function writeWriterRecord (path: string, work: string): void {
  if (ownStart === null) ownStart = processStartTime(process.pid)
  // Always a namespace, "0" where this process cannot read its own: a record without one is taken
  // by every reader as one of its own namespace's (an older Petal's), whatever namespace it is in.
  const rec: WriterRecord = { pid: process.pid, pid_ns: nameNamespace(), work, since: formatTimestamp(Date.now()), start: ownStart }
  const tmp = `${path}.${tempTag()}.tmp`
  try {
    // writeFileSync's open, write and close (its own JavaScript is compiled at its first call).
    const fd = openSync(tmp, 'w')
    try {
      writeFullySync(fd, JSON.stringify(rec) + '\n')
    } finally {
      closeSync(fd)
    }
    renameSync(tmp, path)
  } catch {
    // Only a description for waiting processes: failing to write it must not fail the write.
    try { unlinkSync(tmp) } catch {}
  }
}

export function clearWriterRecord (path: string): void {
  try { unlinkSync(path) } catch {}
}

/**
 * Remove the record if this process wrote it: for a writer that clears it after its commit, when
 * the next writer may already have taken the lock and written its own (reindex's recordHeld).
 */
export function clearOwnWriterRecord (path: string): void {
  let r: unknown
  try { r = JSON.parse(readFileSync(path, 'utf8')) } catch { return }
  // Its pid and namespace as this process records them: a writer of another namespace may have
  // this pid there, one of an unknown namespace ("0") too. (A record without one is an older Petal's.)
  if (isRecord(r) && r.pid === process.pid && (typeof r.pid_ns === 'string' ? r.pid_ns === nameNamespace() : sameNamespace(undefined))) clearWriterRecord(path)
}

/**
 * The live holder named by the record, if any. In the reader's PID namespace (or a record without
 * one), by its pid and start time. In another, its pid means nothing here: it is looked for by
 * its namespace and its pid there among the processes visible from here (`here`), and ignored
 * when that namespace is visible without it (dead, or its pid reused there). A namespace not
 * visible from here (a sibling container's), or one its writer could not read ("0"), cannot be
 * looked into: the record is returned as it says, without `here`, for the waiter to name it,
 * never to act on its pid. One its writer could not read ("0") is judged by the holder of
 * `dbPath`'s write lock where /proc/locks lists one (it is that holder, or dead), and on a system
 * without /proc as this namespace's (sameNamespace).
 */
export function readWriterRecord (path: string, dbPath = join(dirname(path), 'chain.db')): WriterRecord | undefined {
  let r: unknown
  try {
    r = JSON.parse(readFileSync(path, 'utf8'))
  } catch {
    return undefined
  }
  if (!isRecord(r) || typeof r.pid !== 'number' || typeof r.work !== 'string' || typeof r.since !== 'string') return undefined
  const start = typeof r.start === 'string' ? r.start : undefined
  const ns = typeof r.pid_ns === 'string' && r.pid_ns !== '' ? r.pid_ns : undefined
  if (!sameNamespace(ns)) {
    const holders = unknownNamespace(ns) ? lockHolders(`${dbPath}-shm`, undefined, WAL_WRITE_LOCK_BYTE) : undefined
    const found = findInNamespace(ns ?? '', r.pid, { start, ...holders === undefined ? {} : { candidates: holders } })
    if (found.here === undefined && found.visible) return undefined
    return { pid: r.pid, pid_ns: ns, ...(found.here === undefined ? {} : { here: found.here }), work: r.work, since: r.since }
  }
  if (r.pid === process.pid || !processAlive(r.pid)) return undefined
  // A live process under that pid is the writer only if it started when the writer did.
  if (start !== undefined) {
    const now = processStartTime(r.pid)
    if (now !== undefined && now !== start) return undefined
  }
  return { pid: r.pid, work: r.work, since: r.since }
}

// SQLite's WAL write lock: byte 120 of the -shm (WALINDEX_LOCK_OFFSET + WAL_WRITE_LOCK, wal.c),
// held exclusively by the one connection that writes, from its BEGIN IMMEDIATE to its end.
const WAL_WRITE_LOCK_BYTE = 120

/**
 * Who holds the write lock of the index at `dbPath`: the record at `recordPath` where it names a
 * live holder, else the process that holds SQLite's write lock as the kernel lists it
 * (/proc/locks), named by its pid and command line. Every writer takes the lock first and writes
 * its record right after (a record written before the lock would overwrite the real holder's
 * while it waits), so a look between the two found no record, and a `--wait 0` whose single look
 * fell there named nobody (index47's finding); so did one at a writer that writes no record (the
 * sqlite3 shell, a Petal before session 47 moving an index at its open). This process itself is
 * named as such (it was "another process"). UNLISTED where /proc/locks lists no holder (one in a
 * PID namespace not visible from this one, or one that let go since); undefined where it cannot
 * be read.
 */
export function readLockHolder (recordPath: string, dbPath: string): WriterRecord | Unlisted | undefined {
  const r = readWriterRecord(recordPath, dbPath)
  if (r !== undefined) return r
  const pids = lockHolders(`${dbPath}-shm`, undefined, WAL_WRITE_LOCK_BYTE)
  // Listed by none: the kernel names no holder of another PID namespace than those within this one's.
  if (pids?.length === 0) return UNLISTED
  const pid = pids?.length === 1 ? pids[0] : undefined
  if (pid === undefined) return undefined
  // Another connection of this very process (its record, if any, is ignored above as its own).
  if (pid === process.pid) return { pid, work: 'this process itself, through another of its connections to chain.db' }
  const cmd = processCommand(pid)
  return { pid, work: `${cmd === undefined ? 'a process' : `\`${cmd}\``}, which has not said what it writes` }
}

/** `pid 4242`, or `pid 7 in another PID namespace[, 31337 here]`: the writer's pid as it can be used here. */
export function writerPid (r: WriterRecord): string { return namedPid(r.pid, r.pid_ns, r.here) }

/**
 * The record as an error's details give it (`--json`, the API: LOCK_TIMEOUT's and INDEX_BUSY's
 * `holder`, INDEX_CORRUPT's `rebuilder`), shaped as `petal status --json`'s node (pidDetails).
 */
export function writerDetails (r: WriterRecord | Unlisted | undefined): WriterDetails | undefined {
  return r === undefined || unlisted(r) ? undefined : pidDetails(r)
}

/** readLockHolder's holder that /proc/locks does not list: a process it cannot name. */
export interface Unlisted { unlisted: true }
export const UNLISTED: Unlisted = { unlisted: true }
const unlisted = (r: WriterRecord | Unlisted | undefined): r is Unlisted => r !== undefined && 'unlisted' in r

/** writerDetails' shape: WriterRecord's where the writer is of this namespace. */
export type WriterDetails = PidDetails<Omit<WriterRecord, 'start'>>

/** `pid 4242 (signimportblock data.db, since 2026-…Z)`, or a plain phrase without a record. */
export function describeWriter (r: WriterRecord | Unlisted | undefined): string {
  if (unlisted(r)) return 'a process that /proc/locks does not list here (one in a PID namespace not visible from this one, such as another container\'s, or one that has let go since), which has not said what it writes'
  return r === undefined ? 'another process (it has not said which)' : `${writerPid(r)} (${r.work}${r.since === undefined ? '' : `, since ${r.since}`})`
}
