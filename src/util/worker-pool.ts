import { Worker, parentPort } from 'node:worker_threads'
import { availableParallelism } from 'node:os'
import { createRequire } from 'node:module'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { AbortError, reviveError, serializeError, type SerializedError } from './errors.js'

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
    for (;;) {
      const w = this.idle.at(-1)
      const task = this.queue[0]
      if (w === undefined || task === undefined) return
      this.idle.pop()
      this.queue.shift()
      const onMessage = (reply: Reply<Res>): void => { done(); settle(reply) }
      const onError = (err: Error): void => { done(); task.reject(err) }
      const done = (): void => {
        w.off('message', onMessage)
        w.off('error', onError)
        if (!this.closed) { this.idle.push(w); this.pump() }
      }
      const settle = (reply: Reply<Res>): void => {
        // An error comes back as its own class (util/errors.ts registry).
        if (reply.ok) task.resolve(reply.result)
        else task.reject(reviveError(reply.error))
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
      result => { port.postMessage({ ok: true, result } satisfies Reply<Res>) },
      (err: unknown) => { port.postMessage({ ok: false, error: serializeError(err) } satisfies Reply<Res>) })
  })
}
