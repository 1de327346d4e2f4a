// Ingest benchmarks: rows acknowledged per second through the ingest service (durable in
// pending.db before append() resolves), single-row acknowledgement latency, and seal latency from
// acknowledgement to sealed. Each figure is printed next to a reference measured in the same run:
// INSERT of the same rows into a plain SQLite file with synchronous=FULL, one fsync'd commit, and
// signimportblock of the same rows as an SQLite file. Turns alternate between a figure and its
// reference, so machine load falls on both alike.
import '../src/polyfills.js'
import Database from 'better-sqlite3'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createChain, signImport, type Chain } from '../src/chain/index.js'
import { generateSigningKey, type SigningKey } from '../src/crypto/index.js'
import { Ingest, parseRecords, SealLoop, type IngestRow } from '../src/ingest/index.js'
import { DEFAULT_CONSENSUS } from '../src/storage/index.js'
import { printTable, type Row } from './report.js'

const root = mkdtempSync(join(tmpdir(), 'petal-bench-ingest-'))

async function newChain (name: string, key: SigningKey): Promise<Chain> {
  return await createChain(join(root, name), { creator: 'bench', description: name, bootstrapPeers: [], consensus: { ...DEFAULT_CONSENSUS } }, key)
}

/** Rows like a sensor feed: text, integer, real, text (about 70 bytes each). */
function rowsOf (n: number, from = 0): IngestRow[] {
  return Array.from({ length: n }, (_, j) => {
    const i = from + j
    return { sensor: `sensor-${i % 97}`, at: BigInt(1_700_000_000 + i), value: i * 0.25, note: `reading number ${i} of the benchmark` }
  })
}

/** A plain SQLite file with synchronous=FULL (journal `mode`) and the same table. */
function plainDb (name: string, mode: 'WAL' | 'DELETE'): { insert: (rows: IngestRow[]) => void, close: () => void } {
  const db = new Database(join(root, name))
  db.pragma(`journal_mode = ${mode}`)
  db.pragma('synchronous = FULL')
  db.exec('CREATE TABLE readings (sensor TEXT, at INTEGER, value REAL, note TEXT)')
  const ins = db.prepare('INSERT INTO readings (sensor, at, value, note) VALUES (?, ?, ?, ?)')
  const tx = db.transaction((rows: IngestRow[]) => { for (const r of rows) ins.run(r.sensor, r.at, r.value, r.note) })
  return { insert: rows => { tx(rows) }, close: () => { db.close() } }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number
const pct = (xs: number[], p: number): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))] as number }

