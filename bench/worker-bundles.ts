// Worker threads that the code under benchmark starts from the TypeScript sources run an esbuild
// bundle of their entry, as the built CLI's threads run its bundles (used by core.bench.ts and the
// network bench's processes; test/helpers/entry-bundles.ts does the same for the tests). Through tsx, each new thread registers tsx's loader
// (one more thread) and compiles every module of the entry again: 1.5–2.1 s of CPU for a pull's two
// load threads against 0.4–0.7 s from bundles (docs/performance/pull.md, "Session 9: the 1 MB pull"),
// which the pull's CPU per block counted and no user pays. Each entry is bundled once per process,
// under dist/ (packages resolve from there as from src/), and removed when the process exits.
import { readdirSync, rmSync, statSync } from 'node:fs'
import { basename, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { buildSync } from 'esbuild'
import { setTypeScriptBundler, workerScript } from '../src/util/index.js'

export function bundleWorkerEntries (): void {
  const dir = join(import.meta.dirname, '..', 'dist', `.bench-workers-${process.pid}`)
  const bundled = new Set<string>()
  process.once('exit', () => { rmSync(dir, { recursive: true, force: true }) })
  setTypeScriptBundler(tsUrl => {
    const entry = fileURLToPath(tsUrl)
    const outfile = join(dir, `${basename(entry, '.ts')}.mjs`)
    if (!bundled.has(entry)) buildSync({ entryPoints: [entry], outfile, bundle: true, format: 'esm', platform: 'node', target: 'node20', packages: 'external', keepNames: true, logLevel: 'error' })
    bundled.add(entry)
    return outfile
  })
}

/** The sync's load threads bundled now, so that a measured sync does not wait for esbuild (others, e.g. the final verify's, are bundled when first started). */
export function bundleLoadWorker (): void {
  workerScript(pathToFileURL(join(import.meta.dirname, '..', 'src', 'chain', 'load-pool.ts')).href, './load-worker.js')
}

/**
 * verify's and reindex's workers as `petal verify` starts them: the CLI's CommonJS script
 * (dist/fast/verify-worker.js, run through V8's code cache), which `npm run bench` builds from these
 * sources first. The ES-module bundle above cost each new thread ~56 ms of CPU against the CLI's
 * ~35 ms (the ES module loader and compiling without a cache; docs/performance/verify.md, "Session 19:
 * verify --deep"), which every in-process verify counted twice per run and no user pays. When the
 * build is older than a source file (a bench run without `npm run build`), the ES-module bundle is
 * made now instead, before anything is timed, and a note says so.
 */
export function bundleVerifyWorker (): void {
  const src = join(import.meta.dirname, '..', 'src')
  const entry = join(src, 'chain', 'verify-worker.ts')
  const fast = join(import.meta.dirname, '..', 'dist', 'fast')
  const built = mtimeMs(join(fast, 'code', 'verify-worker.js'))
  const newest = Math.max(...readdirSync(src, { recursive: true, encoding: 'utf8' }).map(f => mtimeMs(join(src, f))))
  if (built >= newest) {
    const bundle = setTypeScriptBundler(undefined)
    if (bundle === undefined) throw new Error('bundleWorkerEntries() first')
    setTypeScriptBundler(tsUrl => fileURLToPath(tsUrl) === entry ? join(fast, 'verify-worker.js') : bundle(tsUrl))
  } else {
    process.stderr.write('note: dist/fast is older than src/ (run `npm run build`): verify\'s workers run an ES-module bundle, ~20 ms of CPU more per thread than the CLI\'s\n')
  }
  workerScript(pathToFileURL(join(src, 'chain', 'replay.ts')).href, './verify-worker.js')
}

function mtimeMs (path: string): number {
  try {
    return statSync(path).mtimeMs
  } catch {
    return 0
  }
}
