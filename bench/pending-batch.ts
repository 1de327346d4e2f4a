// Whether storing a request's rows as one pending.db record could pay (docs/performance/ingest.md,
// "Session 34: ingest"): one durable append of ROWS rows (100 by default) by kind, the kinds
// alternating append by append, each in its own file (WAL, synchronous=FULL):
//   ref   the api bench's reference: ROWS INSERTs bound from JavaScript in one transaction
//   rows  pending.db as now: BEGIN IMMEDIATE, the schema_version read, the real RowInserter's
//         insert (since session 36, layout 3: the rows packed as ONE record), COMMIT
//   blob  the same encoded bytes as one row of a batch table, by one autocommit INSERT whose
//         WHERE checks schema_version (as appendAlone does for a lone row)
// Prints p10/p50/p95 in µs (p50 ÷ ref's p50), the process's CPU time (user + system, the fsync's
// wait excluded) per append, and the WAL frames and bytes per commit (counted with
// auto-checkpoint off over a separate phase). `KIND=ref|rows|blob` runs that kind alone, N
// appends after the warm-up and no frame phase (for callgrind and strace: instructions per append
// are the difference of two N's ÷ their difference, less that of KIND=tuples (ref) or KIND=encode
// (rows, blob), which only prepare).
// Usage: node --import tsx bench/pending-batch.ts DIR N [ROWS]
import '../src/polyfills.js'
import Database from 'better-sqlite3'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { PendingRowEncoder } from '../src/ingest/row-codec.js'
import { RowInserter } from '../src/ingest/row-inserter.js'
import { SCHEMA } from '../src/ingest/pending-schema.js'
import { extendTable } from '../src/ingest/schema.js'
import type { IngestRow } from '../src/ingest/values.js'
import { reading, type Reading } from './api-http.js'

const [dir = '/tmp', nArg = '2000', rowsArg = '100'] = process.argv.slice(2)
const N = Number(nArg)
const ROWS = Number(rowsArg)
const only = process.env.KIND
const root = mkdtempSync(join(dir, 'pending-batch-'))

const table = extendTable('readings', undefined, [{ name: 'sensor', kind: 'TEXT' }, { name: 'at', kind: 'INTEGER' }, { name: 'value', kind: 'REAL' }, { name: 'note', kind: 'TEXT' }])
const encoder = new PendingRowEncoder()
const asRow = (r: Reading): IngestRow => ({ sensor: r[0], at: BigInt(r[1]), value: r[2], note: r[3] })

function open (name: string): Database.Database {
  const db = new Database(join(root, name))
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = FULL')
  return db
}

interface Kind { name: string, db: Database.Database, file: string, prepare: (from: number) => () => void, t: number[], cpu?: number }

const ref = open('ref.db')
ref.exec('CREATE TABLE readings (sensor TEXT, at INTEGER, value REAL, note TEXT)')
const refIns = ref.prepare('INSERT INTO readings (sensor, at, value, note) VALUES (?, ?, ?, ?)')
const refTx = ref.transaction((rs: Reading[]) => { for (const r of rs) refIns.run(...r) })

const pending = open('pending.db')
pending.exec(SCHEMA)
pending.prepare("INSERT INTO meta (key, value) VALUES ('schema_version', '1')").run()
const inserter = new RowInserter(pending)
const version = pending.prepare("SELECT value FROM meta WHERE key = 'schema_version'").pluck()
const begin = pending.prepare('BEGIN IMMEDIATE')
const commit = pending.prepare('COMMIT')

const blob = open('blob.db')
blob.exec(SCHEMA)
blob.exec('CREATE TABLE requests (id INTEGER PRIMARY KEY, first INTEGER NOT NULL, n INTEGER NOT NULL, tbl TEXT NOT NULL, data BLOB NOT NULL, bytes INTEGER NOT NULL, at INTEGER NOT NULL, batch INTEGER)')
blob.prepare("INSERT INTO meta (key, value) VALUES ('schema_version', '1')").run()
const blobIns = blob.prepare("INSERT INTO requests (first, n, tbl, data, bytes, at) SELECT ?, ?, ?, ?, ?, ? WHERE (SELECT value FROM meta WHERE key = 'schema_version') = ?")

