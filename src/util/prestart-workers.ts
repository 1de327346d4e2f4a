import type { Worker } from 'node:worker_threads'

/**
 * Worker threads started before the command that uses them has loaded (docs/performance/verify.md,
 * "Session 6: plain verify and start-up"). `petal verify`'s router knows the command word before
 * it loads the command's bundle, opens chain.db and reads the index, all on one thread while the
 * second core idles: it starts the verify workers there, and their start-up (a Node environment
 * each, their bundle through the code cache) overlaps the command's. The router and the command
 * run from different bundles, each with its own copy of this module, so the workers are handed
 * over through a global slot under a registered symbol; a WorkerPool of the same script adopts
 * them (WorkerPool.spawn). A worker that exits before it is adopted is skipped, and nothing keeps
 * one alive: an unadopted worker ends with the process.
 */
interface Prestarted { worker: Worker, file: string, exited: boolean, error?: Error }

const SLOT = Symbol.for('petal.prestarted-workers')

/** Start `n` workers of `file` for a later WorkerPool of that file to adopt. */
export function prestartWorkers (file: string, n: number): void {
  const { Worker } = process.getBuiltinModule('node:worker_threads')
  const list: Prestarted[] = []
  for (let i = 0; i < n; i++) {
    const p: Prestarted = { worker: new Worker(file), file, exited: false }
    p.worker.on('exit', () => { p.exited = true })
    p.worker.on('error', (err: Error) => { p.error = err })
    p.worker.unref()
    list.push(p)
  }
  Reflect.set(globalThis, SLOT, list)
}

/** A prestarted worker of `file` still running, taken at most once; with the error it reported, if any. */
export function takePrestartedWorker (file: string): { worker: Worker, error?: Error } | undefined {
  const list: unknown = Reflect.get(globalThis, SLOT)
  if (!Array.isArray(list)) return undefined
  const i = list.findIndex((p: unknown) => isPrestarted(p) && p.file === file && !p.exited)
  const [p]: unknown[] = i === -1 ? [] : list.splice(i, 1)
  return isPrestarted(p) ? { worker: p.worker, error: p.error } : undefined
}

function isPrestarted (v: unknown): v is Prestarted {
  return typeof v === 'object' && v !== null && 'worker' in v && 'file' in v && 'exited' in v && typeof v.exited === 'boolean'
}
