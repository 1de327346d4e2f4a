import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { CLI, petal } from '../helpers/cli.js'
import { tmpDir } from '../helpers/tmp.js'

/**
 * What the query sandbox loads on the path of a text answer (docs/performance/query.md, "Session 41:
 * petal query"). Every `petal query` asks decryption (unless --no-decrypt), and from a keystore
 * without encryption keys it asks it with no key: that run went through V8's serializer, so the
 * sandbox loaded node:v8 (and node:stream's modules with it) to read every statement.
 */
/**
 * The built-in modules the sandbox asks for while it answers `SELECT count(*) FROM _blocks` on a
 * new chain: a preload in every process of the command (NODE_OPTIONS reaches the sandbox) notes
 * each one asked through Module._load (a module's own require) or process.getBuiltinModule (as
 * wire.ts asks for node:v8), as `sandbox <id>`, after `sandbox started`.
 */
async function sandboxAsks (): Promise<string[]> {
  return (await sandboxAsksEach(1))[0] ?? []
}

/**
 * `runs` queries in a row with the same preload (the same NODE_OPTIONS, so the same code cache
 * name: the first finds no cache of the sandbox's for these options, the next ones find the one
 * it wrote), each run's requests apart. The caches these options left (the sandbox's and the command's) are removed after.
 */
async function sandboxAsksEach (runs: number): Promise<string[][]> {
  const dir = join(tmpDir(), 'data')
  expect((await petal(['--dir', dir, 'init'])).code).toBe(0)
  const log = join(tmpDir(), 'modules.log')
  const hook = join(tmpDir(), 'hook.cjs')
  const cacheDir = join(CLI, '..', '..', 'dist', 'fast', 'cache')
  const before = new Set(readdirSync(cacheDir))
  try {
    const each: string[][] = []
    for (let i = 0; i < runs; i++) each.push(await askedOnce(dir, log, hook))
    return each
  } finally {
    for (const f of readdirSync(cacheDir)) if (!before.has(f) && (f.startsWith('child-') || f.startsWith('query-'))) rmSync(join(cacheDir, f), { force: true })
  }
}

async function askedOnce (dir: string, log: string, hook: string): Promise<string[]> {
  writeFileSync(log, '')
  writeFileSync(hook, `if (process.argv.some(a => a.endsWith('child.js'))) {
  const { appendFileSync } = require('node:fs')
  const Module = require('node:module')
  appendFileSync(${JSON.stringify(log)}, 'sandbox started\\n')
  const load = Module._load
  Module._load = function (id, ...rest) { appendFileSync(${JSON.stringify(log)}, 'sandbox ' + id + '\\n'); return load.call(this, id, ...rest) }
  const get = process.getBuiltinModule
  process.getBuiltinModule = function (id) { appendFileSync(${JSON.stringify(log)}, 'sandbox ' + id + '\\n'); return get.call(this, id) }
}
`)
  const r = await petal(['--dir', dir, 'query', 'SELECT count(*) AS n FROM _blocks'], { env: { NODE_OPTIONS: `--require ${hook}` } })
  expect(r.code, r.stderr).toBe(0)
  expect(r.stdout).toBe('{"n":1}\n')
  const asked = readFileSync(log, 'utf8').split('\n').filter(Boolean)
  expect(asked, 'the hook ran in the sandbox').toContain('sandbox started')
  expect(asked, 'the hook saw the bundle load node:fs').toContain('sandbox node:fs')
  return asked
}

describe('the query sandbox on a text answer', () => {
  it('never loads node:v8', async () => {
    expect(await sandboxAsks()).not.toContain('sandbox node:v8')
  }, 60_000)

  // Session 42: the stub ran the bundle with a require made by node:module's createRequire, and
  // the storage module built a table from node:os's errno numbers at load: node:module (with the
  // ES module loader's modules it brings) and node:os on every sandbox start, for nothing.
  it('never loads node:module nor node:os', async () => {
    const asked = await sandboxAsks()
    for (const m of ['node:module', 'module', 'node:os', 'os']) expect(asked).not.toContain(`sandbox ${m}`)
  }, 60_000)

  // Session 43: the stub (dist/fast/child.js, compiled from source at every start) carried the
  // whole code cache: the seed, the compile from source, the write and its temporary files'
  // cleanup. It now carries the path of a start from the script's own cache; the rest is
  // run-cached.js, loaded only when there is no such cache (the first query under these options).
  it('starts from its own code cache without the code that writes one', async () => {
    const [first, second] = await sandboxAsksEach(2)
    const whole = (asked: string[] | undefined): boolean => (asked ?? []).some(a => a.endsWith(join('dist', 'fast', 'run-cached.js')))
    expect(whole(first), 'no cache of its own yet: the whole code cache is loaded, and the cache written').toBe(true)
    expect(whole(second), 'its own cache, written by the first').toBe(false)
    const stub = readFileSync(join(CLI, '..', '..', 'dist', 'fast', 'child.js'), 'latin1')
    for (const writing of ['createCachedData', 'removeStaleTemps', 'fsyncSync']) expect(stub).not.toContain(writing)
  }, 60_000)
})
