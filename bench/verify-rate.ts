// Plain verify's throughput on large blocks as a rate (issue 13): `petal verify` over a chain of N
// large blocks and over one of 2N, against the raw-hashing reference over the same files in a
// process of its own, all four in turns. The extra bytes over the extra time is each side's rate
// with every fixed cost (process and worker start, code load, the index, the report) taken out;
// the intercept is the fixed cost. Wall time and CPU time (the process and its threads) both.
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { childrenCpuMs, type Row } from './report.js'
import { userEnv } from './user-env.js'

/** The raw hashing of the reference: SHA-256 of each file, whole, in its worker thread. */
const HASH_BODY = `const { parentPort, workerData } = require('node:worker_threads'); const { createHash } = require('node:crypto'); const fs = require('node:fs');
    for (const f of workerData) { const h = createHash('sha256'); h.update(fs.readFileSync(f)); h.digest() } parentPort.postMessage(0)`

/** Source of a worker that hashes the files it is given (the in-process reference runs it too). */
export const RAW_SHA_WORKER = HASH_BODY

/** The same hashing as the in-process reference, in a process of its own, as the CLI runs (process start-up on both sides). */
export function rawParallelShaProcess (files: string[], n: number, scratch: string): void {
  const list = join(scratch, `files-${files.length}.json`)
  writeFileSync(list, JSON.stringify(files))
  const src = `const { Worker } = require('node:worker_threads'); const files = JSON.parse(require('node:fs').readFileSync(process.argv[1], 'utf8')); const n = ${n}
    const body = ${JSON.stringify(HASH_BODY)}
    const parts = Array.from({ length: n }, (_, i) => files.filter((_, j) => j % n === i))
    Promise.all(parts.map(p => new Promise(resolve => { const w = new Worker(body, { eval: true, workerData: p }); w.on('message', resolve) }))).then(() => process.exit(0))`
  execFileSync(process.execPath, ['-e', src, list], { stdio: 'ignore', env: userEnv })
}

export interface RateInput {
  cli: string
  /** Data directories of the same chain at N and at 2N large blocks. */
  dirs: [string, string]
  /** Their block files. */
  files: [string[], string[]]
  bytes: [number, number]
  runs: number
  scratch: string
}

interface Side { wall: [number[], number[]], cpu: [number[], number[]] }

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN

/** Rows: each side's marginal rate (wall, CPU), its fixed cost, and the whole command at 2N. */
export function verifyRateRows (r: RateInput): Row[] {
  const petal: Side = { wall: [[], []], cpu: [[], []] }
  const raw: Side = { wall: [[], []], cpu: [[], []] }
  const timed = (side: Side, i: 0 | 1, f: () => void): void => {
    const c = childrenCpuMs()
    const t = performance.now()
    f()
    side.wall[i].push(performance.now() - t)
    side.cpu[i].push(childrenCpuMs() - c)
  }
  const cli = (i: 0 | 1) => () => { execFileSync(process.execPath, [r.cli, '--dir', r.dirs[i], 'verify'], { stdio: 'ignore', env: userEnv }) }
  const ref = (i: 0 | 1) => () => { rawParallelShaProcess(r.files[i], 2, r.scratch) }
  cli(0)(); ref(0)()
  for (let k = 0; k < r.runs; k++) {
    for (const i of [0, 1] as const) { timed(petal, i, cli(i)); timed(raw, i, ref(i)) }
  }
  const extra = (r.bytes[1] - r.bytes[0]) / 1048576
  // The rate from the medians of each chain's runs; the fixed cost is the intercept at 0 bytes.
  const fit = (t: [number[], number[]]): { rate: number, fixed: number, whole: number } => {
    const [a, b] = [median(t[0]), median(t[1])]
    const rate = extra / ((b - a) / 1000)
    return { rate, fixed: a - (r.bytes[0] / 1048576) / rate * 1000, whole: b }
  }
  const [pw, rw, pc, rc] = [fit(petal.wall), fit(raw.wall), fit(petal.cpu), fit(raw.cpu)]
  const n = `${r.files[0].length} → ${r.files[1].length} blocks (+${extra.toFixed(0)} MiB)`
  const mib = r.bytes[1] / 1048576
  return [
    { figure: `\`petal verify\` (CLI), marginal rate, ${n}, wall`, value: pw.rate, unit: 'MiB/s', reference: 'raw SHA-256, 2 threads, own process, same way', refValue: rw.rate, better: 'higher', note: 'goal: ≥ 0.8× (issue 13, judged on the rate)' },
    { figure: `\`petal verify\` (CLI), marginal rate, ${n}, CPU`, value: pc.rate, unit: 'MiB/s', reference: 'raw SHA-256, 2 threads, own process, same way', refValue: rc.rate, better: 'higher', note: 'MiB per CPU-second, all threads' },
    { figure: '`petal verify` (CLI), fixed cost (intercept), wall', value: pw.fixed, unit: 'ms', reference: 'raw SHA-256, own process, same way', refValue: rw.fixed, better: 'lower' },
    { figure: '`petal verify` (CLI), fixed cost (intercept), CPU', value: pc.fixed, unit: 'ms', reference: 'raw SHA-256, own process, same way', refValue: rc.fixed, better: 'lower' },
    { figure: `\`petal verify\` (CLI), whole command, ${r.files[1].length} blocks, ${mib.toFixed(0)} MiB, wall`, value: mib / (pw.whole / 1000), unit: 'MiB/s', reference: 'raw SHA-256, 2 threads, own process', refValue: mib / (rw.whole / 1000), better: 'higher', note: `${pw.whole.toFixed(0)} and ${rw.whole.toFixed(0)} ms` }
  ]
}
