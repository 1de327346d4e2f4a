import type * as ChildProcesses from 'node:child_process'
import { offerPrestartedSandbox, type ForkedSandbox } from './prestart.js'

// Loaded on the first fork, not when this file loads: the CLI's router carries this file for
// `petal query`, and every other command would pay for node:child_process (and net) at start.
let childProcesses: typeof ChildProcesses | undefined
function loadChildProcesses (): typeof ChildProcesses {
  childProcesses ??= process.getBuiltinModule('node:child_process')
  return childProcesses
}

/**
 * Fork the sandbox's entry `file`, noting its ready message whenever it comes. `env`: the
 * process's environment (default: this process's).
 */
export function forkSandbox (file: string, execArgv: string[], env?: NodeJS.ProcessEnv): ForkedSandbox {
  const child = loadChildProcesses().fork(file, [], { serialization: 'advanced', execArgv, env, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] })
  const forked: ForkedSandbox = { child, ready: false }
  const onMessage = (m: unknown): void => {
    if (typeof m === 'object' && m !== null && 'type' in m && m.type === 'ready') {
      forked.ready = true
      child.off('message', onMessage)
    }
  }
  child.on('message', onMessage)
  child.on('error', () => {})
  return forked
}

/**
 * Fork the sandbox now and leave it for the command's QuerySandbox to take. It keeps nothing
 * alive; the CLI kills and reaps it if no command took it (`petal query --help`, a usage error),
 * and it is killed at exit in any case.
 */
export function prestartQuerySandbox (file: string, env?: NodeJS.ProcessEnv): ForkedSandbox {
  const forked = forkSandbox(file, [], env)
  forked.child.unref()
  forked.child.channel?.unref()
  const stderr = forked.child.stderr
  if (stderr !== null && 'unref' in stderr && typeof stderr.unref === 'function') stderr.unref()
  offerPrestartedSandbox(forked)
  return forked
}

