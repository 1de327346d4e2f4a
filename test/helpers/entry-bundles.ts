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
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { build, buildSync, type Plugin } from 'esbuild'
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

/**
 * Gives each module of src/ its own import.meta (url, dirname, filename) in place of the bundle's,
 * as the source has through tsx: code that finds the files beside it by import.meta.url (the query
 * sandbox's child.ts, a worker's script) then finds the source's, and asks the bundler of its own
 * process (setTypeScriptBundler) for their bundles.
 */
const keepImportMeta: Plugin = {
  name: 'keep-import-meta',
  setup (b) {
    b.onLoad({ filter: /[/\\]src[/\\].*\.ts$/ }, args => {
      const text = readFileSync(args.path, 'utf8')
      if (!text.includes('import.meta.')) return undefined
      const meta = { url: pathToFileURL(args.path).href, dirname: dirname(args.path), filename: args.path }
      return { contents: text.replace(/import\.meta\.(url|dirname|filename)\b/g, (_, k: keyof typeof meta) => JSON.stringify(meta[k])), loader: 'ts' }
    })
  }
}

const OPTIONS = {
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  // Error classes name themselves after their class (PetalError: this.name = new.target.name).
  keepNames: true,
  logLevel: 'error'
} as const

/** Where the bundle of `tsUrl` goes (`tag` tells kinds apart), and whether it is made already. */
function outOf (tsUrl: string, tag = ''): { file: string, done?: string } {
  const done = bundles.get(tsUrl + tag)
  mkdirSync(OUT, { recursive: true })
  return { file: join(OUT, `${bundles.size}-${basename(fileURLToPath(tsUrl), '.ts')}${tag}.mjs`), done }
}

function bundleOf (tsUrl: string): string {
  const { file, done } = outOf(tsUrl)
  if (done !== undefined) return done
  buildSync({ ...OPTIONS, entryPoints: [fileURLToPath(tsUrl)], outfile: `${file}.tmp` })
  renameSync(`${file}.tmp`, file)
  bundles.set(tsUrl, file)
  return file
}

/** bundleOf with each src module's own import.meta (keepImportMeta: esbuild takes plugins only in its asynchronous API). */
async function bundleKeepingMeta (tsUrl: string): Promise<string> {
  const { file, done } = outOf(tsUrl, '-meta')
  if (done !== undefined) return done
  await build({ ...OPTIONS, entryPoints: [fileURLToPath(tsUrl)], outfile: `${file}.tmp`, plugins: [keepImportMeta] })
  renameSync(`${file}.tmp`, file)
  bundles.set(tsUrl + '-meta', file)
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
// For src-entry.ts's entryKeepingMeta (a setup file is not imported by tests: evaluated per file).
Reflect.set(globalThis, Symbol.for('petal.test.entryBundlesKeepingMeta'), bundleKeepingMeta)
