// Leaves the code caches of `petal query`, of its sandbox process and of the start-up router in
// dist/fast/cache, made by a real query on a throw-away chain, so that an installation's first
// query (and the router, any first command) starts from them
// (docs/performance/query.md, "Session 41: petal query"). Without them that query compiled the
// command's and the sandbox's functions from the build's seeds and then wrote both caches, the
// sandbox's while the CLI waited for it: 1.00x of Daisy's loop where the next ones were 0.85x.
// Run by `npm run build`, last (a query needs dist/native).
//
// They are what the first query of an installation would have written itself (src/cli/code-cache.ts):
// named after this Node, its options (NODE_OPTIONS as the build has it, as the seeds) and each
// script's size and time, checked by V8 against its version, flags and the source's length, and
// stored twice over. A user whose Node or options differ finds no cache of that name and writes
// their own, as before. The caches of the warm-up's other commands (init) are removed.
// Best effort: a failure says so and leaves the installation as without them.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const cacheDir = join(root, 'dist', 'fast', 'cache')
const cli = join(root, 'bin', 'petal.js')
/**
 * The caches kept: the query command's and its sandbox's, and the start-up router's that every
 * command runs through (bin/petal.js; written by a plain run's exit, so not where the build runs
 * with Node options, and never by a user's run where the installation is read-only).
 */
const KEPT = /^(query|child|router)-.*\.v8$/

// A warm-up takes ~2 s of CPU; one that hangs must not hang the build, and with it `npm ci`
// (prepare): it is killed, and the build goes on without the caches (the note below).
const RUN_LIMIT_MS = 120_000

function petal (dir: string, ...args: string[]): void {
  const r = spawnSync(process.execPath, [cli, '--dir', dir, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: RUN_LIMIT_MS, killSignal: 'SIGKILL' })
  if (r.error !== undefined && r.status === null) {
    const timedOut = 'code' in r.error && r.error.code === 'ETIMEDOUT'
    throw new Error(timedOut ? `petal ${args.join(' ')} did not end within ${RUN_LIMIT_MS / 1000} s` : `petal ${args.join(' ')} could not run (${r.error.message})`)
  }
  if (r.status !== 0) throw new Error(`petal ${args.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr.trim()}`)
}

function removeCaches (keep: RegExp | undefined): void {
  for (const f of readdirSync(cacheDir)) if (keep === undefined || !keep.test(f)) rmSync(join(cacheDir, f), { force: true })
}

const work = mkdtempSync(join(tmpdir(), 'petal-warm-caches-'))
try {
  const dir = join(work, 'data')
  petal(dir, 'init')
  // The first query builds the mirror, whose code would be in its caches: they are made again
  // by a second query, which only reads it, as the next queries of a user will.
  petal(dir, 'query', 'SELECT count(*) FROM _blocks')
  removeCaches(undefined)
  petal(dir, 'query', 'SELECT count(*) FROM _blocks')
  removeCaches(KEPT)
  const kept = readdirSync(cacheDir)
  if (!['query-', 'child-'].every(p => kept.some(f => f.startsWith(p)))) throw new Error(`expected the query's and the sandbox's caches, found ${kept.join(', ') || 'none'}`)
} catch (err) {
  removeCaches(undefined)
  process.stderr.write(`petal build: note: the code caches of \`petal query\` were not made (${err instanceof Error ? err.message : String(err)}); its first run makes them\n`)
} finally {
  rmSync(work, { recursive: true, force: true })
}
