// Instructions of the JSON lane alone per request body (docs/performance/ingest.md, "Session 37: ingest"):
// the api bench's bodies (bench/api-http.ts) encoded for its table, 3,000 times to warm up, then
// `n` more with callgrind's instrumentation on (callgrind_control -i), so one run gives the lane's
// cost per body by function (bench/callgrind-js.py, with `node --perf-basic-prof`).
//   API_COST_CALLGRIND=1 valgrind --tool=callgrind --instr-atstart=no node --perf-basic-prof --import tsx bench/api-lane-cost.ts [n=1000] [rows=100]
import { execFileSync } from 'node:child_process'
import { encodeJsonRecord } from '../src/ingest/json-encode.js'
import type { TableSchema } from '../src/ingest/schema.js'
import { rowsJson } from './api-http.js'

const [n = '1000', rows = '100'] = process.argv.slice(2)
const table: TableSchema = { name: 'readings', sql: 'CREATE TABLE readings (…)', declared: undefined, columns: [{ name: 'sensor', kind: 'TEXT' }, { name: 'at', kind: 'INTEGER' }, { name: 'value', kind: 'REAL' }, { name: 'note', kind: 'TEXT' }] }
const bodies = Array.from({ length: 64 }, (_, i) => Buffer.from(rowsJson(Number(rows), 1000 + i * Number(rows))))
let encoded = 0
const run = (count: number): void => {
  for (let i = 0; i < count; i++) {
    const r = encodeJsonRecord(bodies[i & 63] as Buffer, 'json', table, 10_000)
    if (r === undefined) throw new Error('the lane did not take the bench body')
    encoded += r.n
  }
}
run(3000)
const callgrind = (on: boolean): void => { if (process.env.API_COST_CALLGRIND !== undefined) execFileSync('callgrind_control', ['-i', on ? 'on' : 'off', String(process.pid)]) }
callgrind(true)
run(Number(n))
callgrind(false)
process.stderr.write(`api-lane-cost: ${n} bodies of ${rows} rows measured (${encoded} rows encoded in all)\n`)
