import type { SqliteStatement } from '../storage/index.js'
import type { PendingRow } from './pending-schema.js'
import { packRows, rowsBytes, unpackRows } from './record-pack.js'

/**
 * Reads and splits of layout 3's records (record-pack.ts) for PendingStore: a record is the unit
 * of every pending.db write (claimed, released, orphaned, restored whole), and a seal that takes
 * part of one first splits it in two records at a row, in the sealer's write transaction. Splits
 * only ever divide a record, so each record lies wholly inside or wholly outside the rows of
 * every batch (`restore` gives a batch back exactly the records whose last row it placed).
 */
type Stmt = (sql: string) => SqliteStatement

interface RecordRow { id: number, tbl: string, data: Buffer, bytes: number, at: number, batch: number | null, n: number }

/** The record holding row `id`, or undefined. */
export function recordOf (stmt: Stmt, id: number): RecordRow | undefined {
  const r = stmt('SELECT id, tbl, data, bytes, at, batch, n FROM rows WHERE id >= ? ORDER BY id LIMIT 1').get(id) as RecordRow | undefined
  return r !== undefined && r.id - r.n < id ? r : undefined
}

/**
 * Where row `id` is (its record's table, arrival and batch), or undefined: recordOf without the
 * record's data, which a receipt never reads. A record holds up to a whole request (50,000 rows,
 * megabytes), and selecting `data` copied it out of SQLite for every receipt looked up in it.
 */
export function placeOf (stmt: Stmt, id: number): { tbl: string, at: number, batch: number | null } | undefined {
  const r = stmt('SELECT id, tbl, at, batch, n FROM rows WHERE id >= ? ORDER BY id LIMIT 1').get(id) as Omit<RecordRow, 'data' | 'bytes'> | undefined
  return r !== undefined && r.id - r.n < id ? r : undefined
}

/** Make row `k` the last of its record: the rows up to it become a record of their own (id `k`). */
export function splitAfter (stmt: Stmt, k: number): void {
  const r = recordOf(stmt, k)
  if (r === undefined || r.id === k) return
  const rows = unpackRows(r.data, r.n)
  const head = rows.slice(0, k - (r.id - r.n))
  const tail = rows.slice(head.length)
  // The tail keeps the record's id (its last row); the head takes `k`, a number inside the record.
  stmt('UPDATE rows SET data = ?, bytes = ?, n = ? WHERE id = ?').run(packRows(tail), rowsBytes(tail), tail.length, r.id)
  stmt('INSERT INTO rows (id, tbl, data, bytes, at, batch, n) VALUES (?, ?, ?, ?, ?, ?, ?)')
    .run(k, r.tbl, packRows(head), rowsBytes(head), r.at, r.batch, head.length)
}

/**
 * The oldest pending rows (records from `low`, ids up to `upTo`) for a claim: up to `budget`
 * bytes (at least one row) and `maxTables` tables. A record that does not fit whole is split, and
 * its rows that fit are taken. `last`: the last row taken (the last record's id after the split).
 */
export function oldestPending (stmt: Stmt, low: number, upTo: number, budget: number, maxTables: number): { rows: number, bytes: number, last: number, oldest: number } {
  let bytes = 0
  let rows = 0
  let last = -1
  let oldest = Infinity
  const tables = new Set<string>()
  let part: { id: number, n: number, at: number } | undefined
  for (const r of stmt('SELECT id, tbl, bytes, at, n FROM rows WHERE id >= ? AND id <= ? AND batch IS NULL ORDER BY id').iterate(low, upTo) as IterableIterator<{ id: number, tbl: string, bytes: number, at: number, n: number }>) {
    const t = r.tbl.toLowerCase()
    if (rows > 0 && !tables.has(t) && tables.size >= maxTables) break
    if (bytes + r.bytes > budget && (rows > 0 || r.n > 1)) {
      // Part of a record of several rows: split below, once the reading has ended.
      if (r.n > 1) part = { id: r.id, n: r.n, at: r.at }
      break
    }
    tables.add(t)
    bytes += r.bytes
    rows += r.n
    last = r.id
    oldest = Math.min(oldest, r.at)
  }
  if (part !== undefined) {
    // Its rows that fit, at least its first when nothing else was taken; never all of them (the
    // record as a whole did not fit).
    const sizes = unpackRows((recordOf(stmt, part.id) as RecordRow).data, part.n).map(d => d.length)
    let k = 0
    while (k < sizes.length - 1 && (bytes + (sizes[k] as number) <= budget || rows === 0)) { bytes += sizes[k] as number; rows++; k++ }
    if (k > 0) {
      last = part.id - part.n + k
      splitAfter(stmt, last)
      oldest = Math.min(oldest, part.at)
    }
  }
  return { rows, bytes, last, oldest }
}

/** Records read at once by batchRowsOf (a batch's records total at most a block's budget). */
const BATCH_PAGE = 64

/**
 * A batch's rows in order, one by one. Its records are read a page at a time, no statement left
 * running between them: the seal that consumes them yields to the event loop while it builds
 * (build-input.ts), and the store's connection then answers receipts; an iterator held open made
 * it "busy executing a query" (and, never ended, broke every later seal: mend36).
 */
export function * batchRowsOf (stmt: Stmt, batch: number): IterableIterator<PendingRow> {
  for (let after = -1; ;) {
    const page = stmt('SELECT id, tbl, data, bytes, at, n FROM rows WHERE batch = ? AND id > ? ORDER BY id LIMIT ?').all(batch, after, BATCH_PAGE) as RecordRow[]
    for (const r of page) {
      if (r.n === 1) { yield { id: r.id, table: r.tbl, data: r.data, bytes: r.bytes, at: r.at }; continue }
      const rows = unpackRows(r.data, r.n)
      const first = r.id - r.n + 1
      for (let i = 0; i < rows.length; i++) {
        const d = rows[i] as Buffer
        yield { id: first + i, table: r.tbl, data: d, bytes: d.length, at: r.at }
      }
    }
    if (page.length < BATCH_PAGE) return
    after = (page.at(-1) as RecordRow).id
  }
}

/** The number of rows in a batch's records. */
export function batchRowCount (stmt: Stmt, batch: number): number {
  return (stmt('SELECT coalesce(sum(n), 0) AS n FROM rows WHERE batch = ?').get(batch) as { n: number }).n
}
