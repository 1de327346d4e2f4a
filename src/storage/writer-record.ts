import { closeSync, openSync, readFileSync, renameSync, unlinkSync } from 'node:fs'
import { formatTimestamp, isRecord, processAlive, writeFullySync } from '../util/index.js'

/** The work `petal reindex` records: a reader that finds the index empty or missing then waits for it (index-open-failure.ts). */
export const REINDEX_WORK = 'reindex'

/** Who holds a data directory's write lock and for what: `writer.json`, beside chain.db. */
export interface WriterRecord {
  pid: number
  /** What it is doing, in words (`signimportblock data.db`, `reindex`, `import block 12`). */
  work: string
  /** RFC 3339 UTC: when it took the lock. */
  since: string
}

/**
 * Say that this process holds the write lock. Written after the lock is taken and removed while
 * it is still held, so a record always names the current holder or a dead one. Informational:
 * not fsynced, and a stale record (a crashed writer) is ignored because its process is gone.
 */
export function writeWriterRecord (path: string, work: string): void {
  const rec: WriterRecord = { pid: process.pid, work, since: formatTimestamp(Date.now()) }
  const tmp = `${path}.${process.pid}.tmp`
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
  return { pid: r.pid, work: r.work, since: r.since }
}

/** `pid 4242 (signimportblock data.db, since 2026-…Z)`, or a plain phrase without a record. */
export function describeWriter (r: WriterRecord | undefined): string {
  return r === undefined ? 'another process (it has not said which)' : `pid ${r.pid} (${r.work}, since ${r.since})`
}
