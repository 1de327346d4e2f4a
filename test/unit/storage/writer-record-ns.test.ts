import { describe, expect, it } from 'vitest'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { IndexDb, indexUnusable, WRITER_RECORD } from '../../../src/storage/index.js'
import { clearOwnWriterRecord, readWriterRecord } from '../../../src/storage/writer-record.js'
import { pidNamespace } from '../../../src/util/index.js'
import { holdIn, runInNewNamespace, unsharePid } from '../../helpers/pid-namespace.js'
import { loaderFor, srcEntry } from '../../helpers/src-entry.js'
import { tmpDir } from '../../helpers/tmp.js'

// writer.json names the holder of chain.db's write lock for the processes that wait for it. Its
// pid and start time were tested with process.kill and /proc here, which for a writer in another
// PID namespace (a CLI in a second container on the same volume) is another process or none:
// until session 43 a waiter said "another process (it has not said which)", and a reader in a
// container of its own told to run `petal reindex` beside a live reindex of another.

const STORAGE = srcEntry('storage', 'index.ts')

/** A process that takes chain.db's write lock with `work` in writer.json and keeps it until its stdin closes. */
function writerScript (path: string, work: string): string {
  return `const { IndexDb } = await import(${JSON.stringify(STORAGE)})
const index = IndexDb.open(${JSON.stringify(path)})
await index.withWriteLock(async () => {
  process.stdout.write(JSON.stringify({ pid: process.pid }) + '\\n')
  await new Promise(resolve => { process.stdin.resume(); process.stdin.on('end', resolve) })
}, { work: ${JSON.stringify(work)} })
index.close(); process.exit(0)`
}

/** A waiter that gives up at once: the LOCK_TIMEOUT message it got, run with tsx (in a new namespace: IN_NEW_NAMESPACE). */
function waiterScript (path: string): string {
  return `const { IndexDb } = await import(${JSON.stringify(STORAGE)})
const index = IndexDb.open(${JSON.stringify(path)})
await index.withWriteLock(async () => {}, { timeoutMs: 0 }).then(() => console.log('got the lock'), e => console.log(e.code + ': ' + e.message))`
}

/** What indexUnusable says of a missing chain.db in `dir`, asked in a new PID namespace. */
function unusableScript (dir: string): string {
  return `const { indexUnusable } = await import(${JSON.stringify(STORAGE)})
const e = indexUnusable(${JSON.stringify(join(dir, 'chain.db'))}, 'the chain index is missing')
console.log(JSON.stringify({ message: e.message, hint: e.hint }))`
}

const tsx = (script: string): string[] => [process.execPath, ...loaderFor(STORAGE), '--input-type=module', '-e', script]

