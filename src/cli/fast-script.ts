import { join } from 'node:path'
import { runOwnCache } from './code-cache-read.js'
import type { runCached } from './code-cache.js'

/**
 * Run a child-process or worker script of the fast bundle (`name`.js in dist/fast/code) through
 * the code cache. This is the stub's code (dist/fast/`name`.js), compiled from source on every
 * start of the query sandbox and of each worker thread, so it holds only the path of a start that
 * finds the script's own cache (code-cache-read.ts). Without one (a new installation under other
 * Node options, a damaged or refused cache), dist/fast/run-cached.js takes over: the build's seed
 * or a compile from source, then the cache's write. The query sandbox (`child`, the one
 * child-process script) writes its missing cache itself after its first statement: its parent
 * kills it once it has answered. `load` is the stub's own `require` (the stub is `name`.js in
 * dist/fast). (docs/performance/query.md, "Session 43: petal query's first run".)
 */
export function startFastScript (here: string, name: string, load: NodeJS.Require): void {
  const run = { code: join(here, 'code', `${name}.js`), as: join(here, `${name}.js`), require: load, name, cacheDir: join(here, 'cache') }
  const own = runOwnCache(run)
  if (own === 'ran') return
  const whole = load(join(here, 'run-cached.js')) as { runCached: typeof runCached }
  whole.runCached({ ...run, seedDir: join(here, 'seed'), writeAt: name === 'child' ? 'offered' : 'first-message' }, own)
}