const tuples = (from: number): Reading[] => Array.from({ length: ROWS }, (_, j) => reading(from + j))
let firstId = 1
const kinds: Kind[] = [
  { name: `ref: ${ROWS} INSERTs + commit`, db: ref, file: 'ref.db', t: [], prepare: from => { const rs = tuples(from); return () => { refTx(rs) } } },
  {
    name: 'rows: pending.db now (RowInserter)',
    db: pending,
    file: 'pending.db',
    t: [],
    prepare: from => {
      // Encoded before the clock starts (Petal's JSON lane encodes as it reads): views valid until the next encode.
      const views = encoder.encodeAll(tuples(from).map(asRow), table)
      return () => {
        begin.run()
        if (version.get() !== '1') throw new Error('version')
        inserter.insert('readings', views, 1_700_000_000_000 + from)
        commit.run()
      }
    }
  },
  {
    name: 'blob: one row of the same bytes',
    db: blob,
    file: 'blob.db',
    t: [],
    prepare: from => {
      const views = encoder.encodeAll(tuples(from).map(asRow), table)
      return () => {
        // The views are consecutive in the encoder's buffer (a real layout would add ~1 byte a row for its length).
        const first = views[0] as Buffer
        const data = Buffer.from(first.buffer, first.byteOffset, views.reduce((n, v) => n + v.length, 0))
        const r = blobIns.run(firstId, views.length, 'readings', data, data.length, 1_700_000_000_000 + from, '1')
        if (r.changes !== 1) throw new Error('blob insert')
        firstId += views.length
      }
    }
  }
]
// What the kinds do before their clock starts, alone (KIND=tuples|encode only): the difference of
// instruction counts between a kind and its preparation is its append's own.
const preparations: Kind[] = [
  { name: 'tuples: the reference\'s rows made', db: ref, file: '', t: [], prepare: from => { tuples(from); return () => {} } },
  { name: 'encode: the rows made and encoded', db: ref, file: '', t: [], prepare: from => { encoder.encodeAll(tuples(from).map(asRow), table); return () => {} } }
]
const active = only === undefined ? kinds : [...kinds, ...preparations].filter(k => k.name.startsWith(only + ':'))
if (active.length === 0) throw new Error(`no kind ${String(only)}`)

let next = 0
const WARM = 300 // past each WAL's first checkpoint: it is then reused at its full size, as pending.db's is
for (let i = 0; i < WARM + N; i++) {
  for (let j = 0; j < active.length; j++) {
    const k = active[(i + j) % active.length] as Kind
    const run = k.prepare(next)
    const c = process.cpuUsage()
    const s = performance.now()
    run()
    const us = (performance.now() - s) * 1000
    const d = process.cpuUsage(c)
    if (i >= WARM) { k.t.push(us); k.cpu = (k.cpu ?? 0) + d.user + d.system }
  }
  next += ROWS
}
const q = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.floor(p * xs.length)] as number
const refP50 = q((active[0] as Kind).t, 0.5)
for (const k of active) console.log(`${ROWS} rows ${k.name.padEnd(36)} p10 ${q(k.t, 0.1).toFixed(0).padStart(5)}  p50 ${q(k.t, 0.5).toFixed(0).padStart(5)}  p95 ${q(k.t, 0.95).toFixed(0).padStart(5)} µs  p50 ÷ first ${(q(k.t, 0.5) / refP50).toFixed(2)}; CPU ${((k.cpu ?? 0) / k.t.length).toFixed(0)} µs (÷ first ${((k.cpu ?? 0) / ((active[0] as Kind).cpu ?? 1)).toFixed(2)})`)

if (only === undefined) {
  // WAL growth per commit: auto-checkpoint off, the WAL restarted, 50 appends of each kind.
  const M = 50
  for (const k of kinds) {
    k.db.pragma('wal_checkpoint(TRUNCATE)')
    k.db.pragma('wal_autocheckpoint = 0')
  }
  for (let i = 0; i < M; i++) {
    for (const k of kinds) k.prepare(next)()
    next += ROWS
  }
  for (const k of kinds) {
    const bytes = statSync(join(root, `${k.file}-wal`)).size - 32
    console.log(`${ROWS} rows ${k.name.padEnd(36)} WAL ${(bytes / M / 1024).toFixed(1)} KiB, ${(bytes / M / (4096 + 24)).toFixed(2)} frames per commit`)
  }
}
for (const k of kinds) k.db.close()
rmSync(root, { recursive: true, force: true })
