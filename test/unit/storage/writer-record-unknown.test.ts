import { describe, expect, it } from 'vitest'
import Database from 'better-sqlite3'
import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { IndexDb, WRITER_RECORD } from '../../../src/storage/index.js'
import { readWriterRecord } from '../../../src/storage/writer-record.js'
import { pidNamespace } from '../../../src/util/index.js'
import { holdIn } from '../../helpers/pid-namespace.js'
import { procSelfDeniedEnv, procSelfDeniedShim } from '../../helpers/proc-self-denied.js'
import { loaderFor, srcEntry } from '../../helpers/src-entry.js'
import { tmpDir } from '../../helpers/tmp.js'

// writer.json of a writer that could not read its own PID namespace (`pid_ns: "0"`, session 47):
// until session 50 it was never judged alive or dead, by any reader, and named "pid N in a PID
// namespace it could not read" (health49's leftover). A reader with a /proc now judges it by the
// holder of chain.db's write lock that /proc/locks lists (it is that holder, by its pid there, or
// it is gone); one on a system without /proc at all takes its pid as this namespace's, as it takes
// every record's.

const STORAGE = srcEntry('storage', 'index.ts')
const since = new Date().toISOString()
/** A pid no process has now: a child's, once it has exited. */
const deadPid = (): number => spawnSync(process.execPath, ['-e', '']).pid ?? 0

describe.runIf(process.platform === 'linux' && pidNamespace() !== '')('writer.json of a writer that could not read its PID namespace ("0")', () => {
  it.runIf(procSelfDeniedShim() !== undefined)('holding the write lock: found here as its holder, and named with its pid here (before: neither alive nor dead, no pid here)', async () => {
    const path = join(tmpDir(), 'chain.db')
    IndexDb.open(path).close()
    const script = `const { IndexDb } = await import(${JSON.stringify(STORAGE)})
const index = IndexDb.open(${JSON.stringify(path)})
await index.withWriteLock(async () => {
  process.stdout.write(JSON.stringify({ pid: process.pid }) + '\\n')
  await new Promise(resolve => { process.stdin.resume(); process.stdin.on('end', resolve) })
}, { work: 'signimportblock data.db' })
index.close(); process.exit(0)`
    const env = Object.entries(procSelfDeniedEnv('EACCES')).map(([k, v]) => `${k}=${v}`)
    const h = await holdIn(script, { wrap: ['env', ...env], loader: loaderFor(STORAGE) })
    const index = IndexDb.open(path)
    try {
      // `env` execs node: the holder's pid is the child's.
      expect(h.said.pid).toBe(h.here)
      expect(readWriterRecord(join(path, '..', WRITER_RECORD))).toMatchObject({ pid: h.here, pid_ns: '0', here: h.here })
      const err = await index.withWriteLock(async () => {}, { timeoutMs: 0 }).then(() => undefined, (e: unknown) => e)
      expect((err as Error).message).toContain(`waiting for pid ${h.here} in a PID namespace it could not read, ${h.here} here (signimportblock data.db, since `)
      expect(err).toMatchObject({ code: 'LOCK_TIMEOUT', details: { holder: { pid: h.here, other_pid_ns: true, ns_pid: h.here, pid_ns: '0' } } })
    } finally {
      index.close()
      await h.stop()
    }
  })

  it('of a writer gone, while another process listed here holds the lock: judged dead (before: named as the holder)', () => {
    const dir = tmpDir()
    const path = join(dir, 'chain.db')
    IndexDb.open(path).close()
    writeFileSync(join(dir, WRITER_RECORD), JSON.stringify({ pid: deadPid(), pid_ns: '0', work: 'signimportblock data.db', since }))
    // The sqlite3 shell's way: the write lock without a record (this process, listed by /proc/locks).
    const holder = new Database(path)
    holder.exec('BEGIN IMMEDIATE')
    try {
      expect(readWriterRecord(join(dir, WRITER_RECORD))).toBeUndefined()
    } finally {
      holder.close()
    }
    // No holder listed: it may be a live writer of a namespace not visible from here, named as it says.
    expect(readWriterRecord(join(dir, WRITER_RECORD))).toMatchObject({ pid_ns: '0', work: 'signimportblock data.db' })
  })
})

/** Whether this process may run one without /proc (root: a mount namespace of its own, /proc unmounted there). */
function canHideProc (): boolean {
  return process.platform === 'linux' && spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', 'umount -l /proc && test ! -e /proc/stat']).status === 0
}

describe.runIf(canHideProc())('writer.json of a writer that could not read its PID namespace, read on a system without /proc', () => {
  /** What indexUnusable says of a missing chain.db in `dir`, asked by a process that has no /proc. */
  function unusableWithoutProc (dir: string): { message: string, hint: string } {
    const script = `const { indexUnusable } = await import(${JSON.stringify(STORAGE)})
const e = indexUnusable(${JSON.stringify(join(dir, 'chain.db'))}, 'the chain index is missing')
console.log(JSON.stringify({ message: e.message, hint: e.hint }))`
    const node = [process.execPath, ...loaderFor(STORAGE), '--input-type=module', '-e', script].map(a => `'${a.replaceAll("'", "'\\''")}'`).join(' ')
    const r = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', `umount -l /proc && exec ${node}`], { encoding: 'utf8' })
    expect(r.status, r.stderr).toBe(0)
    return JSON.parse(r.stdout) as { message: string, hint: string }
  }

  it('a reindex gone: told to rebuild the index (before: to wait for it, "not visible from here")', () => {
    const dir = tmpDir()
    writeFileSync(join(dir, WRITER_RECORD), JSON.stringify({ pid: deadPid(), pid_ns: '0', work: 'reindex', since }))
    expect(unusableWithoutProc(dir)).toEqual({ message: 'the chain index is missing', hint: 'rebuild it from the block files with `petal reindex`' })
  })

  it('a reindex alive: told to wait for it, by its pid (before: "in a PID namespace it could not read, not visible from here")', () => {
    const dir = tmpDir()
    writeFileSync(join(dir, WRITER_RECORD), JSON.stringify({ pid: process.pid, pid_ns: '0', work: 'reindex', since }))
    expect(unusableWithoutProc(dir)).toEqual({
      message: `the chain index is missing: pid ${process.pid} (reindex, since ${since}) is rebuilding it from the block files`,
      hint: `wait for that reindex to finish (pid ${process.pid}), then run the command again`
    })
  })
})
