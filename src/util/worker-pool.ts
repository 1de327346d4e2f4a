import { Worker, parentPort } from 'node:worker_threads'
import { availableParallelism } from 'node:os'
import { createRequire } from 'node:module'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { PetalError, AbortError } from './errors.js'

interface Task<Req, Res> { req: Req, resolve: (r: Res) => void, reject: (e: unknown) => void }
interface Reply { ok: boolean, result?: unknown, error?: { name: string, code?: string, message: string, hint?: string, details?: Record<string, unknown> } }

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
  const tsxApi = pathToFileURL(createRequire(callerUrl).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href
  return { source: `import(${JSON.stringify(tsxApi)}).then(m => { m.register(); return import(${JSON.stringify(target)}) })` }
}

/** A fixed-size pool of worker threads running one module; tasks are queued FIFO. */
export class WorkerPool<Req, Res> {
  private readonly idle: Worker[] = []
  private readonly all: Worker[] = []
  private readonly queue: Array<Task<Req, Res>> = []
  private closed = false

  constructor (script: WorkerScript, size = availableParallelism()) {
    for (let i = 0; i < Math.max(1, size); i++) {
      const w = 'file' in script ? new Worker(script.file) : new Worker(script.source, { eval: true })
      w.unref()
      this.all.push(w)
      this.idle.push(w)
    }
  }

  get size (): number { return this.all.length }

  async run (req: Req): Promise<Res> {
    if (this.closed) throw new AbortError('worker pool closed')
    return await new Promise<Res>((resolve, reject) => {
      this.queue.push({ req, resolve, reject })
      this.pump()
    })
  }

  private pump (): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      const w = this.idle.pop() as Worker
      const task = this.queue.shift() as Task<Req, Res>
      const onMessage = (reply: Reply): void => { done(); settle(reply) }
      const onError = (err: Error): void => { done(); task.reject(err) }
      const done = (): void => {
        w.off('message', onMessage)
        w.off('error', onError)
        if (!this.closed) { this.idle.push(w); this.pump() }
      }
      const settle = (reply: Reply): void => {
        if (reply.ok) { task.resolve(reply.result as Res); return }
        const e = reply.error ?? { name: 'Error', message: 'worker failed' }
        // Keep the class name across the thread boundary: the CLI maps errors to exit statuses by it.
        const err = e.code !== undefined ? new PetalError(e.code, e.message, { hint: e.hint, details: e.details }) : new Error(e.message)
        err.name = e.name
        task.reject(err)
      }
      w.on('message', onMessage)
      w.on('error', onError)
      w.postMessage(task.req)
    }
  }

  async close (): Promise<void> {
    this.closed = true
    for (const t of this.queue.splice(0)) t.reject(new AbortError('worker pool closed'))
    await Promise.all(this.all.map(async w => await w.terminate()))
  }
}

/** Worker side: answer each request with `handler`, preserving PetalError codes across threads. */
export function serveWorker<Req, Res> (handler: (req: Req) => Promise<Res> | Res): void {
  const port = parentPort
  if (port === null) throw new Error('serveWorker must run in a worker thread')
  port.on('message', (req: Req) => {
    Promise.resolve().then(async () => await handler(req)).then(
      result => { port.postMessage({ ok: true, result }) },
      (err: unknown) => {
        const e = err instanceof Error ? err : new Error(String(err))
        const pe = e instanceof PetalError ? e : undefined
        port.postMessage({ ok: false, error: { name: e.name, message: e.message, code: pe?.code, hint: pe?.hint, details: pe === undefined ? undefined : sanitize(pe.details) } })
      })
  })
}

function sanitize (d: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return JSON.parse(JSON.stringify(d, (_k, v: unknown) => typeof v === 'bigint' ? v.toString() : v)) as Record<string, unknown>
}
