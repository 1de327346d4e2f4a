import { quoteIdent } from '../block/index.js'
import { openSqlite, type SqliteStatement } from '../storage/index.js'
import { throwIfAborted } from '../util/index.js'
import { decodePendingRow } from './row-codec.js'
import type { TableSchema } from './schema.js'
import type { PendingRow } from './pending-schema.js'
import type { IngestValue } from './values.js'

/**
 * Build the SQLite input file of one block from a batch of pending rows, as a user would for
 * `signimportblock`: each table created with its DDL, rows inserted in arrival order. The file
 * stays within `budget` bytes (checked against SQLite's own page count), and a row that breaks a
 * UNIQUE constraint of a declared table ends the block before it (constraints hold per block).
 */
export interface BuiltInput {
  /** rowid of each row put in the file: [row id, rowid] in arrival order. */
  rowids: Array<[number, bigint]>
  /** Id of the last row in the file (rows after it go back to pending). */
  lastRow: number
  bytes: number
  /** Rows that SQLite refused although append() accepted them (each with the reason). */
  refused: Array<{ row: number, message: string }>
  /** The tables the file holds, as named in pending.db. */
  tables: string[]
}

const CHUNK = 256

// SQLite errors caused by a row's values (constraints, type, size), as opposed to the file or a bug.
const ROW_ERRORS = /^SQLITE_(CONSTRAINT|MISMATCH|TOOBIG|RANGE)/

/**
 * How long the build runs between two turns of the event loop (ns): a stop (SIGTERM, Ctrl-C)
 * reaches the seal only in one, and 400,000 rows took seconds of one stretch (session 42).
 */
const YIELD_EVERY_NS = 20_000_000n

export async function buildInput (path: string, rows: Iterable<PendingRow>, tables: Map<string, TableSchema>, budget: number, signal?: AbortSignal): Promise<BuiltInput> {
  const db = openSqlite(path)
  try {
    db.pragma('page_size = 4096')
    db.pragma('journal_mode = MEMORY') // private file: only savepoints need a journal
    db.pragma('synchronous = OFF') // the block built from it is fsynced when placed
    db.pragma('trusted_schema = OFF')
    const pageSize = db.pragma('page_size', { simple: true }) as number
    const size = (): number => (db.pragma('page_count', { simple: true }) as number) * pageSize
    const out: BuiltInput = { rowids: [], lastRow: -1, bytes: 0, refused: [], tables: [] }
    const created = new Set<string>()
    const inserts = new Map<string, SqliteStatement>()
    let chunk: PendingRow[] = []
    let full = false

    /** Insert one row; false when the block must end before it. */
    const insert = (r: PendingRow): boolean => {
      const key = r.table.toLowerCase()
      const t = tables.get(key)
      if (t === undefined) { out.refused.push({ row: r.id, message: `table ${r.table} is not in pending.db` }); return true }
      if (!created.has(key)) { db.exec(t.sql); created.add(key); out.tables.push(t.name) }
      const row = decodePendingRow(r.data, t.columns)
      const cols = Object.keys(row)
      const sk = `${key}\u0000${cols.join('\u0000')}`
      let st = inserts.get(sk)
      if (st === undefined) {
        st = db.prepare(cols.length === 0
          ? `INSERT INTO ${quoteIdent(t.name)} DEFAULT VALUES`
          : `INSERT INTO ${quoteIdent(t.name)} (${cols.map(quoteIdent).join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`).safeIntegers(true)
        inserts.set(sk, st)
      }
      try {
        const info = st.run(...cols.map(c => row[c] as IngestValue))
        out.rowids.push([r.id, BigInt(info.lastInsertRowid)])
        out.lastRow = r.id
        out.bytes += r.bytes
        return true
      } catch (err) {
        const code = (err as { code?: string }).code ?? ''
        // A second row with the same key: it goes in the next block.
        if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY') return false
        // Not about this row (a bug, a full disk): fail the seal; the rows stay pending.
        if (!ROW_ERRORS.test(code)) throw err
        // About this row, which append() accepted: end the block before it; if it is the first
        // row of a block, it can never be sealed, so it is set aside rather than block the others.
        if (out.rowids.length > 0) return false
        out.refused.push({ row: r.id, message: (err as Error).message })
        return true
      }
    }

    /** Insert a chunk under a savepoint; if the file outgrows the budget, redo it row by row. */
    const flush = (): void => {
      if (chunk.length === 0 || full) return
      // What a savepoint rollback must also undo here: results, and tables created inside it.
      const snapshot = (): { rowids: number, refused: number, bytes: number, lastRow: number, created: Set<string> } =>
        ({ rowids: out.rowids.length, refused: out.refused.length, bytes: out.bytes, lastRow: out.lastRow, created: new Set(created) })
      const mark = snapshot()
      const undo = (m: typeof mark): void => {
        out.rowids.length = m.rowids
        out.refused.length = m.refused
        out.bytes = m.bytes
        out.lastRow = m.lastRow
        for (const t of created) if (!m.created.has(t)) created.delete(t)
      }
      db.exec('SAVEPOINT chunk')
      let ended = false
      for (const r of chunk) if (!insert(r)) { ended = true; break }
      if (size() <= budget || out.rowids.length === 0) {
        db.exec('RELEASE chunk')
        full = ended
        chunk = []
        return
      }
      db.exec('ROLLBACK TO chunk')
      db.exec('RELEASE chunk')
      undo(mark)
      for (const r of chunk) {
        const one = snapshot()
        db.exec('SAVEPOINT one')
        const ok = insert(r)
        // The first row of a block always stays: append() refuses rows too large for any block.
        if (!ok || (out.rowids.length > one.rowids && out.rowids.length > 1 && size() > budget)) {
          db.exec('ROLLBACK TO one')
          db.exec('RELEASE one')
          undo(one)
          break
        }
        db.exec('RELEASE one')
      }
      full = true
      chunk = []
    }

    db.exec('BEGIN')
    // A monotonic clock: a wall clock stepped back (Date.now(), until review43) kept the build from
    // its turns, and the stop from it, until it caught up. process.hrtime, not the global
    // `performance`, which loads perf_hooks at its first use.
    let turn = process.hrtime.bigint()
    for (const r of rows) {
      chunk.push(r)
      if (chunk.length >= CHUNK) {
        flush()
        // The file is private and `rows` holds no statement open between its pages (batchRowsOf).
        if (process.hrtime.bigint() - turn >= YIELD_EVERY_NS) { await new Promise(resolve => { setImmediate(resolve) }); turn = process.hrtime.bigint() }
        throwIfAborted(signal)
      }
      if (full) break
    }
    flush()
    db.exec('COMMIT')
    return out
  } finally {
    db.close()
  }
}

/** Room a block needs besides its user tables: `_meta`, `_keys`, `_tables` and their schema rows. */
export function reservedBytes (tables: Iterable<TableSchema>): number {
  let n = 64 * 1024
  for (const t of tables) n += 2 * (Buffer.byteLength(t.sql) + Buffer.byteLength(t.name) + 200)
  return n
}
