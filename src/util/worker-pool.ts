import { Worker, parentPort } from 'node:worker_threads'
import { availableParallelism } from 'node:os'
import { createRequire } from 'node:module'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { AbortError, reviveError, serializeError, WorkerError, type SerializedError } from './errors.js'
import { takePrestartedWorker } from './prestart-workers.js'

interface Task<Req, Res> { req: Req, resolve: (r: Res) => void, reject: (e: unknown) => void, alone: boolean }
type Reply<Res> = { ok: true, result: Res } | { ok: false, error: SerializedError }

/**
 * How to start a worker: a built `.js` file (with `execArgv`, the options its thread starts with
 * instead of this process's), or a TypeScript source loaded through tsx.
 */
export type WorkerScript = { file: string, execArgv?: string[] } | { source: string }

/**
 * Locate a worker module next to the calling module. Built code (`dist/*.js`) runs as is; when the
 * caller is TypeScript source (tests, tsx), a small bootstrap registers tsx's loader in the worker
 * and imports the `.ts` sibling (the `--import tsx` a worker inherits does not load `.ts` files).
 * A bundle of the entry (setTypeScriptBundler) starts with no options, as the CLI's threads do:
 * the inherited `--import tsx` alone cost each new thread 60-170 ms (docs/performance/verify.md,
 * "Session 11: verify"), which the in-process benchmarks counted and no user pays.
 */
