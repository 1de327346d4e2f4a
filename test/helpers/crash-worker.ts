// A worker for WorkerPool tests: echoes, or dies in the way the request asks.
import { threadId } from 'node:worker_threads'
import { pausepointSync, serveWorker } from '../../src/util/index.js'

export type CrashRequest = { op: 'echo', value: number, delayMs?: number } | { op: 'exit' } | { op: 'throw' } | { op: 'pause', name: string }

serveWorker<CrashRequest, number>(async req => {
  if (req.op === 'echo') {
    // A reply that would overtake the next request's if requests ran side by side.
    if (req.delayMs !== undefined) await new Promise(resolve => setTimeout(resolve, req.delayMs))
    return req.value
  }
  if (req.op === 'exit') process.exit(3)
  // Held at a pausepoint (PETAL_PAUSE in the pool's environment) until the test removes the file.
  if (req.op === 'pause') { pausepointSync(req.name); return threadId }
  // An exception outside the handler's promise: uncaught in the worker thread.
  setImmediate(() => { throw new Error('boom') })
  return await new Promise<number>(() => {})
})
