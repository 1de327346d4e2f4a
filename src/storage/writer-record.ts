import { closeSync, openSync, readFileSync, renameSync, unlinkSync } from 'node:fs'
import { formatTimestamp, isRecord, processAlive, processStartTime, tempTag, writeFullySync } from '../util/index.js'

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
  pid: number
  /** What it is doing, in words (`signimportblock data.db`, `reindex`, `import block 12`). */
  work: string
  /** RFC 3339 UTC: when it took the lock. */
  since: string
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
  const rec: WriterRecord = { pid: process.pid, work, since: formatTimestamp(Date.now()), start: ownStart }
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
  if (isRecord(r) && r.pid === process.pid) clearWriterRecord(path)
}

/** The live holder named by the record, if any. */
export function readWriterRecord (path: string): WriterRecord | undefined {
  let r: unknown
  try {
    r = JSON.parse(readFileSync(path, 'utf8'))
  } catch {
    return undefined
  }
  if (!isRecord(r) || typeof r.pid !== 'number' || typeof r.work !== 'string' || typeof r.since !== 'string') return undefined
  if (r.pid === process.pid || !processAlive(r.pid)) return undefined
  // A live process under that pid is the writer only if it started when the writer did.
  if (typeof r.start === 'string') {
    const now = processStartTime(r.pid)
    if (now !== undefined && now !== r.start) return undefined
  }
  return { pid: r.pid, work: r.work, since: r.since }
}

/** `pid 4242 (signimportblock data.db, since 2026-…Z)`, or a plain phrase without a record. */
export function describeWriter (r: WriterRecord | undefined): string {
  return r === undefined ? 'another process (it has not said which)' : `pid ${r.pid} (${r.work}, since ${r.since})`
}
