import { describe, expect, it } from 'vitest'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DataDir, cleanTmp } from '../../../src/storage/index.js'
import { holdIn, runInNewNamespace, unsharePid } from '../../helpers/pid-namespace.js'
import { loaderFor, srcEntry } from '../../helpers/src-entry.js'
import { FOREIGN_TEMP_MAX_AGE_MS, pidNamespace, processAlive, removeStaleTemps } from '../../../src/util/stale-temps.js'

const STORAGE = srcEntry('storage', 'index.ts')
const UTIL = srcEntry('util', 'index.ts')

// A writer that makes, through the code's own naming, a tmp/ block file (and its seal), an atomic
// write's temp and a writer record's temp in `root`, says their paths and its pid, and stays alive
// (its writes not yet renamed) until its stdin closes.
function writerScript (root: string): string {
  return `const { writeFileSync } = await import('node:fs'); const { DataDir, tmpBlockPath } = await import(${JSON.stringify(STORAGE)}); const { atomicTempPath, tempTag } = await import(${JSON.stringify(UTIL)})
const root = ${JSON.stringify(root)}; const t = tmpBlockPath(new DataDir(root))
const files = [t, t + '.seal', atomicTempPath(root + '/chainparams.json'), root + '/chain.db-writer.' + tempTag() + '.tmp']
for (const f of files) writeFileSync(f, 'x')
process.stdout.write(JSON.stringify({ pid: process.pid, files }) + '\\n')
process.stdin.resume(); process.stdin.on('end', () => { process.exit(0) })`
}

interface Made { pid: number, files: string[] }

/** Run the writer (under `wrap`, a command line before node's) until it has made its files; `stop` lets it exit. */
async function startWriter (root: string, wrap: string[]): Promise<Made & { stop: () => Promise<void> }> {
  const held = await holdIn(writerScript(root), { wrap, loader: loaderFor(STORAGE, UTIL) })
  return { ...(held.said as unknown as Made), stop: held.stop }
}

/** A pid no process of this namespace has now (for the writer in another namespace to take there). */
function freePid (): number {
  for (let pid = 23_456; pid < 32_000; pid += 97) if (!processAlive(pid) && !processAlive(pid + 1)) return pid
  throw new Error('no free pid')
}

function runCleaners (root: string): void {
  cleanTmp(new DataDir(root))
  removeStaleTemps(root)
}

