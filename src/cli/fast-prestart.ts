import type { ChildProcess } from 'node:child_process'
import { join } from 'node:path'
// Past the util and query barrels: this file is compiled from source on every start of `query`
// and `verify`, before the sandbox's fork, and the barrels' modules that do work when loaded (the
// error classes' registry) came with them (test/unit/imports.test.ts, pastIndex).
import { childExited } from '../util/child-processes.js'
import { EXIT } from '../util/exit-status.js'
import { prestartWorkers } from '../util/prestart-workers.js'
import { prestartQuerySandbox } from '../query/sandbox/fork.js'
import { sandboxEnv } from './sandbox-env.js'

/**
 * What the start-up router (fast-start.ts) starts alongside a command that will wait for it:
 * `petal query`'s sandbox process, `petal verify`'s worker threads. Built as a script of its own
 * (dist/fast/prestart.js) that the router loads for those two commands only: in the router it was
 * compiled from source on every start of every command (docs/performance/startup.md, "Session 23: start-up").
 * `here` is dist/fast.
 */
export function prestart (here: string, name: string, args: readonly string[]): void {
  // `petal query` waits for its sandbox process to start: start it now, alongside this one.
  if (name === 'query') prestartWithInterimSignals(join(here, 'child.js'))
  // `petal verify` hashes on worker threads: start them now, on the core this thread leaves idle
  // while it loads the command and opens the chain (as many as the replay starts by default).
  if (name === 'verify' && !args.some(a => a === '--workers' || a.startsWith('--workers='))) {
    prestartWorkers(join(here, 'verify-worker.js'), process.getBuiltinModule('node:os').availableParallelism())
  }
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
