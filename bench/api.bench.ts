// HTTP API benchmarks, each figure next to a reference measured in the same run, in alternating
// turns so that machine load falls on both alike. The client runs in its own process
// (bench/api-client.ts), so no figure includes a client sharing the server's event loop:
// - GET /api/v1/blocks/{ref}/file throughput against reading the same file from disk;
// - POST /api/v1/query latency for a small aggregate against the engine in process (warm sandbox);
// - POST /api/v1/records rows/s (batches of 1, 100 and 10,000 rows; 1 and 16 clients) against
//   INSERT of the same rows into a plain SQLite file with synchronous=FULL;
//   and the latency of single-row acknowledgements, one request at a time, against one fsync'd
//   commit. Each of those figures notes two floors, the same requests from the same client process to
//   node:http servers in the server's process: one that reads the body and answers 202 doing
//   nothing else (the HTTP floor), and one that parses the JSON and INSERTs its rows in one
//   fsync'd transaction before answering (the durable floor: the least any HTTP server that
//   acknowledges durable rows can cost, with no Petal code in it). A lone client cannot overlap
//   the round trip with the commit, so the durable floor over the reference shows how near 1× an
//   HTTP figure can physically come (docs/ingest.md, "Costs");
// - seal latency p50/p95, from the 202 to the receipt reading "sealed".
import '../src/polyfills.js'
import Database from 'better-sqlite3'
import { fork, type ChildProcess } from 'node:child_process'
import { createReadStream, mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TokenStore } from '../src/api/index.js'
import { createChain, signImport } from '../src/chain/index.js'
import { generateSigningKey, type SigningKey } from '../src/crypto/index.js'
import { PetalNode } from '../src/node/index.js'
import { QuerySandbox, runQuery } from '../src/query/index.js'
import { DEFAULT_CONSENSUS } from '../src/storage/index.js'
import { durableFloor, floorServer } from './api-floors.js'
import { agent, call, reading, rowsJson, type Reading } from './api-http.js'
import { printTable, type Row } from './report.js'

const root = mkdtempSync(join(tmpdir(), 'petal-bench-api-'))

const pct = (xs: number[], p: number): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))] as number }
const median = (xs: number[]): number => pct(xs, 0.5)

/** The client process: `ask` sends it a command and resolves with its answer. */
interface Client { proc: ChildProcess, ask: (m: Record<string, unknown>) => Promise<{ ms: number, text?: string }> }

