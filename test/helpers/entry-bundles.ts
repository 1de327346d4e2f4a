// Setup file (vitest.config.ts): worker threads and child processes (the query sandbox) that the
// code under test starts from TypeScript source run a bundle of their entry module instead of
// going through tsx. tsx registers its loader in every new thread or process and compiles each of
// the entry's modules again there: about 0.5 s of CPU each time, and the suite starts many (every
// verify, reindex, batched import, node and query sandbox). A bundle is made once per test
// process, on first use, with esbuild, as `npm run build` bundles the workers of the CLI, and
// serves every test file the process runs (the tiers run without isolation: one process runs
// many files, and this file runs again before each); it lives under dist/, two levels below the
// package root like src/<module>/, so packages and paths derived from import.meta.url resolve as
// they do from the source.
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs'
import { basename, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildSync } from 'esbuild'
import { setTypeScriptBundler } from '../../src/util/index.js'

const DIST = join(import.meta.dirname, '..', '..', 'dist')
const PREFIX = '.test-workers-'
const OUT = join(DIST, `${PREFIX}${process.pid}`)
// Kept on globalThis: this module is evaluated again for each test file of the process.
const KEY = Symbol.for('petal.test.entryBundles')
const shared: unknown = Reflect.get(globalThis, KEY)
const bundles: Map<string, string> = shared instanceof Map ? shared : new Map<string, string>()
if (!(shared instanceof Map)) {
  Reflect.set(globalThis, KEY, bundles)
  process.once('exit', () => { rmSync(OUT, { recursive: true, force: true }) })
}

function bundleOf (tsUrl: string): string {
  const done = bundles.get(tsUrl)
  if (done !== undefined) return done
  const entry = fileURLToPath(tsUrl)
  const file = join(OUT, `${bundles.size}-${basename(entry, '.ts')}.mjs`)
  mkdirSync(OUT, { recursive: true })
  buildSync({
    entryPoints: [entry],
    outfile: `${file}.tmp`,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    // Error classes name themselves after their class (PetalError: this.name = new.target.name).
    keepNames: true,
    logLevel: 'error'
  })
  renameSync(`${file}.tmp`, file)
  bundles.set(tsUrl, file)
  return file
}

function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return err instanceof Error && 'code' in err && err.code === 'EPERM'
  }
}

// The bundles of test processes that were killed before their 'exit' handler ran.
for (const name of existsSync(DIST) ? readdirSync(DIST).filter(n => n.startsWith(PREFIX)) : []) {
  if (!alive(Number(name.slice(PREFIX.length)))) rmSync(join(DIST, name), { recursive: true, force: true })
}

setTypeScriptBundler(bundleOf)
