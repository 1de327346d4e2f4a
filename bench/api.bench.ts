// HTTP API benchmarks, each figure next to a reference measured in the same run, in alternating
// turns so that machine load falls on both alike:
// - GET /api/v1/blocks/{ref}/file throughput against reading the same file from disk;
// - POST /api/v1/query latency for a small aggregate against the engine in process (warm sandbox);
// - POST /api/v1/records rows/s (batches of 1, 100 and 10,000 rows; 1 and 16 clients) against
//   INSERT of the same rows into a plain SQLite file with synchronous=FULL;
//   Each of those rows notes the HTTP floor: the same requests from the same client to a node:http
//   server in the same process that reads the body and answers 202 doing nothing else;
// - seal latency p50/p95, from the 202 to the receipt reading "sealed".
import '../src/polyfills.js'
import Database from 'better-sqlite3'
import { createReadStream, mkdtempSync, rmSync, statSync } from 'node:fs'
import { Agent, createServer, request, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TokenStore } from '../src/api/index.js'
import { createChain, signImport } from '../src/chain/index.js'
import { generateSigningKey, type SigningKey } from '../src/crypto/index.js'
import { PetalNode } from '../src/node/index.js'
import { QuerySandbox, runQuery } from '../src/query/index.js'
import { DEFAULT_CONSENSUS } from '../src/storage/index.js'
import { errorCode } from '../src/util/index.js'
import { printTable, type Row } from './report.js'

const root = mkdtempSync(join(tmpdir(), 'petal-bench-api-'))
const agent = new Agent({ keepAlive: true, maxSockets: 16 })

const pct = (xs: number[], p: number): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))] as number }
const median = (xs: number[]): number => pct(xs, 0.5)

/** One request over a kept-alive connection; resolves with the status and the number of body bytes (or the body). */
async function call (url: string, o: { method?: string, headers?: Record<string, string>, body?: string, keep?: boolean } = {}): Promise<{ status: number, bytes: number, text: string }> {
  return await new Promise((resolve, reject) => {
    const req = request(url, { method: o.method ?? 'GET', headers: o.headers, agent }, res => {
      let bytes = 0
      const parts: Buffer[] = []
      res.on('data', (c: Buffer) => { bytes += c.length; if (o.keep === true) parts.push(c) })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, bytes, text: Buffer.concat(parts).toString() }) })
      res.on('error', reject)
    })
    req.on('error', err => {
      // A kept-alive socket the server closed while it sat idle (its keep-alive timeout, 5 s, can
      // pass while a reference runs on a loaded machine): the request never reached the server,
      // so it is sent again on a new connection (the pattern of Node's http docs, reusedSocket).
      if (req.reusedSocket && errorCode(err) === 'ECONNRESET') call(url, o).then(resolve, reject)
      else reject(err)
    })
    req.end(o.body)
  })
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