function startClient (): Client {
  const proc = fork(join(import.meta.dirname, 'api-client.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  let next = 0
  const waiting = new Map<number, { resolve: (r: { ms: number, text?: string }) => void, reject: (e: Error) => void }>()
  proc.on('message', (m: { id: number, ms: number, text?: string, error?: string }) => {
    const w = waiting.get(m.id)
    waiting.delete(m.id)
    if (m.error !== undefined) w?.reject(new Error(m.error))
    else w?.resolve(m)
  })
  proc.on('exit', code => { for (const w of waiting.values()) w.reject(new Error(`the bench client exited (${code})`)) })
  return {
    proc,
    ask: async m => await new Promise((resolve, reject) => {
      const id = next++
      waiting.set(id, { resolve, reject })
      proc.send({ ...m, id })
    })
  }
}

function sqliteFile (path: string, rows: number, width: number): string {
  const db = new Database(path)
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT, v INTEGER, pad TEXT)')
  const ins = db.prepare('INSERT INTO t (k, v, pad) VALUES (?, ?, ?)')
  db.transaction(() => { for (let i = 0; i < rows; i++) ins.run(`k${i % 10}`, i, 'x'.repeat(width)) })()
  db.close()
  return path
}

async function startNode (name: string, key: SigningKey, seal: { everyMs: number }): Promise<{ node: PetalNode, url: string, token: string }> {
  const dir = join(root, name)
  const chain = await createChain(dir, { creator: 'bench', description: name, bootstrapPeers: [], consensus: { ...DEFAULT_CONSENSUS } }, key)
  const node = await PetalNode.create({
    dir, chain, signingKey: key, stateFile: false,
    network: { listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [], discovery: false },
    http: { address: { host: '127.0.0.1', port: 0 } },
    ingest: { everyMs: seal.everyMs, pollMs: 20 }
  })
  await node.start()
  return { node, url: node.httpUrl ?? '', token: TokenStore.of(dir).create({ scope: 'write' }).token }
}

async function reads (key: SigningKey, client: Client): Promise<{ files: Row[], queries: Row[] }> {
  const { node, url } = await startNode('reads', key, { everyMs: 3_600_000 })
  const chain = node.chain
  // One large block (about 32 MiB) for the file, and 20 small ones for the aggregate.
  await signImport(chain, sqliteFile(join(root, 'big.db'), 120_000, 250), key)
  const big = chain.tip()
  for (let i = 0; i < 20; i++) await signImport(chain, sqliteFile(join(root, `small${i}.db`), 100, 10), key)
  const path = chain.pathOf(big)
  const size = statSync(path).size
  const fileUrl = `${url}api/v1/blocks/${big.hash}/file`
  await client.ask({ cmd: 'get', url: fileUrl, bytes: size }) // the first request proves the file's identity by hashing it
  const http: number[] = []
  const disk: number[] = []
  for (let turn = 0; turn < 8; turn++) {
    http.push((await client.ask({ cmd: 'get', url: fileUrl, bytes: size })).ms)
    const s = performance.now()
    await new Promise<void>((resolve, reject) => { const st = createReadStream(path); st.on('data', () => {}); st.on('end', resolve); st.on('error', reject) })
    disk.push(performance.now() - s)
  }
  const mibs = (ms: number): number => size / 1024 / 1024 / (ms / 1000)
  const files: Row[] = [{ figure: `GET /blocks/{hash}/file, ${(size / 1024 / 1024).toFixed(0)} MiB block`, value: mibs(median(http)), unit: 'MiB/s', reference: 'reading the file from disk (page cache)', refValue: mibs(median(disk)), better: 'higher' }]

  const sql = 'SELECT k, COUNT(*), SUM(v) FROM t GROUP BY k'
  const sandbox = new QuerySandbox(chain.dir.root)
  await node.syncMirror()
  const body = JSON.stringify({ sql })
  for (let i = 0; i < 5; i++) { await client.ask({ cmd: 'query', url: `${url}api/v1/query`, body }); await runQuery(chain, { sql, format: 'ndjson', sandbox, sync: false, onText: () => {} }) }
  const viaHttp: number[] = []
  const inProcess: number[] = []
  let answer = ''
  for (let i = 0; i < 100; i++) {
    const r = await client.ask({ cmd: 'query', url: `${url}api/v1/query`, body })
    viaHttp.push(r.ms)
    answer = r.text ?? ''
    const s = performance.now()
    await runQuery(chain, { sql, format: 'ndjson', sandbox, sync: false, onText: () => {} })
    inProcess.push(performance.now() - s)
  }
  if (!answer.startsWith('{"k":"k0"')) throw new Error(`unexpected answer ${answer}`)
  await sandbox.close()
  const queries: Row[] = [
    { figure: 'POST /query, small aggregate, p50', value: median(viaHttp), unit: 'ms', reference: 'runQuery in process, warm sandbox', refValue: median(inProcess), better: 'lower', note: `HTTP overhead ${(median(viaHttp) - median(inProcess)).toFixed(2)} ms` },
    { figure: 'POST /query, small aggregate, p95', value: pct(viaHttp, 0.95), unit: 'ms', reference: 'runQuery in process, warm sandbox', refValue: pct(inProcess, 0.95), better: 'lower' }
  ]
  await node.stop()
  return { files, queries }
}

function plainDb (path: string): { insert: (rows: Reading[]) => void, close: () => void } {
  const db = new Database(path)
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = FULL')
  db.exec('CREATE TABLE readings (sensor TEXT, at INTEGER, value REAL, note TEXT)')
  const ins = db.prepare('INSERT INTO readings (sensor, at, value, note) VALUES (?, ?, ?, ?)')
  const tx = db.transaction((rows: Reading[]) => { for (const r of rows) ins.run(...r) })
  return { insert: rows => { tx(rows) }, close: () => { db.close() } }
}

// Requests of each kind sent to every server before the measured turns (see writes()).
const WARM_SINGLE = Number(process.env.PETAL_BENCH_WARM ?? 3_000)
const WARM_BATCHED = Math.ceil(WARM_SINGLE / 10)

async function writes (key: SigningKey, client: Client): Promise<{ rows: Row[], latency: Row[] }> {
  // Sealing is off while acknowledgements are measured (it has its own figure below).
  const { node, url, token } = await startNode('writes', key, { everyMs: 3_600_000 })
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
  const ref = plainDb(join(root, 'ref.db'))
  const floor = await floorServer()
  // The durable floor's own file, WAL + synchronous=FULL like the reference (bench/api-floors.ts).
  const durableDb = new Database(join(root, 'durable-floor.db'))
  const durable = await durableFloor(durableDb)
  await call(`${url}api/v1/records/readings`, { method: 'POST', headers, body: rowsJson(10, 0) })
  const rows: Row[] = []
  let next = 10
  // PETAL_BENCH_BATCHES=100 (comma-separated) measures only those batch sizes, for profiling.
  const only = process.env.PETAL_BENCH_BATCHES?.split(',').map(Number)
  // Warm-up, the same requests to every server and the same inserts to the reference: V8 optimises
  // POST /records' path only after 1,000-2,500 requests (--trace-opt), the floors' few functions
  // far sooner, so without it the first turns compared Petal's unoptimised code with the floors'
  // optimised code. A node serves for days: the steady state is what its clients get.
  for (const { batch, requests } of [{ batch: 1, requests: WARM_SINGLE }, { batch: 100, requests: WARM_BATCHED }].filter(p => only === undefined || only.includes(p.batch))) {
    for (const target of [`${url}api/v1/records/readings`, floor.url, durable.url]) {
      await client.ask({ cmd: 'post', url: target, headers, batch, requests, from: next, clients: 1 })
      next += batch * requests
    }
    for (let r = 0; r < requests; r++) ref.insert(Array.from({ length: batch }, (_, j) => reading(next + j)))
    next += batch * requests
  }
  // Short turns, many of them: the machine's load comes in bursts, and each turn's ratio pairs a
  // figure with a reference measured moments apart.
  const plan = [{ batch: 1, requests: 100, turns: 7 }, { batch: 100, requests: 32, turns: 7 }, { batch: 10_000, requests: 16, turns: 3 }].filter(p => only === undefined || only.includes(p.batch))
  for (const { batch, requests, turns } of plan) {
    for (const clients of [1, 16]) {
      const t = { http: [] as number[], ref: [] as number[], floor: [] as number[], durable: [] as number[] }
      for (let turn = 0; turn < turns; turn++) {
        const from = next
        next += batch * requests
        const post = async (target: string): Promise<number> => (await client.ask({ cmd: 'post', url: target, headers, batch, requests, from, clients })).ms
        t.http.push(await post(`${url}api/v1/records/readings`))
        t.floor.push(await post(floor.url))
        t.durable.push(await post(durable.url))
        const tuples = Array.from({ length: requests }, (_, r) => Array.from({ length: batch }, (_, j) => reading(from + r * batch + j)))
        const s = performance.now()
        for (const b of tuples) ref.insert(b)
        t.ref.push(performance.now() - s)
      }
      const rps = (ms: number): number => batch * requests / (ms / 1000)
      rows.push({ figure: `POST /records, batches of ${batch.toLocaleString('en')}, ${clients} client${clients === 1 ? '' : 's'}`, value: rps(median(t.http)), unit: 'rows/s', reference: 'INSERT, WAL + synchronous=FULL, same batches', refValue: rps(median(t.ref)), better: 'higher', note: `HTTP floor (no-op server) ${rps(median(t.floor)).toFixed(0)} rows/s; durable floor (node:http + one fsync'd INSERT transaction per request) ${rps(median(t.durable)).toFixed(0)} rows/s = ${(median(t.durable) / median(t.ref)).toFixed(2)}× the reference, POST /records ${(median(t.http) / median(t.durable)).toFixed(2)}× the durable floor; per-turn ratios ${t.http.map((h, i) => (h / (t.ref[i] as number)).toFixed(2)).join(' ')}` })
    }
  }
  // Single-row acknowledgement latency, one request at a time: each POST /records is followed at
  // once by the same row to the durable floor and to the no-op floor, and by one fsync'd INSERT
  // commit of the reference, so that the machine's load bursts fall on all four alike.
  const latency: Row[] = []
  if (only === undefined || only.includes(1)) {
    const lat = { http: [] as number[], durable: [] as number[], floor: [] as number[], ref: [] as number[] }
    // CPU time of this process (the servers; the client is in its own) per request, by target:
    // under load, a steadier measure of what each server does than wall time.
    const cpu = { http: 0, durable: 0, floor: 0 }
    // And, from the same getrusage, user and system time apart, minor page faults and context
    // switches: what the servers' process spends that instruction counts do not show.
    const zero = (): Record<'user' | 'system' | 'faults' | 'vcs' | 'ics', number> => ({ user: 0, system: 0, faults: 0, vcs: 0, ics: 0 })
    const usage = { http: zero(), durable: zero(), floor: zero() }
    const one = async (target: string, from: number, k: keyof typeof cpu): Promise<number> => {
      const r = process.resourceUsage()
      const ms = (await client.ask({ cmd: 'post', url: target, headers, batch: 1, requests: 1, from, clients: 1 })).ms
      const e = process.resourceUsage()
      const u = usage[k]
      u.user += e.userCPUTime - r.userCPUTime
      u.system += e.systemCPUTime - r.systemCPUTime
      u.faults += e.minorPageFault - r.minorPageFault
      u.vcs += e.voluntaryContextSwitches - r.voluntaryContextSwitches
      u.ics += e.involuntaryContextSwitches - r.involuntaryContextSwitches
      cpu[k] += e.userCPUTime - r.userCPUTime + e.systemCPUTime - r.systemCPUTime
      return ms
    }
    for (let i = 0; i < 300; i++) {
      const from = next++
      lat.http.push(await one(`${url}api/v1/records/readings`, from, 'http'))
      lat.durable.push(await one(durable.url, from, 'durable'))
      lat.floor.push(await one(floor.url, from, 'floor'))
      const s = performance.now()
      ref.insert([reading(from)])
      lat.ref.push(performance.now() - s)
    }
    for (const p of [0.5, 0.95]) {
      const q = (xs: number[]): number => pct(xs, p)
      latency.push({ figure: `POST /records, one row, one request at a time, p${p * 100}`, value: q(lat.http), unit: 'ms', reference: 'one INSERT commit, WAL + synchronous=FULL', refValue: q(lat.ref), better: 'lower', note: `durable floor ${q(lat.durable).toFixed(2)} ms = ${(q(lat.durable) / q(lat.ref)).toFixed(2)}× the reference; no-op floor ${q(lat.floor).toFixed(2)} ms; POST /records ${(q(lat.http) / q(lat.durable)).toFixed(2)}× the durable floor` })
    }
    const us = (k: keyof typeof cpu): number => cpu[k] / 300
    const per = (k: keyof typeof cpu): string => { const u = usage[k]; return `${(u.user / 300).toFixed(0)} µs user + ${(u.system / 300).toFixed(0)} µs system, ${(u.faults / 300).toFixed(2)} minor faults, ${(u.vcs / 300).toFixed(2)} voluntary and ${(u.ics / 300).toFixed(2)} involuntary switches` }
    latency.push({ figure: 'POST /records, one row, server process CPU per request (one request at a time)', value: us('http') / 1000, unit: 'ms', reference: 'the durable floor\'s server, same requests', refValue: us('durable') / 1000, better: 'lower', note: `no-op floor ${(us('floor') / 1000).toFixed(3)} ms; POST /records − durable floor ${((us('http') - us('durable')) / 1000).toFixed(3)} ms; per request, POST /records ${per('http')}; durable floor ${per('durable')}` })
  }
  ref.close()
  await new Promise(resolve => floor.server.close(resolve))
  await new Promise(resolve => durable.server.close(resolve))
  durableDb.close()
  await node.stop()
  return { rows, latency }
}

async function sealLatency (key: SigningKey, everyMs: number, samples: number, gapMs: number): Promise<number[]> {
  const { node, url, token } = await startNode(`seal-${everyMs}`, key, { everyMs })
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
  const waits: Array<Promise<number>> = []
  for (let i = 0; i < samples; i++) {
    const r = await call(`${url}api/v1/records/readings`, { method: 'POST', headers, body: rowsJson(1, i), keep: true })
    const acked = performance.now()
    const id = (JSON.parse(r.text) as { receipts?: string[] }).receipts?.[0]
    if (id === undefined) throw new Error(`POST /records answered ${r.status}: ${r.text}`)
    waits.push((async () => {
      for (;;) {
        const s = await call(`${url}api/v1/receipts/${id}`, { keep: true })
        if (s.text.includes('"state":"sealed"')) return performance.now() - acked
        await new Promise(resolve => setTimeout(resolve, 10))
      }
    })())
    await new Promise(resolve => setTimeout(resolve, gapMs))
  }
  const out = await Promise.all(waits)
  await node.stop()
  return out
}

async function main (): Promise<void> {
  // PETAL_BENCH_API=writes (or reads, seal; comma-separated) runs only those parts, for profiling.
  const parts = new Set((process.env.PETAL_BENCH_API ?? 'reads,writes,seal').split(','))
  const key = generateSigningKey()
  const client = startClient()
  const { files, queries } = parts.has('reads') ? await reads(key, client) : { files: [], queries: [] }
  const { rows: records, latency } = parts.has('writes') ? await writes(key, client) : { rows: [], latency: [] }
  await new Promise(resolve => { client.proc.once('exit', resolve); client.proc.send({ cmd: 'exit', id: -1 }) })
  const now = parts.has('seal') ? await sealLatency(key, 0, 40, 100) : []
  const dflt = parts.has('seal') ? await sealLatency(key, 5_000, 12, 1_000) : []
  if (files.length > 0) printTable('HTTP API: block files', files)
  if (queries.length > 0) printTable('HTTP API: POST /query latency (goal: HTTP overhead under 5 ms)', queries)
  if (records.length > 0) printTable('HTTP API: rows acknowledged per second through POST /records (durable before the 202; ratio = HTTP time ÷ reference time)', records)
  if (latency.length > 0) printTable('HTTP API: single-row acknowledgement latency, one request at a time (interleaved with the floors and the reference)', latency)
  if (now.length > 0) {
    printTable('HTTP API: seal latency, from the 202 to the receipt reading "sealed" (polled every 10 ms)', [
      { figure: 'one row at a time, --seal-every 0, p50', value: pct(now, 0.5), unit: 'ms' },
      { figure: 'one row at a time, --seal-every 0, p95', value: pct(now, 0.95), unit: 'ms' },
      { figure: 'one row a second, --seal-every 5 (default), p50', value: pct(dflt, 0.5), unit: 'ms' },
      { figure: 'one row a second, --seal-every 5 (default), p95', value: pct(dflt, 0.95), unit: 'ms' }
    ])
  }
  agent.destroy()
  rmSync(root, { recursive: true, force: true })
}

await main()
