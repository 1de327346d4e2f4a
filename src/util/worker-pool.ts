import { Worker, parentPort } from 'node:worker_threads'
import { availableParallelism } from 'node:os'
import { createRequire } from 'node:module'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { AbortError, reviveError, serializeError, WorkerError, type SerializedError } from './errors.js'

interface Task<Req, Res> { req: Req, resolve: (r: Res) => void, reject: (e: unknown) => void }
type Reply<Res> = { ok: true, result: Res } | { ok: false, error: SerializedError }

/** How to start a worker: a built `.js` file, or a TypeScript source loaded through tsx. */
export type WorkerScript = { file: string } | { source: string }

/**
 * Locate a worker module next to the calling module. Built code (`dist/*.js`) runs as is; when the
 * caller is TypeScript source (tests, tsx), a small bootstrap registers tsx's loader in the worker
 * and imports the `.ts` sibling (Node 20 ignores `--import` in a worker's execArgv).
 */
export function workerScript (callerUrl: string, relativeJs: string): WorkerScript {
  if (!callerUrl.endsWith('.ts')) return { file: fileURLToPath(new URL(relativeJs, callerUrl)) }
  const target = new URL(relativeJs.replace(/\.js$/, '.ts'), callerUrl).href
  const bundled = typeScriptBundle(target)
  if (bundled !== undefined) return { file: bundled }
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
 * dies fails the task it was running with WORKER_DIED and is replaced when there is work for it
 * (replacing only on demand means a script that cannot even load fails each task once instead of
 * respawning in a loop).
 */
export class WorkerPool<Req, Res> {
  private readonly idle: Worker[] = []
  private readonly all = new Set<Worker>()
  private readonly busy = new Map<Worker, Task<Req, Res>>()
  private readonly errors = new Map<Worker, Error>()
  private readonly queue: Array<Task<Req, Res>> = []
  private closed = false

  constructor (private readonly script: WorkerScript, private readonly size = availableParallelism()) {
    this.size = Math.max(1, size)
    for (let i = 0; i < this.size; i++) this.spawn()
  }

  /** Workers alive now. */
  get alive (): number { return this.all.size }

  async run (req: Req): Promise<Res> {
    if (this.closed) throw new AbortError('worker pool closed')
    return await new Promise<Res>((resolve, reject) => {
      this.queue.push({ req, resolve, reject })
      this.pump()
    })
  }

  private spawn (): void {
    const script = this.script
    const w = 'file' in script ? new Worker(script.file) : new Worker(script.source, { eval: true })
    w.on('message', (reply: Reply<Res>) => { this.onReply(w, reply) })
    // An uncaught exception in the worker: 'exit' follows, and reports it.
    w.on('error', (err: Error) => { this.errors.set(w, err) })
    w.on('exit', (code: number) => { this.onExit(w, code) })
    // An idle worker must not keep the process alive (a CLI command ends when its work does); a
    // busy one must, until its reply arrives. (After the listeners: adding one refs it again.)
    w.unref()
    this.all.add(w)
    this.idle.push(w)
  }

  private pump (): void {
    while (!this.closed && this.queue.length > 0) {
      if (this.idle.length === 0 && this.all.size < this.size) this.spawn()
      const w = this.idle.pop()
      if (w === undefined) return
      const task = this.queue.shift()
      if (task === undefined) { this.idle.push(w); return }
      this.busy.set(w, task)
      w.ref()
      w.postMessage(task.req)
    }
  }

  private onReply (w: Worker, reply: Reply<Res>): void {
    const task = this.busy.get(w)
    if (task === undefined) return
    this.busy.delete(w)
    w.unref()
    this.idle.push(w)
    // An error comes back as its own class (util/errors.ts registry).
    if (reply.ok) task.resolve(reply.result)
    else task.reject(reviveError(reply.error))
    this.pump()
  }

  private onExit (w: Worker, code: number): void {
    this.all.delete(w)
    const i = this.idle.indexOf(w)
    if (i >= 0) this.idle.splice(i, 1)
    const cause = this.errors.get(w)
    this.errors.delete(w)
    const task = this.busy.get(w)
    this.busy.delete(w)
    if (task !== undefined) {
      task.reject(new WorkerError('WORKER_DIED', `a worker thread died while running a task: ${cause?.message ?? `exit code ${code}`}`, {
        details: { exitCode: code }, cause, hint: 'the task was not completed; run the command again (if it keeps failing, the machine may be short of memory)'
      }))
    }
    this.pump()
  }

  async close (): Promise<void> {
    this.closed = true
    for (const t of this.queue.splice(0)) t.reject(new AbortError('worker pool closed'))
    for (const t of this.busy.values()) t.reject(new AbortError('worker pool closed'))
    this.busy.clear()
    await Promise.all([...this.all].map(async w => await w.terminate()))
  }
}

/** Worker side: answer each request with `handler`, preserving PetalError codes across threads. */
export function serveWorker<Req, Res> (handler: (req: Req) => Promise<Res> | Res): void {
  const port = parentPort
  if (port === null) throw new Error('serveWorker must run in a worker thread')
  port.on('message', (req: Req) => {
    Promise.resolve().then(async () => await handler(req)).then(
      result => { port.postMessage({ ok: true, result } satisfies Reply<Res>) },
      (err: unknown) => { port.postMessage({ ok: false, error: serializeError(err) } satisfies Reply<Res>) })
  })
}
