// A worker for WorkerPool tests: echoes, or dies in the way the request asks.
import { serveWorker } from '../../src/util/index.js'

export type CrashRequest = { op: 'echo', value: number, delayMs?: number } | { op: 'exit' } | { op: 'throw' }

serveWorker<CrashRequest, number>(async req => {
  if (req.op === 'echo') {
    // A reply that would overtake the next request's if requests ran side by side.
    if (req.delayMs !== undefined) await new Promise(resolve => setTimeout(resolve, req.delayMs))
    return req.value
  }
  if (req.op === 'exit') process.exit(3)
  // An exception outside the handler's promise: uncaught in the worker thread.
  setImmediate(() => { throw new Error('boom') })
  return await new Promise<number>(() => {})
})