async function reads (key: SigningKey): Promise<{ files: Row[], queries: Row[] }> {
  const { node, url } = await startNode('reads', key, { everyMs: 3_600_000 })
  const chain = node.chain
  // One large block (about 32 MiB) for the file, and 20 small ones for the aggregate.
  await signImport(chain, sqliteFile(join(root, 'big.db'), 120_000, 250), key)
  const big = chain.tip()
  for (let i = 0; i < 20; i++) await signImport(chain, sqliteFile(join(root, `small${i}.db`), 100, 10), key)
  const path = chain.pathOf(big)
  const size = statSync(path).size
  await call(`${url}api/v1/blocks/${big.hash}/file`) // the first request proves the file's identity by hashing it
  const http: number[] = []
  const disk: number[] = []
  for (let turn = 0; turn < 8; turn++) {
    let s = performance.now()
    const r = await call(`${url}api/v1/blocks/${big.hash}/file`)
    if (r.bytes !== size) throw new Error(`got ${r.bytes} of ${size} bytes`)
    http.push(performance.now() - s)
    s = performance.now()
    await new Promise<void>((resolve, reject) => { const st = createReadStream(path); st.on('data', () => {}); st.on('end', resolve); st.on('error', reject) })
    disk.push(performance.now() - s)
  }
  const mibs = (ms: number): number => size / 1024 / 1024 / (ms / 1000)
  const files: Row[] = [{ figure: `GET /blocks/{hash}/file, ${(size / 1024 / 1024).toFixed(0)} MiB block`, value: mibs(median(http)), unit: 'MiB/s', reference: 'reading the file from disk (page cache)', refValue: mibs(median(disk)), better: 'higher' }]

  const sql = 'SELECT k, COUNT(*), SUM(v) FROM t GROUP BY k'
  const sandbox = new QuerySandbox(chain.dir.root)
  await node.syncMirror()
  const body = JSON.stringify({ sql })
  const headers = { 'content-type': 'application/json' }
  for (let i = 0; i < 5; i++) { await call(`${url}api/v1/query`, { method: 'POST', headers, body }); await runQuery(chain, { sql, format: 'ndjson', sandbox, sync: false, onText: () => {} }) }
  const viaHttp: number[] = []
  const inProcess: number[] = []
  let answer = ''
  for (let i = 0; i < 100; i++) {
    let s = performance.now()
    const r = await call(`${url}api/v1/query`, { method: 'POST', headers, body, keep: true })
    viaHttp.push(performance.now() - s)
    answer = r.text
    s = performance.now()
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

function rowsJson (n: number, from: number): string {
  const parts: string[] = []
  for (let i = from; i < from + n; i++) parts.push(`{"sensor":"sensor-${i % 97}","at":${1_700_000_000 + i},"value":${(i * 0.25).toFixed(2)},"note":"reading number ${i} of the benchmark"}`)
  return '[' + parts.join(',') + ']'
}

function plainDb (path: string): { insert: (rows: Array<[string, number, number, string]>) => void, close: () => void } {
  const db = new Database(path)
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = FULL')
  db.exec('CREATE TABLE readings (sensor TEXT, at INTEGER, value REAL, note TEXT)')
  const ins = db.prepare('INSERT INTO readings (sensor, at, value, note) VALUES (?, ?, ?, ?)')
  const tx = db.transaction((rows: Array<[string, number, number, string]>) => { for (const r of rows) ins.run(...r) })
  return { insert: rows => { tx(rows) }, close: () => { db.close() } }
}

/** A server that reads each request's body and answers 202 with nothing done: the HTTP floor. */
async function noopServer (): Promise<{ url: string, server: Server }> {
  const server = createServer((req, res) => {
    req.on('data', () => {})
    req.on('end', () => { res.writeHead(202, { 'content-type': 'application/json' }); res.end('{"receipts":[]}') })
  })
  server.keepAliveTimeout = 120_000 // as the API's: the agent's kept-alive sockets must not be cut between turns
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const a = server.address()
  if (a === null || typeof a === 'string') throw new Error('no port')
  return { url: `http://127.0.0.1:${a.port}/`, server }
}

async function writes (key: SigningKey): Promise<Row[]> {
  // Sealing is off while acknowledgements are measured (it has its own figure below).
  const { node, url, token } = await startNode('writes', key, { everyMs: 3_600_000 })
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
  const ref = plainDb(join(root, 'ref.db'))
  const floor = await noopServer()
  await call(`${url}api/v1/records/readings`, { method: 'POST', headers, body: rowsJson(10, 0) })
  const rows: Row[] = []
  let next = 10
  const plan = [{ batch: 1, requests: 320 }, { batch: 100, requests: 64 }, { batch: 10_000, requests: 16 }]
  for (const { batch, requests } of plan) {
    for (const clients of [1, 16]) {
      const t = { http: [] as number[], ref: [] as number[], floor: [] as number[] }
      for (let turn = 0; turn < 2; turn++) {
        const bodies = Array.from({ length: requests }, () => { const b = rowsJson(batch, next); next += batch; return b })
        const post = async (target: string): Promise<number> => {
          const started = performance.now()
          let i = 0
          await Promise.all(Array.from({ length: clients }, async () => {
            while (i < bodies.length) {
              const body = bodies[i++]
              const r = await call(target, { method: 'POST', headers, body })
              if (r.status !== 202) throw new Error(`POST ${target}: ${r.status}`)
            }
          }))
          return performance.now() - started
        }
        t.http.push(await post(`${url}api/v1/records/readings`))
        t.floor.push(await post(floor.url))
        const tuples = bodies.map(b => (JSON.parse(b) as Array<{ sensor: string, at: number, value: number, note: string }>).map(r => [r.sensor, r.at, r.value, r.note] as [string, number, number, string]))
        const s = performance.now()
        for (const b of tuples) ref.insert(b)
        t.ref.push(performance.now() - s)
      }
      const rps = (ms: number): number => batch * requests / (ms / 1000)
      rows.push({ figure: `POST /records, batches of ${batch.toLocaleString('en')}, ${clients} client${clients === 1 ? '' : 's'}`, value: rps(median(t.http)), unit: 'rows/s', reference: 'INSERT, WAL + synchronous=FULL, same batches', refValue: rps(median(t.ref)), better: 'higher', note: `HTTP floor (no-op server) ${rps(median(t.floor)).toFixed(0)} rows/s` })
    }
  }
  ref.close()
  await new Promise(resolve => floor.server.close(resolve))
  await node.stop()
  return rows
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
  const key = generateSigningKey()
  const { files, queries } = await reads(key)
  const records = await writes(key)
  const now = await sealLatency(key, 0, 40, 100)
  const dflt = await sealLatency(key, 5_000, 12, 1_000)
  printTable('HTTP API: block files', files)
  printTable('HTTP API: POST /query latency (goal: HTTP overhead under 5 ms)', queries)
  printTable('HTTP API: rows acknowledged per second through POST /records (durable before the 202)', records)
  printTable('HTTP API: seal latency, from the 202 to the receipt reading "sealed" (polled every 10 ms)', [
    { figure: 'one row at a time, --seal-every 0, p50', value: pct(now, 0.5), unit: 'ms' },
    { figure: 'one row at a time, --seal-every 0, p95', value: pct(now, 0.95), unit: 'ms' },
    { figure: 'one row a second, --seal-every 5 (default), p50', value: pct(dflt, 0.5), unit: 'ms' },
    { figure: 'one row a second, --seal-every 5 (default), p95', value: pct(dflt, 0.95), unit: 'ms' }
  ])
  agent.destroy()
  rmSync(root, { recursive: true, force: true })
}

await main()