describe('the temporary files of another PID namespace', () => {
  // A CLI in a second container on the node's volume, a sidecar: process.kill(pid, 0) here cannot
  // see its writer (or sees another process under its pid), and on 123f593 cleanTmp and
  // removeStaleTemps deleted its live files under it (its placement or write then failed).
  it.runIf(unsharePid())('are kept while their writer, alive in a namespace of its own, holds them', async () => {
    const root = mkdtempSync(join(tmpdir(), 'petal-tmpns-'))
    const pid = freePid()
    // Its pid there is one no process has here (ns_last_pid), so the old rule took it for dead.
    const w = await startWriter(root, ['unshare', '--pid', '--fork', '--mount-proc', 'sh', '-c', `echo ${pid} > /proc/sys/kernel/ns_last_pid && "$0" "$@"; :`])
    try {
      expect(w.pid).toBe(pid + 1)
      expect(processAlive(w.pid)).toBe(false)
      runCleaners(root)
      for (const f of w.files) expect(existsSync(f), f).toBe(true)
    } finally {
      await w.stop()
      rmSync(root, { recursive: true, force: true })
    }
  })

  // A process that cannot read its own namespace (here: /proc replaced by an empty tmpfs in a mount
  // namespace of its own; `nsenter --mount` into a container is another): until session 45 it named
  // them `<pid>-…`, and a node of another namespace judged them by that pid there and removed them
  // under it. Now `<pid>-n0-…`: a namespace no reader has, so every one judges them by age.
  it.runIf(unsharePid())('of a writer that cannot read its own namespace are kept by a reader in another namespace while it lives', async () => {
    const root = mkdtempSync(join(tmpdir(), 'petal-tmpns-'))
    const w = await startWriter(root, ['unshare', '--mount', 'sh', '-c', 'mount -t tmpfs none /proc && exec "$0" "$@"'])
    try {
      const cleaners = `const { DataDir, cleanTmp } = await import(${JSON.stringify(STORAGE)}); const { processAlive, removeStaleTemps } = await import(${JSON.stringify(UTIL)})
const root = ${JSON.stringify(root)}; cleanTmp(new DataDir(root)); removeStaleTemps(root); process.stdout.write(JSON.stringify({ alive: processAlive(${w.pid}) }))`
      const r = runInNewNamespace([process.execPath, ...loaderFor(STORAGE, UTIL), '--input-type=module', '-e', cleaners])
      expect(r.code, r.stderr).toBe(0)
      expect(JSON.parse(r.stdout)).toEqual({ alive: false })
      for (const f of w.files) expect(existsSync(f), f).toBe(true)
      expect(w.files[0]).toContain(`/tmp/${w.pid}-n0-`)
      // Nor does a reader of this namespace, where that pid is alive, remove them.
      runCleaners(root)
      for (const f of w.files) expect(existsSync(f), f).toBe(true)
    } finally {
      await w.stop()
      rmSync(root, { recursive: true, force: true })
    }
  })

  it('are removed once not modified for FOREIGN_TEMP_MAX_AGE_MS, and not before', () => {
    const root = mkdtempSync(join(tmpdir(), 'petal-tmpns-'))
    try {
      const ns = String(Number(pidNamespace() || '4026531836') + 7)
      const pid = freePid()
      // And those of a writer that could not read its namespace (n0), whatever its pid here.
      const names = [ns, '0'].flatMap(n => [`tmp/${pid}-n${n}-00aa11bb22cc.db`, `tmp/${pid}-n${n}-00aa11bb22cc.db.seal`, `keys.json.n${n}.${pid}.0a1b2c3d.tmp`, `chain.db-writer.n${n}.${pid}.tmp`])
      mkdirSync(join(root, 'tmp'))
      for (const n of names) writeFileSync(join(root, n), 'x')
      runCleaners(root)
      for (const n of names) expect(existsSync(join(root, n)), n).toBe(true)
      const old = (Date.now() - FOREIGN_TEMP_MAX_AGE_MS - 60_000) / 1000
      for (const n of names) utimesSync(join(root, n), old, old)
      runCleaners(root)
      for (const n of names) expect(existsSync(join(root, n)), n).toBe(false)
    } finally {
      rmSync(root, { recursive: true, force: true })
    }
  })
})

describe('the temporary files of a dead writer of this PID namespace', () => {
  it('are removed at once, the new names and the old', async () => {
    const root = mkdtempSync(join(tmpdir(), 'petal-tmpns-'))
    try {
      const w = await startWriter(root, [])
      await w.stop()
      expect(processAlive(w.pid)).toBe(false)
      if (pidNamespace() !== '') expect(w.files[0]).toContain(`/tmp/${w.pid}-n${pidNamespace()}-`)
      // An older version's names of the same dead writer.
      const oldNames = [`tmp/${w.pid}-00aa11bb22cc.db`, `keys.json.${w.pid}.0a1b2c3d.tmp`, `chain.db-writer.${w.pid}.tmp`]
      for (const n of oldNames) writeFileSync(join(root, n), 'x')
      runCleaners(root)
      for (const f of w.files) expect(existsSync(f), f).toBe(false)
      for (const n of oldNames) expect(existsSync(join(root, n)), n).toBe(false)
      expect(readdirSync(join(root, 'tmp'))).toEqual([])
    } finally {
      rmSync(root, { recursive: true, force: true })
    }
  })
})
