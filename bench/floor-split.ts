// Where the durable floor's time goes per request: client round trip of the no-op floor and of the
// durable floor, and inside the durable floor's handler, JSON.parse and the fsync'd transaction.
import '../src/polyfills.js'
import Database from 'better-sqlite3'
import { fork } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { floorServer } from './api-floors.js'
import { reading, type Reading } from './api-http.js'

const root = mkdtempSync('/tmp/ingest23/fs-')
const batch = Number(process.argv[2] ?? 1)
const N = Number(process.argv[3] ?? 2000)
const WARM = Number(process.argv[4] ?? 2000)
const db = new Database(join(root, 'durable.db'))
db.pragma('journal_mode = WAL'); db.pragma('synchronous = FULL')
db.exec('CREATE TABLE readings (sensor TEXT, at INTEGER, value REAL, note TEXT)')
const ins = db.prepare('INSERT INTO readings (sensor, at, value, note) VALUES (@sensor, @at, @value, @note)')
const tx = db.transaction((rows: Array<Record<string, unknown>>) => { for (const r of rows) ins.run(r) })
let parseUs = 0; let commitUs = 0
const durable = await floorServer(body => {
  const a = performance.now()
  const rows = JSON.parse(body.toString('utf8')) as Array<Record<string, unknown>>
  const b = performance.now()
  tx(rows)
  const c = performance.now()
  parseUs = (b - a) * 1000; commitUs = (c - b) * 1000
})
const noop = await floorServer()
const ref = new Database(join(root, 'ref.db'))
ref.pragma('journal_mode = WAL'); ref.pragma('synchronous = FULL')
ref.exec('CREATE TABLE readings (sensor TEXT, at INTEGER, value REAL, note TEXT)')
const rins = ref.prepare('INSERT INTO readings (sensor, at, value, note) VALUES (?, ?, ?, ?)')
const rtx = ref.transaction((rows: Reading[]) => { for (const r of rows) rins.run(...r) })

const client = fork(join(import.meta.dirname, 'api-client.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
let id = 0
const waiting = new Map<number, (m: { ms: number }) => void>()
client.on('message', (m: { id: number, ms: number, error?: string }) => { if (m.error !== undefined) throw new Error(m.error); waiting.get(m.id)?.(m); waiting.delete(m.id) })
const post = async (url: string, from: number): Promise<number> => await new Promise(resolve => { const i = id++; waiting.set(i, m => { resolve(m.ms * 1000) }); client.send({ id: i, cmd: 'post', url, headers: { 'content-type': 'application/json' }, batch, requests: 1, from, clients: 1 }) })
const t = { noop: [] as number[], durable: [] as number[], parse: [] as number[], commit: [] as number[], rest: [] as number[], ref: [] as number[] }
let next = 0
for (let i = 0; i < WARM + N; i++) {
  const from = next; next += batch
  const n = await post(noop.url, from)
  const d = await post(durable.url, from)
  const rows = Array.from({ length: batch }, (_, j) => reading(from + j))
  const s = performance.now(); rtx(rows); const r = (performance.now() - s) * 1000
  if (i >= WARM) { t.noop.push(n); t.durable.push(d); t.parse.push(parseUs); t.commit.push(commitUs); t.rest.push(d - parseUs - commitUs); t.ref.push(r) }
}
const q = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.floor(p * xs.length)] as number
for (const [k, xs] of Object.entries(t)) console.log(`${batch} row(s) ${k.padEnd(8)} p10 ${q(xs, 0.1).toFixed(0).padStart(5)}  p50 ${q(xs, 0.5).toFixed(0).padStart(5)}  p95 ${q(xs, 0.95).toFixed(0).padStart(5)} µs`)
console.log(`durable p50 ÷ ref p50 ${(q(t.durable, 0.5) / q(t.ref, 0.5)).toFixed(2)}; noop p50 ÷ durable p50 ${(q(t.noop, 0.5) / q(t.durable, 0.5)).toFixed(2)}; commit p50 ÷ durable p50 ${(q(t.commit, 0.5) / q(t.durable, 0.5)).toFixed(2)}`)
client.send({ cmd: 'exit', id: -1 })
await new Promise(resolve => client.once('exit', resolve))
noop.server.close(); durable.server.close(); db.close(); ref.close()
rmSync(root, { recursive: true, force: true })
process.exit(0)
