// Receipt look-ups in a large pending record (docs/performance/ingest.md, "Session 49: receipts in
// a large record"): one request of 50,000 rows is one record of pending.db; each receipt looks up
// where its row is. Prints the time a look-up (PendingStore.row, and Ingest.receipt) beside a bare
// indexed SELECT of the same record's id in the same run.
//   node --import tsx bench/receipt-lookup.ts [ROWS]
import { Ingest, parseRecords } from '../src/ingest/index.js'
import { fixtureKey, newTestChain } from '../test/helpers/chain.js'

const N = Number(process.argv[2] ?? 50_000)
const alice = fixtureKey('alice')
const { chain } = await newTestChain({ key: alice })
const ingest = Ingest.open({ chain, key: alice })
const rows = Array.from({ length: N }, (_, i) => ({ sensor: `s${i % 10}`, v: i, note: 'x'.repeat(40) }))
const { receipts } = await ingest.append('readings', parseRecords(JSON.stringify(rows), 'json'))
const store = ingest.store
const last = store.lastRowId()
const ids = Array.from({ length: 2000 }, (_, k) => last - N + 1 + Math.floor(k * N / 2000))
const perCall = (f: () => unknown, n: number): number => {
  const t = process.hrtime.bigint()
  for (let k = 0; k < n; k++) f()
  return Number(process.hrtime.bigint() - t) / 1e3 / n
}
for (let round = 0; round < 3; round++) {
  let k = 0
  const row = perCall(() => store.row(ids[k++ % ids.length] as number), ids.length)
  k = 0
  const bare = perCall(() => store.lastRowId(), ids.length)
  console.log(`round ${round + 1}: PendingStore.row ${row.toFixed(1)} µs a look-up; reference: a bare indexed SELECT (max id) ${bare.toFixed(1)} µs; ${(row / bare).toFixed(2)}×`)
}
const t = process.hrtime.bigint()
for (let k = 0; k < 200; k++) await ingest.receipt(receipts[Math.floor(k * N / 200)] as string)
console.log(`Ingest.receipt (pending): ${(Number(process.hrtime.bigint() - t) / 1e3 / 200).toFixed(1)} µs a receipt, a record of ${N} rows`)
await ingest.close()
chain.close()
