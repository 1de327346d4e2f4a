import type { ChildProcess } from 'node:child_process'

// Every child process Petal starts is registered here, so that a process that has to end early
// (a second Ctrl-C, the reader of its output gone) can still stop and reap its children first:
// a command never leaves a process behind. Process-wide by nature, like the children themselves.
const live = new Set<ChildProcess>()

/** Register a child process until it has exited (and been reaped). */
export function trackChildProcess (child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return
  live.add(child)
  child.once('exit', () => { live.delete(child) })
}

/** Pids of the registered children that have not exited yet. */
export function liveChildPids (): number[] {
  return [...live].map(c => c.pid).filter((p): p is number => p !== undefined)
}

/** Resolves once `child` has exited and been reaped (at once if it already has). */
export async function childExited (child: ChildProcess): Promise<void> {
  // No pid: it never started (spawn failed), so there is nothing to wait for.
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return
  // An idle child may be unref'd (so that it does not keep its parent alive): waiting for it must.
  child.ref()
  await new Promise<void>(resolve => { child.once('exit', () => { resolve() }) })
}

/** SIGKILL every registered child and wait until each has exited and been reaped. */
export async function killChildProcesses (): Promise<void> {
  const children = [...live]
  for (const c of children) c.kill('SIGKILL')
  await Promise.all(children.map(childExited))
}

/** Last resort when the process exits without waiting (a crash): kill the children synchronously. */
export function killChildProcessesSync (): void {
  for (const c of live) c.kill('SIGKILL')
}
