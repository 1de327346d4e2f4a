import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { petal, spawnPetal, type Spawned } from '../helpers/cli.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'

// A command leaves no process behind: every child it started (a query's sandbox) has exited and
// been reaped by the time the command's own process is gone — on success, on error, at a time
// limit, on SIGINT/SIGTERM (once or twice) and when the reader of its output goes away. A child
// still present after the parent exited, even as a zombie adopted by init, is a leak.

const FOREVER = 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) '

/** `/proc/<pid>/stat` fields after the command name: [state, ppid, …]; undefined once gone. */
function stat (pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')
  } catch {
    return undefined
  }
}

/** Recorded by petal's own process: every child it starts, when it starts it (log-spawns.mjs). */
const LOG_SPAWNS = join(import.meta.dirname, '..', 'helpers', 'log-spawns.mjs')

/** The children listed in a log-spawns.mjs log: pid → start time. */
function spawnedIn (log: string): Map<number, string> {
  if (!existsSync(log)) return new Map()
  return new Map(readFileSync(log, 'utf8').split('\n').filter(l => l !== '').map(l => {
    const [pid, start] = l.split(' ')
    return [Number(pid), start as string]
  }))
}

/**
 * The children of `parent`, by pid, with their start time (so a reused pid is not mistaken). Read
 * from each of its threads' `children` list: polled every 5 ms, a scan of all of /proc would cost
 * the test more CPU than the commands it watches. A child that lives less than the interval is
 * missed here: petal's own record of what it started (log-spawns.mjs) has it.
 */
function childrenOf (parent: number): Map<number, string> {
  const out = new Map<number, string>()
  let tasks: string[]
  try {
    tasks = readdirSync(`/proc/${parent}/task`)
  } catch {
    return out
  }
  for (const task of tasks) {
    let list = ''
    try {
      list = readFileSync(`/proc/${parent}/task/${task}/children`, 'utf8')
    } catch {}
    for (const pid of list.split(' ').filter(p => p !== '').map(Number)) {
      const s = stat(pid)
      if (s?.[1] === String(parent)) out.set(pid, s[19] as string)
    }
  }
  return out
}

/**
 * Run petal, recording every child process it has while it runs; `during` may act on it once a
 * child exists. Resolves after petal's process has exited, with the children still present then.
 */
async function runWatched (args: string[], during?: (p: Spawned) => Promise<void> | void): Promise<{ code: number | null, stderr: string, children: number, leftBehind: string[] }> {
  const log = join(tmpDir(), 'spawns.log')
  const p = spawnPetal(args, { nodeOptions: ['--import', LOG_SPAWNS], env: { PETAL_TEST_SPAWN_LOG: log } })
  const pid = p.child.pid as number
  const seen = new Map<number, string>()
  let exited = false
  const exit = new Promise<number | null>(resolve => { p.child.once('exit', code => { exited = true; resolve(code) }) })
  const poll = setInterval(() => { if (!exited) for (const [c, start] of childrenOf(pid)) seen.set(c, start) }, 5)
  try {
    if (during !== undefined) {
      await waitFor(() => seen.size > 0 || spawnedIn(log).size > 0 || exited, { what: 'a child process of petal', interval: 5 })
      await during(p)
    }
    // A command that ignores its signal would hang here: fail instead, and kill it below.
    await waitFor(() => exited, { what: 'petal to exit', timeout: 30_000 })
    const code = await exit
    // Every child petal started, however briefly it lived (the poll may have missed it).
    for (const [c, start] of spawnedIn(log)) {
      expect(start, `child ${c}: its start time was read when petal started it`).toMatch(/^[0-9]+$/)
      seen.set(c, start)
    }
    // Checked at once: petal has exited, so whatever of its children is still there was left behind.
    const leftBehind = [...seen].filter(([c, start]) => stat(c)?.[19] === start).map(([c]) => `${c} (${(stat(c) ?? []).slice(0, 2).join(' ppid ')})`)
    const r = await p.exit
    return { code, stderr: r.stderr, children: seen.size, leftBehind }
  } finally {
    clearInterval(poll)
    if (!exited) p.child.kill('SIGKILL')
  }
}

describe('a command leaves no process behind', () => {
  let dir: string
  beforeAll(async () => {
    dir = join(tmpDir(), 'data')
    expect((await petal(['--dir', dir, 'init'])).code).toBe(0)
  }, 60_000)

  it('query, on success (several runs) and on an SQL error', async () => {
    for (let i = 0; i < 4; i++) {
      const r = await runWatched(['--dir', dir, 'query', 'SELECT height FROM _blocks'])
      expect(r.code, r.stderr).toBe(0)
      expect(r.children, 'the sandbox ran in a child process').toBeGreaterThan(0)
      expect(r.leftBehind, `run ${i}: children alive or unreaped after petal exited`).toEqual([])
    }
    const bad = await runWatched(['--dir', dir, 'query', 'SELECT * FROM no_such_table'])
    expect(bad.code).toBe(8)
    expect(bad.leftBehind).toEqual([])
  }, 120_000)

  it('query takes the sandbox process the CLI started before loading it; help and usage errors stop it', async () => {
    const r = await runWatched(['--dir', dir, '--log-level', 'debug', 'query', 'SELECT height FROM _blocks'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toContain('query sandbox process started')
    expect(r.stderr).toContain('prestarted=true')
    expect(r.children, 'one sandbox process, not a second one').toBe(1)
    expect(r.leftBehind).toEqual([])
    for (const args of [['query', '--help'], ['query'], ['query', '--per-block', '--from', 'x', 'SELECT 1']]) {
      const u = await runWatched(['--dir', dir, ...args])
      expect(u.code, `${args.join(' ')}: ${u.stderr}`).toBe(args.includes('--help') ? 0 : 2)
      expect(u.children, `${args.join(' ')}: the sandbox was started early`).toBe(1)
      expect(u.leftBehind, args.join(' ')).toEqual([])
    }
  }, 120_000)

  it('query stopped at its time limit', async () => {
    const r = await runWatched(['--dir', dir, 'query', '--per-block', '--timeout', '0.3', FOREVER + 'SELECT count(*) FROM c'])
    expect(r.code, r.stderr).toBe(8)
    expect(r.stderr).toContain('[QUERY_TIMEOUT]')
    expect(r.leftBehind).toEqual([])
  }, 60_000)

  for (const signals of [['SIGINT'], ['SIGTERM'], ['SIGINT', 'SIGINT']] as Array<NodeJS.Signals[]>) {
    it(`query interrupted by ${signals.join(' then ')}`, async () => {
      const r = await runWatched(['--dir', dir, 'query', '--per-block', '--timeout', '0', FOREVER + 'SELECT count(*) FROM c'], p => {
        for (const s of signals) p.child.kill(s)
      })
      expect(r.code, r.stderr).toBe(130)
      expect(r.leftBehind).toEqual([])
    }, 60_000)
  }

  it('query whose reader goes away (petal query … | head -1)', async () => {
    const r = await runWatched(['--dir', dir, 'query', '--per-block', '--timeout', '0', FOREVER + 'SELECT x FROM c'], async p => {
      await new Promise<void>(resolve => { p.child.stdout?.once('data', () => { resolve() }) })
      p.child.stdout?.destroy()
    })
    expect(r.code, r.stderr).toBe(141)
    expect(r.leftBehind).toEqual([])
  }, 60_000)
})
