import { join } from 'node:path'
import type { Script } from 'node:vm'
import { runCached, writeCache } from './code-cache.js'
import { commandWord } from './command-word.js'
import type { prestart } from './fast-prestart.js'

/**
 * The start-up router of `petal` (bin/petal.js runs it from dist/fast/petal.js; docs/performance/startup.md,
 * "Start-up of local commands"). Commands whose code needs only CommonJS packages run from the
 * command's own CommonJS fast bundle (dist/fast/code/cmd-<module>.js) through V8's code cache, without Node's ES module
 * loader (the network commands too, with libp2p and fastify bundled in); every other invocation
 * (help, `--version`, an unknown word, an option listed in `unless`) runs the ES module bundle
 * dist/bundle/main.js. The build writes `FastCommands`.
 *
 * The router reads the code caches, so its own is read by bin/petal.js (keepRouterCache below), and
 * without it (a first run, Node options) it is compiled from source: it holds only what every
 * command needs: what `query` and `verify` start alongside themselves is a script of
 * its own (fast-prestart.ts, dist/fast/prestart.js), loaded for them alone (docs/performance/startup.md,
 * "Session 23: start-up").
 */
export interface FastCommands {
  /** Command word → the name of its command module (which names its code cache). */
  commands: Record<string, string>
  /** Command word → an option that sends it to the ES module bundle (its code is not in the fast one). */
  unless?: Record<string, string>
  /** The program's global options that take a value, so the router finds the command word as runCli does. */
  takesValue: string[]
}

/** Route this process's command: `here` is dist/fast, `load` the router's own `require` (it is dist/fast/petal.js). */
export function startFast (here: string, fast: FastCommands, load: NodeJS.Require): void {
  keepRouterCache()
  const args = process.argv.slice(2)
  const word = commandWord(args, new Set(fast.takesValue))
  const name = word !== undefined && Object.hasOwn(fast.commands, word) ? fast.commands[word] : undefined
  const unless = word !== undefined && fast.unless !== undefined && Object.hasOwn(fast.unless, word) ? fast.unless[word] : undefined
  // Anywhere on the line (even as another option's value): the ES module bundle runs any command.
  if (name === undefined || (unless !== undefined && args.some(a => a === unless || a.startsWith(`${unless}=`)))) {
    const url = process.getBuiltinModule('node:url').pathToFileURL(join(here, '..', 'bundle', 'main.js')).href
    // Run through bin/petal.js's code cache, the router's script has no loader for import() of its
    // own: bin/petal.js's import() is handed over (keepRouterCache).
    void (esmImport ?? (async (u: string) => await import(u)))(url)
    return
  }
  if (name === 'query' || name === 'verify') {
    const script = join(here, 'prestart.js')
    // The router's own require: node:module's createRequire loaded node:module before the fork.
    const loaded: unknown = load(script)
    ;(loaded as { prestart: typeof prestart }).prestart(here, name, args)
  }
  runCached({ code: join(here, 'code', `cmd-${name}.js`), as: join(here, 'petal.js'), require: load, name, cacheDir: join(here, 'cache'), seedDir: join(here, 'seed'), writeAt: 'exit' })
}

/**
 * The router's own code cache, which bin/petal.js reads before it runs the router (docs/performance/import.md,
 * "Session 43: the 100-row import"): when it found none (or V8 refused it), it hands over the
 * router's script and the cache's name, and the cache is written at a successful exit, holding
 * what this run compiled of the router, as a command's is.
 */
function keepRouterCache (): void {
  const slot = Symbol.for('petal.router-cache')
  const own = Reflect.get(globalThis, slot) as { file?: string, script?: Script, import: (url: string) => Promise<unknown> } | undefined
  if (own === undefined) return
  Reflect.deleteProperty(globalThis, slot)
  esmImport = own.import
  const { file, script } = own
  if (file !== undefined && script !== undefined) process.once('exit', code => { if (code === 0) writeCache(file, script) })
}

/** bin/petal.js's import(), when it runs the router through the code cache (keepRouterCache). */
let esmImport: ((url: string) => Promise<unknown>) | undefined