describe.runIf(unsharePid())('the write lock\'s holder in another PID namespace', () => {
  it('is named by a waiter outside it, with its pid there and here (failed on 486eeac: "it has not said which")', async () => {
    const path = join(tmpDir(), 'chain.db')
    const h = await holdIn(writerScript(path, 'signimportblock data.db'), { own: true, loader: loaderFor(STORAGE) })
    const index = IndexDb.open(path)
    try {
      expect(h.said.pid).toBe(1)
      expect(JSON.parse(readFileSync(join(path, '..', WRITER_RECORD), 'utf8'))).toMatchObject({ pid: 1, work: 'signimportblock data.db' })
      const seen: unknown[] = []
      const err = await index.withWriteLock(async () => {}, { timeoutMs: 0, onWait: w => seen.push(w) }).then(() => undefined, (e: unknown) => e)
      // The details (--json, the API) give `pid` only as a pid here (review44), as status --json does.
      expect(err).toMatchObject({ code: 'LOCK_TIMEOUT', details: { holder: { pid: h.here, other_pid_ns: true, ns_pid: 1, work: 'signimportblock data.db' } } })
      expect((err as Error).message).toContain(`waiting for pid 1 in another PID namespace, ${h.here} here (signimportblock data.db, since `)
      expect(seen).toMatchObject([{ pid: 1, here: h.here }])
    } finally {
      index.close()
      await h.stop()
    }
  })

  it('is named by a waiter in a namespace of its own, with its pid there only (failed on 486eeac: "it has not said which")', async () => {
    const path = join(tmpDir(), 'chain.db')
    const h = await holdIn(writerScript(path, 'import block 12'), { own: false, loader: loaderFor(STORAGE) })
    try {
      const r = runInNewNamespace(tsx(waiterScript(path)))
      // The wait's figure is the waiter's time (0.1 s under load, session 50): not what is tested.
      expect(r.stdout.replace(/after [0-9.]+ s/, 'after N s')).toContain(`LOCK_TIMEOUT: gave up after N s waiting for pid ${h.here} in another PID namespace (import block 12, since `)
    } finally {
      await h.stop()
    }
  })

  it('without a record, unlisted in /proc/locks from a namespace of its own: said so (before: "another process (it has not said which)")', async () => {
    const path = join(tmpDir(), 'chain.db')
    IndexDb.open(path).close()
    // The sqlite3 shell's way: the write lock, no writer.json.
    const h = await holdIn(`const { default: Database } = await import('better-sqlite3'); const db = new Database(${JSON.stringify(path)}); db.exec('BEGIN IMMEDIATE')
process.stdout.write(JSON.stringify({ pid: process.pid }) + '\\n'); process.stdin.resume(); process.stdin.on('end', () => { db.exec('COMMIT'); db.close(); process.exit(0) })`, { own: false, loader: [] })
    try {
      const r = runInNewNamespace(tsx(waiterScript(path)))
      expect(r.stdout.replace(/after [0-9.]+ s/, 'after N s')).toContain('LOCK_TIMEOUT: gave up after N s waiting for a process that /proc/locks does not list here (one in a PID namespace not visible from this one')
    } finally {
      await h.stop()
    }
  })

  it('is judged dead where its namespace is visible and it is not in it (its record ignored, as a dead pid\'s is here)', async () => {
    const dir = tmpDir()
    // pid 1 there stays; the writer, a child of it, writes its record and exits.
    const write = `const { writeWriterRecord } = await import(${JSON.stringify(STORAGE)}); writeWriterRecord(${JSON.stringify(join(dir, WRITER_RECORD))}, 'reindex')`
    const h = await holdIn(`const { spawnSync } = await import('node:child_process')
spawnSync(process.execPath, [...${JSON.stringify(loaderFor(STORAGE))}, '--input-type=module', '-e', ${JSON.stringify(write)}], { stdio: 'inherit' })
process.stdout.write(JSON.stringify({ pid: process.pid }) + '\\n'); process.stdin.resume(); process.stdin.on('end', () => process.exit(0))`, { own: true, loader: loaderFor(STORAGE) })
    try {
      const rec = JSON.parse(readFileSync(join(dir, WRITER_RECORD), 'utf8'))
      expect(rec).toMatchObject({ work: 'reindex' })
      expect(rec.pid).toBeGreaterThan(1)
      expect(rec.pid_ns).not.toBe(pidNamespace())
      expect(readWriterRecord(join(dir, WRITER_RECORD))).toBeUndefined()
      // The reader (here, where that namespace is visible) is told to rebuild the index, not to wait for a reindex that is gone.
      expect(indexUnusable(join(dir, 'chain.db'), 'the chain index is missing')).toMatchObject({ message: 'the chain index is missing', hint: 'rebuild it from the block files with `petal reindex`' })
    } finally {
      await h.stop()
    }
  })

  it('a reindex of a namespace not visible from the reader: told to wait for it, and what to do if none runs there (failed on 486eeac: told to start a second reindex)', async () => {
    const dir = tmpDir()
    const keep = `const { writeWriterRecord } = await import(${JSON.stringify(STORAGE)}); writeWriterRecord(${JSON.stringify(join(dir, WRITER_RECORD))}, 'reindex')
process.stdout.write(JSON.stringify({ pid: process.pid }) + '\\n'); process.stdin.resume(); process.stdin.on('end', () => process.exit(0))`
    const h = await holdIn(keep, { own: false, loader: loaderFor(STORAGE) })
    try {
      const r = runInNewNamespace(tsx(unusableScript(dir)))
      const said = JSON.parse(r.stdout) as { message: string, hint: string }
      expect(said.message).toBe(`the chain index is missing: pid ${h.here} in another PID namespace (reindex, since ${String(JSON.parse(readFileSync(join(dir, WRITER_RECORD), 'utf8')).since)}) is rebuilding it from the block files`)
      expect(said.hint).toBe(`wait for that reindex to finish (pid ${h.here} in another PID namespace, not visible from here), then run the command again; if no reindex runs there any more, remove ${join(dir, WRITER_RECORD)} and run \`petal reindex\``)
    } finally {
      await h.stop()
    }
  })
})

describe.runIf(pidNamespace() !== '')('clearOwnWriterRecord', () => {
  it('leaves the record of a writer of another namespace whose pid there is this process\'s (failed on 486eeac: removed)', () => {
    const path = join(tmpDir(), WRITER_RECORD)
    const since = new Date().toISOString()
    writeFileSync(path, JSON.stringify({ pid: process.pid, pid_ns: String(Number(pidNamespace()) + 7), work: 'reindex', since }))
    clearOwnWriterRecord(path)
    expect(existsSync(path)).toBe(true)
    // This namespace's, and an older Petal's (no namespace) with this pid: this process's own, removed.
    for (const rec of [{ pid: process.pid, pid_ns: pidNamespace(), work: 'reindex', since }, { pid: process.pid, work: 'reindex', since }]) {
      writeFileSync(path, JSON.stringify(rec))
      clearOwnWriterRecord(path)
      expect(existsSync(path)).toBe(false)
    }
  })
})
