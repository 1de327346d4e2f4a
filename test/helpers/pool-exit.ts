// Run as a process: a pool that did some work and was never closed must not keep the process alive.
// argv[2]: the workers' script as JSON (a WorkerScript: worker-pool.test.ts gives the suite's bundle
// of crash-worker.ts, as this file runs as a bundle too, away from its sibling); by default the
// sibling crash-worker.ts through tsx.
import '../../src/polyfills.js'
import { WorkerPool, workerScript, type WorkerScript } from '../../src/util/index.js'
import type { CrashRequest } from './crash-worker.js'

const script = process.argv[2] === undefined ? workerScript(import.meta.url, './crash-worker.js') : JSON.parse(process.argv[2]) as WorkerScript
const pool = new WorkerPool<CrashRequest, number>(script, 2)
process.stdout.write(`echo ${await pool.run({ op: 'echo', value: 7 })}\n`)
