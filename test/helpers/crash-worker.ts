// A worker for WorkerPool tests: echoes, or dies in the way the request asks.
import { serveWorker } from '../../src/util/index.js'

export type CrashRequest = { op: 'echo', value: number } | { op: 'exit' } | { op: 'throw' }

serveWorker<CrashRequest, number>(async req => {
  if (req.op === 'echo') return req.value
  if (req.op === 'exit') process.exit(3)
  // An exception outside the handler's promise: uncaught in the worker thread.
  setImmediate(() => { throw new Error('boom') })
  return await new Promise<number>(() => {})
})
