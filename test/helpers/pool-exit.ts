// Run as a process: a pool that did some work and was never closed must not keep the process alive.
import '../../src/polyfills.js'
import { WorkerPool, workerScript } from '../../src/util/index.js'
import type { CrashRequest } from './crash-worker.js'

const pool = new WorkerPool<CrashRequest, number>(workerScript(import.meta.url, './crash-worker.js'), 2)
process.stdout.write(`echo ${await pool.run({ op: 'echo', value: 7 })}\n`)
