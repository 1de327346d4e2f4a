import type { ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { childExited, prestartWorkers } from '../util/index.js'
import { runCached } from './code-cache.js'
import { EXIT } from './exit-codes.js'
import { commandWord } from './command-word.js'
// Past the query barrel: the router must stay small (test/unit/imports.test.ts, pastIndex).
import { prestartQuerySandbox } from '../query/sandbox/fork.js'
import { sandboxEnv } from './sandbox-env.js'

/**
 * The start-up router of `petal` (bin/petal.js runs it from dist/fast/petal.js; docs/performance.md,
 * "Start-up of local commands"). Commands whose code needs only CommonJS packages run from the
 * command's own CommonJS fast bundle (dist/fast/code/cmd-<module>.js) through V8's code cache, without Node's ES module
 * loader (the network commands too, with libp2p and fastify bundled in); every other invocation
 * (help, `--version`, an unknown word, an option listed in `unless`) runs the ES module bundle
 * dist/bundle/main.js. The build writes `FastCommands`.
 */
export interface FastCommands {
  /** Command word → the name of its command module (which names its code cache). */
  commands: Record<string, string>
  /** Command word → an option that sends it to the ES module bundle (its code is not in the fast one). */
  unless?: Record<string, string>
  /** The program's global options that take a value, so the router finds the command word as runCli does. */
  takesValue: string[]
}

/** Route this process's command: `here` is dist/fast. */
export function startFast (here: string, fast: FastCommands): void {
  const args = process.argv.slice(2)
  const word = commandWord(args, new Set(fast.takesValue))
  const name = word !== undefined && Object.hasOwn(fast.commands, word) ? fast.commands[word] : undefined
  const unless = word !== undefined && fast.unless !== undefined && Object.hasOwn(fast.unless, word) ? fast.unless[word] : undefined
  // Anywhere on the line (even as another option's value): the ES module bundle runs any command.
  if (name === undefined || (unless !== undefined && args.some(a => a === unless || a.startsWith(`${unless}=`)))) {
    void import(pathToFileURL(join(here, '..', 'bundle', 'main.js')).href)
    return
  }
  // `petal query` waits for its sandbox process to start: start it now, alongside this one.
  if (name === 'query') prestartWithInterimSignals(join(here, 'child.js'))
  // `petal verify` hashes on worker threads: start them now, on the core this thread leaves idle
  // while it loads the command and opens the chain (as many as the replay starts by default).
  if (name === 'verify' && !args.some(a => a === '--workers' || a.startsWith('--workers='))) {
    prestartWorkers(join(here, 'verify-worker.js'), process.getBuiltinModule('node:os').availableParallelism())
  }
  runCached({ code: join(here, 'code', `cmd-${name}.js`), as: join(here, 'petal.js'), name, cacheDir: join(here, 'cache'), seedDir: join(here, 'seed'), writeAt: 'exit' })
}

/** Run a child-process or worker script of the fast bundle (`name`.js in dist/fast) through the code cache. */
export function startFastScript (here: string, name: string): void {
  runCached({ code: join(here, 'code', `${name}.js`), as: join(here, `${name}.js`), name, cacheDir: join(here, 'cache'), seedDir: join(here, 'seed'), writeAt: 'first-message' })
}

/**
 * Fork the query sandbox before the command loads. Until the command's own handlers are there
 * (start.ts), Ctrl-C or SIGTERM must not leave that process behind: kill and reap it, then exit.
 * Once they are, they decide (these stay registered: removing a signal's listeners while a
 * signal is pending would lose it).
 */
function prestartWithInterimSignals (childFile: string): void {
  // Installed before the fork: a signal that arrives while it runs is then handled, not fatal.
  let child: ChildProcess | undefined
  const interrupted = (sig: NodeJS.Signals): void => {
    if (process.listenerCount(sig) > 1) return
    child?.kill('SIGKILL')
    void (child === undefined ? Promise.resolve() : childExited(child)).finally(() => { process.exit(EXIT.INTERRUPTED) })
  }
  process.on('SIGINT', interrupted)
  process.on('SIGTERM', interrupted)
  child = prestartQuerySandbox(childFile, sandboxEnv()).child
}
