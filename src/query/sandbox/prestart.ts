import type { ChildProcess } from 'node:child_process'
import type { SandboxChannel } from './channel.js'

/**
 * Starting the sandbox process before the command that needs it has loaded (docs/performance/startup.md,
 * "Start-up of local commands"). `petal query` needs a second Node process, and the answer waits
 * for its start-up; the CLI's router knows the command word before it loads the command's code,
 * so it forks the sandbox there and the two start-ups overlap.
 *
 * The router and the command run from different bundles, each with its own copy of this module,
 * so the process is handed over through a global slot under a registered symbol. Nothing in the
 * process is bound to a data directory or a statement until the command sends it one. (This file
 * loads no module: `petal status` runs it too, through start.ts; fork.ts forks.)
 */
export interface ForkedSandbox {
  child: ChildProcess
  /** The socket to it that carries the protocol's messages. */
  channel: SandboxChannel
  /** Whether the process has said it is ready (it says so once, maybe before anyone listens). */
  ready: boolean
}

const SLOT = Symbol.for('petal.query.prestarted-sandbox')

/** Leave `forked` for the command's QuerySandbox to take; killed at exit if nobody took it. */
export function offerPrestartedSandbox (forked: ForkedSandbox): void {
  Reflect.set(globalThis, SLOT, forked)
  process.once('exit', () => { if (Reflect.get(globalThis, SLOT) === forked) forked.child.kill('SIGKILL') })
}

/** The prestarted sandbox process, if there is one still running; taken at most once. */
export function takePrestartedSandbox (): ForkedSandbox | undefined {
  const slot = peekPrestartedSandbox()
  Reflect.deleteProperty(globalThis, SLOT)
  return slot
}

/** The prestarted sandbox process still waiting to be taken, if any (it stays in its slot). */
export function peekPrestartedSandbox (): ForkedSandbox | undefined {
  const slot: unknown = Reflect.get(globalThis, SLOT)
  if (!isForked(slot)) return undefined
  return slot.child.exitCode === null && slot.child.signalCode === null ? slot : undefined
}

function isForked (v: unknown): v is ForkedSandbox {
  return typeof v === 'object' && v !== null && 'child' in v && 'channel' in v && 'ready' in v && typeof v.ready === 'boolean' &&
    typeof v.child === 'object' && v.child !== null && 'pid' in v.child
}
