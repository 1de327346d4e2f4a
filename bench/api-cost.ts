// Instruction counts of a server per POST /records request (docs/performance/ingest.md, "Session 10:
// ingest"). This process is the server, run under valgrind; the client is a forked process that
// valgrind does not trace. `petal`: Petal's API server (the lean lane, Fastify behind it) with the
// ingest service on a real pending.db, as a node serves it, without the network; `durable`: the
// api bench's durable floor (node:http, JSON.parse, one fsync'd INSERT transaction per request).
// The client posts `warm` requests, then `n` more, one at a time; the difference between two
// counts with different `n` is the per-request cost, start-up and warm-up cancelling.
//   valgrind --tool=cachegrind --cache-sim=no node [--no-opt] --import tsx bench/api-cost.ts petal 200 [warm] [batch]
// With API_COST_CALLGRIND=1 under `valgrind --tool=callgrind --instr-atstart=no`, instrumentation
// is switched on (callgrind_control -i) for the measured requests only, so one run gives the
// per-request cost by function; `node --perf-basic-prof` names the JIT code (bench/callgrind-js.py).
// API_COST_THREADS=1 prints each thread's CPU per measured request (bench/thread-cpu.ts).
import '../src/polyfills.js'
import Database from 'better-sqlite3'
import { execFile, fork } from 'node:child_process'
import { PerformanceObserver } from 'node:perf_hooks'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startApiServer, TokenStore } from '../src/api/index.js'
import { createChain } from '../src/chain/index.js'
import { generateSigningKey } from '../src/crypto/index.js'
import { Ingest } from '../src/ingest/index.js'
import { DEFAULT_CONSENSUS } from '../src/storage/index.js'
import { durableFloor } from './api-floors.js'
import { threadCpu, threadCpuReport, type ThreadCpu } from './thread-cpu.js'

const [mode = 'petal', n = '200', warm = '200', batch = '1'] = process.argv.slice(2)