async function main (): Promise<void> {
  const key = generateSigningKey()

  // 1. Throughput of acknowledged rows, by batch size, in alternating turns.
  const chain = await newChain('append', key)
  const ingest = Ingest.open({ chain, key })
  const walRef = plainDb('ref-wal.db', 'WAL')
  const delRef = plainDb('ref-delete.db', 'DELETE')
  await ingest.append('readings', rowsOf(10)) // create the table
  const plan: Array<{ batch: number, appends: number }> = [{ batch: 1, appends: 300 }, { batch: 100, appends: 100 }, { batch: 10_000, appends: 5 }]
  const throughput: Row[] = []
  let next = 0
  for (const { batch, appends } of plan) {
    const batches = Array.from({ length: appends }, () => { const r = rowsOf(batch, next); next += batch; return r })
    const ndjson = batches.map(b => b.map(r => `{"sensor":"${r.sensor as string}","at":${String(r.at)},"value":${String(r.value)},"note":"${r.note as string}"}`).join('\n'))
    const t = { ingest: [] as number[], parsed: [] as number[], wal: [] as number[], del: [] as number[] }
    for (let turn = 0; turn < 3; turn++) {
      let s = performance.now()
      for (const b of batches) await ingest.append('readings', b)
      t.ingest.push(performance.now() - s)
      s = performance.now()
      for (const b of batches) walRef.insert(b)
      t.wal.push(performance.now() - s)
      s = performance.now()
      for (const text of ndjson) await ingest.append('readings', parseRecords(text, 'ndjson'))
      t.parsed.push(performance.now() - s)
      s = performance.now()
      for (const b of batches) delRef.insert(b)
      t.del.push(performance.now() - s)
    }
    const rps = (ms: number): number => batch * appends / (ms / 1000)
    const label = `batches of ${batch.toLocaleString('en')} row${batch === 1 ? '' : 's'}`
    throughput.push(
      { figure: `append(), ${label}`, value: rps(median(t.ingest)), unit: 'rows/s', reference: 'INSERT, WAL + synchronous=FULL', refValue: rps(median(t.wal)), better: 'higher' },
      { figure: `append(), ${label}`, value: rps(median(t.ingest)), unit: 'rows/s', reference: 'INSERT, default journal + synchronous=FULL', refValue: rps(median(t.del)), better: 'higher' },
      { figure: `parse NDJSON + append(), ${label}`, value: rps(median(t.parsed)), unit: 'rows/s', reference: 'INSERT, WAL + synchronous=FULL', refValue: rps(median(t.wal)), better: 'higher' }
    )
  }

  // Concurrent clients, one row per append: group commit shares fsyncs between them.
  {
    const clients = 16
    const each = 40
    const t = { ingest: [] as number[], wal: [] as number[] }
    for (let turn = 0; turn < 3; turn++) {
      let s = performance.now()
      await Promise.all(Array.from({ length: clients }, async () => { for (let i = 0; i < each; i++) await ingest.append('readings', rowsOf(1, next++)) }))
      t.ingest.push(performance.now() - s)
      s = performance.now()
      for (let i = 0; i < clients * each; i++) walRef.insert(rowsOf(1, next++))
      t.wal.push(performance.now() - s)
    }
    const rps = (ms: number): number => clients * each / (ms / 1000)
    throughput.push({ figure: `append(), 1 row each, ${clients} concurrent clients`, value: rps(median(t.ingest)), unit: 'rows/s', reference: 'one INSERT commit per row, WAL + FULL', refValue: rps(median(t.wal)), better: 'higher' })
  }

  // 2. Single-row acknowledgement latency against one fsync'd SQLite commit.
  const ack: number[] = []
  const commitWal: number[] = []
  const commitDel: number[] = []
  for (let i = 0; i < 300; i++) {
    const one = rowsOf(1, next++)
    let s = performance.now()
    await ingest.append('readings', one)
    ack.push(performance.now() - s)
    s = performance.now()
    walRef.insert(one)
    commitWal.push(performance.now() - s)
    s = performance.now()
    delRef.insert(one)
    commitDel.push(performance.now() - s)
  }
  const latency: Row[] = [
    { figure: 'single-row append(), p50', value: pct(ack, 0.5), unit: 'ms', reference: 'one INSERT commit, WAL + FULL', refValue: pct(commitWal, 0.5), better: 'lower' },
    { figure: 'single-row append(), p95', value: pct(ack, 0.95), unit: 'ms', reference: 'one INSERT commit, WAL + FULL', refValue: pct(commitWal, 0.95), better: 'lower' },
    { figure: 'single-row append(), p50', value: pct(ack, 0.5), unit: 'ms', reference: 'one INSERT commit, default journal + FULL', refValue: pct(commitDel, 0.5), better: 'lower' }
  ]
  walRef.close()
  delRef.close()
  await ingest.close()
  chain.close()

  // 3. Seal latency: from append() resolving to the block being committed, with the seal loop at
  // --seal-every 0 (the default 5 s adds up to 5 s of waiting by design).
  const sealChain = await newChain('seal', key)
  const sealer = Ingest.open({ chain: sealChain, key })
  const loop = new SealLoop(sealer, { everyMs: 0, pollMs: 250 })
  loop.start()
  const seals: Record<number, number[]> = {}
  const refs: Record<number, number[]> = {}
  const refChain = await newChain('seal-ref', key)
  for (const n of [100, 10_000]) {
    seals[n] = []
    refs[n] = []
    for (let i = 0; i < (n === 100 ? 30 : 8); i++) {
      const sealed = new Promise<number>(resolve => { const off = sealer.on('sealed', () => { off(); resolve(performance.now()) }) })
      const rows = rowsOf(n, next)
      next += n
      await sealer.append('readings', rows)
      const acked = performance.now()
      seals[n]?.push(await sealed - acked)
      // Reference: signimportblock of the same rows, already in an SQLite file.
      const file = join(root, `ref-${n}-${i}.db`)
      const db = plainDb(`ref-${n}-${i}.db`, 'DELETE')
      db.insert(rows)
      db.close()
      const s = performance.now()
      await signImport(refChain, file, key)
      refs[n]?.push(performance.now() - s)
    }
  }
  await loop.stop()
  await sealer.close()
  sealChain.close()
  refChain.close()
  const seal: Row[] = []
  for (const n of [100, 10_000]) {
    const label = `${n.toLocaleString('en')} rows`
    seal.push(
      { figure: `seal latency, ${label}, p50`, value: pct(seals[n] ?? [], 0.5), unit: 'ms', reference: 'signimportblock of the same rows', refValue: pct(refs[n] ?? [], 0.5), better: 'lower' },
      { figure: `seal latency, ${label}, p95`, value: pct(seals[n] ?? [], 0.95), unit: 'ms', reference: 'signimportblock of the same rows', refValue: pct(refs[n] ?? [], 0.95), better: 'lower' }
    )
  }

  printTable('Ingest: rows acknowledged per second (durable before append() resolves)', throughput)
  printTable('Ingest: single-row acknowledgement latency', latency)
  printTable('Ingest: seal latency, from acknowledgement to committed block (--seal-every 0)', seal)
  rmSync(root, { recursive: true, force: true })
}

await main()