export function workerScript (callerUrl: string, relativeJs: string): WorkerScript {
  if (!callerUrl.endsWith('.ts')) return { file: fileURLToPath(new URL(relativeJs, callerUrl)) }
  const target = new URL(relativeJs.replace(/\.js$/, '.ts'), callerUrl).href
  const bundled = typeScriptBundle(target)
  if (bundled !== undefined) return { file: bundled, execArgv: [] }
  const tsxApi = pathToFileURL(createRequire(callerUrl).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href
  return { source: `import(${JSON.stringify(tsxApi)}).then(m => { m.register(); return import(${JSON.stringify(target)}) })` }
}

let bundler: ((tsUrl: string) => string) | undefined

/**
 * Start threads and processes whose entry is TypeScript source from a JavaScript bundle of it
 * that `bundle` makes (undefined: through tsx again). The test suite does
 * (test/helpers/entry-bundles.ts): tsx compiles every module of the entry again in each new
 * thread or process, about 0.5 s of CPU each time. Returns the bundler it replaces.
 */
export function setTypeScriptBundler (bundle: ((tsUrl: string) => string) | undefined): ((tsUrl: string) => string) | undefined {
  const before = bundler
  bundler = bundle
  return before
}

/** The bundle to run for the TypeScript entry `tsUrl`, if a bundler is set (see above). */
export function typeScriptBundle (tsUrl: string): string | undefined {
  return bundler?.(tsUrl)
}

/**
 * A fixed-size pool of worker threads running one module; tasks are queued FIFO. A worker that
 * dies fails the tasks it was given with WORKER_DIED and is replaced when there is work for it
 * (replacing only on demand means a script that cannot even load fails each task once instead of
 * respawning in a loop). With `depth` > 1 each worker is given up to that many tasks at once, run
 * in order (serveWorker): the next one is waiting in its port when a reply leaves, instead of a
 * round trip through this thread later (plain verify of large blocks: a worker idle for every
 * block's reply on a loaded machine).
 */
export class WorkerPool<Req, Res> {
  private readonly all = new Set<Worker>()
  /** The tasks each live worker was given, oldest first (its replies come in that order). */
  private readonly given = new Map<Worker, Array<Task<Req, Res>>>()
  private readonly errors = new Map<Worker, Error>()
  private readonly queue: Array<Task<Req, Res>> = []
  private closed = false
  private readonly depth: number

  constructor (private readonly script: WorkerScript, private readonly size = availableParallelism(), o: { depth?: number } = {}) {
    this.size = Math.max(1, size)
    this.depth = Math.max(1, o.depth ?? 1)
    for (let i = 0; i < this.size; i++) this.spawn()
  }

  /** Workers alive now. */
  get alive (): number { return this.all.size }

  /** Tasks waiting for a worker (not yet given to one). */
  get waiting (): number { return this.queue.length }

  /**
   * `alone`: a long task (a huge block) is given only to an idle worker, and nothing is queued
   * behind it, so that with `depth` > 1 a task never waits in a busy worker's port while another
   * worker idles.
   */
  async run (req: Req, o: { alone?: boolean } = {}): Promise<Res> {
    if (this.closed) throw new AbortError('worker pool closed')
    return await new Promise<Res>((resolve, reject) => {
      this.queue.push({ req, resolve, reject, alone: o.alone === true })
      this.pump()
    })
  }

  private spawn (): void {
    const script = this.script
    // A worker the CLI's router started early for this script, if any (util/prestart-workers.ts).
    const early = 'file' in script ? takePrestartedWorker(script.file) : undefined
    const w = early?.worker ?? ('file' in script ? new Worker(script.file, { execArgv: script.execArgv }) : new Worker(script.source, { eval: true }))
    if (early?.error !== undefined) this.errors.set(w, early.error)
    w.on('message', (reply: Reply<Res>) => { this.onReply(w, reply) })
    // An uncaught exception in the worker: 'exit' follows, and reports it.
    w.on('error', (err: Error) => { this.errors.set(w, err) })
    w.on('exit', (code: number) => { this.onExit(w, code) })
    // An idle worker must not keep the process alive (a CLI command ends when its work does); a
    // busy one must, until its reply arrives. (After the listeners: adding one refs it again.)
    w.unref()
    this.all.add(w)
    this.given.set(w, [])
  }

  /** The live worker with the fewest tasks, if it can take `task` too. */
  private leastBusy (task: Task<Req, Res>): Worker | undefined {
    let best: Worker | undefined
    let n = this.depth
    for (const [w, tasks] of this.given) {
      if (tasks.length >= n) continue
      if (tasks.length > 0 && (task.alone || tasks.some(t => t.alone))) continue
      best = w
      n = tasks.length
    }
    return best
  }

  private pump (): void {
    while (!this.closed) {
      const task = this.queue[0]
      if (task === undefined) return
      let w = this.leastBusy(task)
      if ((w === undefined || (this.given.get(w)?.length ?? 0) > 0) && this.all.size < this.size) { this.spawn(); w = this.leastBusy(task) }
      const tasks = w === undefined ? undefined : this.given.get(w)
      if (w === undefined || tasks === undefined) return
      this.queue.shift()
      tasks.push(task)
      w.ref()
      w.postMessage(task.req)
    }
  }

  private onReply (w: Worker, reply: Reply<Res>): void {
    const tasks = this.given.get(w)
    const task = tasks?.shift()
    if (task === undefined) return
    if (tasks?.length === 0) w.unref()
    // An error comes back as its own class (util/errors.ts registry).
    if (reply.ok) task.resolve(reply.result)
    else task.reject(reviveError(reply.error))
    this.pump()
  }

  private onExit (w: Worker, code: number): void {
    this.all.delete(w)
    const cause = this.errors.get(w)
    this.errors.delete(w)
    const tasks = this.given.get(w) ?? []
    this.given.delete(w)
    for (const task of tasks) {
      task.reject(new WorkerError('WORKER_DIED', `a worker thread died while running a task: ${cause?.message ?? `exit code ${code}`}`, {
        details: { exitCode: code }, cause, hint: 'the task was not completed; run the command again (if it keeps failing, the machine may be short of memory)'
      }))
    }
    this.pump()
  }

  async close (): Promise<void> {
    this.closed = true
    for (const t of this.queue.splice(0)) t.reject(new AbortError('worker pool closed'))
    // A task given to a worker is failed only once the worker has stopped: its caller may then
    // clean up after it (discardLoaded) without the thread still creating a file behind it.
    const running = [...this.given.values()].flatMap(tasks => tasks.splice(0))
    await Promise.all([...this.all].map(async w => await w.terminate()))
    for (const t of running) t.reject(new AbortError('worker pool closed'))
  }
}

/** Worker side: answer each request with `handler`, preserving PetalError codes across threads. */
export function serveWorker<Req, Res> (handler: (req: Req) => Promise<Res> | Res): void {
  const port = parentPort
  if (port === null) throw new Error('serveWorker must run in a worker thread')
  // One request at a time, in the order they came: a pool with depth > 1 matches replies to its
  // requests by that order.
  let previous: Promise<void> = Promise.resolve()
  port.on('message', (req: Req) => {
    previous = previous.then(async () => await handler(req)).then(
      result => { port.postMessage({ ok: true, result } satisfies Reply<Res>) },
      (err: unknown) => { port.postMessage({ ok: false, error: serializeError(err) } satisfies Reply<Res>) })
  })
}