if (mode === 'client') {
  const { LeanConnection, prepareRequest } = await import('./lean-http.js')
  const { rowsJson } = await import('./api-http.js')
  process.once('message', (m: { url: string, token: string, requests: number, warm: number, batch: number }) => {
    void (async () => {
      const url = new URL(m.url)
      const headers = { authorization: `Bearer ${m.token}`, 'content-type': 'application/json' }
      let conn = await LeanConnection.open(url.hostname, Number(url.port))
      for (let i = 0; i < m.requests; i++) {
        if (i === m.warm) {
          await new Promise<void>(resolve => { process.once('message', () => { resolve() }); process.send?.('measure') })
          // Under valgrind on a loaded machine, switching instrumentation on can outlast the
          // server's keep-alive timeout (5 s), which closes the idle connection: open another.
          if (!conn.usable) conn = await LeanConnection.open(url.hostname, Number(url.port))
        }
        const r = await conn.send(prepareRequest(url, 'POST', headers, rowsJson(m.batch, 1000 + i * m.batch)))
        if (r.status !== 202) throw new Error(`${r.status} ${r.body.toString()}`)
        if (process.env.API_COST_MARKS !== undefined && i % 250 === 0) process.stderr.write(`--- request ${i}\n`)
      }
      conn.close()
      process.disconnect()
    })()
  })
} else {
  const root = mkdtempSync(join(tmpdir(), 'petal-api-cost-'))
  let url: string
  let token = ''
  let stop: () => Promise<void>
  if (mode === 'petal') {
    const key = generateSigningKey()
    const chain = await createChain(join(root, 'd'), { creator: 'bench', description: 'cost', bootstrapPeers: [], consensus: { ...DEFAULT_CONSENSUS } }, key)
    const ingest = Ingest.open({ chain, key })
    // A kept-alive connection is not closed under valgrind on a loaded machine, where a request can
    // take longer than the default 5 s (the client then failed with ECONNRESET mid-measure).
    const api = await startApiServer({ dir: chain.dir.root, address: { host: '127.0.0.1', port: 0 }, ingest, watchMs: 1e9, limits: { keepAliveTimeoutMs: 600_000 } })
    token = TokenStore.of(chain.dir.root).create({ scope: 'write' }).token
    url = `${api.url}api/v1/records/readings`
    stop = async () => { await api.close(); await ingest.close(); chain.close() }
  } else {
    const db = new Database(join(root, 'durable-floor.db'))
    const floor = await durableFloor(db)
    url = floor.url
    stop = async () => { await new Promise(resolve => floor.server.close(resolve)); db.close() }
  }
  const client = fork(import.meta.filename, ['client'], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  // Heap growth and collections between the warm-up's end and the client's: with a new space
  // large enough for no collection to run (--max-semi-space-size), the bytes allocated per request.
  let gcs = 0
  new PerformanceObserver(list => { gcs += list.getEntries().length }).observe({ entryTypes: ['gc'] })
  let heap = 0
  let cpu = process.cpuUsage()
  let usage = process.resourceUsage()
  let wall = performance.now()
  const byThread = process.env.API_COST_THREADS !== undefined
  let threads: ThreadCpu = new Map()
  // API_COST_PROFILE=FILE: a CPU profile (inspector) of the measured requests only.
  const profile = process.env.API_COST_PROFILE
  const inspector = profile === undefined ? undefined : new (await import('node:inspector')).Session()
  inspector?.connect()
  if (inspector !== undefined) await new Promise(resolve => { inspector.post('Profiler.enable', () => { inspector.post('Profiler.setSamplingInterval', { interval: 50 }, resolve) }) })
  const callgrind = (on: boolean, then: () => void): void => {
    if (inspector !== undefined) {
      if (on) { inspector.post('Profiler.start', () => { then() }); return }
      inspector.post('Profiler.stop', (err, r) => { if (err !== null) throw err; writeFileSync(profile as string, JSON.stringify(r.profile)); then() })
      return
    }
    if (process.env.API_COST_CALLGRIND === undefined) { then(); return }
    execFile('callgrind_control', ['-i', on ? 'on' : 'off', String(process.pid)], err => { if (err !== null) throw err; then() })
  }
  client.on('message', m => {
    if (m === 'measure') callgrind(true, () => { gcs = 0; heap = process.memoryUsage().heapUsed; cpu = process.cpuUsage(); usage = process.resourceUsage(); if (byThread) threads = threadCpu(); wall = performance.now(); client.send('go') })
  })
  client.send({ url, token, requests: Number(warm) + Number(n), warm: Number(warm), batch: Number(batch) })
  const code = await new Promise<number | null>(resolve => client.once('exit', resolve))
  const used = process.cpuUsage(cpu)
  wall = performance.now() - wall // the client's exit included: one IPC message's worth
  const after = process.resourceUsage()
  if (byThread) for (const line of threadCpuReport(threads, Number(n))) process.stderr.write(`api-cost ${line}\n`)
  await new Promise<void>(resolve => { callgrind(false, resolve) })
  process.stderr.write(`api-cost: ${mode}, ${n} requests of ${batch} rows measured: ${((process.memoryUsage().heapUsed - heap) / Number(n)).toFixed(0)} bytes of heap per request, ${gcs} collections; wall ${(wall * 1000 / Number(n)).toFixed(1)} µs, CPU per request ${(used.user / Number(n)).toFixed(1)} µs user + ${(used.system / Number(n)).toFixed(1)} µs system; per request ${((after.minorPageFault - usage.minorPageFault) / Number(n)).toFixed(2)} minor page faults, ${((after.voluntaryContextSwitches - usage.voluntaryContextSwitches) / Number(n)).toFixed(2)} voluntary and ${((after.involuntaryContextSwitches - usage.involuntaryContextSwitches) / Number(n)).toFixed(2)} involuntary context switches\n`)
  await stop()
  rmSync(root, { recursive: true, force: true })
  if (code !== 0) throw new Error(`client exited ${code}`)
}
