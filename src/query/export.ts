import type { Chain } from '../chain/index.js'
import { openSqlite, type SqliteDb, type SqliteStatement } from '../storage/index.js'
import type { SqlValue } from '../block/index.js'
import { runQuery, type QueryOptions, type QueryResult } from './engine.js'
import { createFormatter, type Formatter } from './format/formatters.js'
import { QueryError, valueTooLarge } from './errors.js'
import { quoteIdent } from './names.js'
import type { ExportPlan } from './sandbox/protocol.js'

export const EXPORT_FORMATS = ['csv', 'ndjson', 'sqlite'] as const
export type ExportFormat = typeof EXPORT_FORMATS[number]

export function isExportFormat (v: string): v is ExportFormat {
  return EXPORT_FORMATS.some(f => f === v)
}

export interface ExportProgress { rows: number, totalRows: number, bytes: number }

export interface ExportOptions extends Pick<QueryOptions, 'signal' | 'sandbox' | 'mirror' | 'sync' | 'mirrorStop' | 'onSyncProgress' | 'decrypt' | 'timeoutMs'> {
  table: string
  format: ExportFormat
  /** Lowest and highest height whose rows are exported (default: all). */
  from?: number
  to?: number
  /** csv and ndjson: the output, chunk by chunk (awaited: backpressure). */
  onText?: (text: string) => void | Promise<void>
  /** sqlite: the file to write; it must not exist (the caller writes to a temporary name and renames). */
  sqlitePath?: string
  onPlan?: (plan: ExportPlan) => void
  onProgress?: (p: ExportProgress) => void
}

export interface ExportResult extends QueryResult {
  plan: ExportPlan
  /** Bytes of text written (csv, ndjson). */
  bytes: number
}

/**
 * Write one table's rows across the chain (docs/queries.md, "Export") as CSV, NDJSON or an SQLite
 * file: the exact inverse of `signimportblock FILE.csv --table T` and `petal append`, since the
 * same lossless encodings are used both ways (NULL is an empty field, '' is "", a BLOB is \x…).
 * Columns are decrypted when `decrypt` holds a key that opens them.
 */
export async function exportTable (chain: Chain, o: ExportOptions): Promise<ExportResult> {
  let plan: ExportPlan | undefined
  let formatter: Formatter | undefined
  let db: SqliteDb | undefined
  let insert: SqliteStatement | undefined
  let rows = 0
  let bytes = 0
  const emit = async (text: string): Promise<void> => {
    if (text === '') return
    bytes += Buffer.byteLength(text)
    await o.onText?.(text)
  }
  try {
    const r = await runQuery(chain, {
      sql: '',
      format: 'rows',
      export: { table: o.table, from: o.from, to: o.to },
      decrypt: o.decrypt,
      signal: o.signal,
      sandbox: o.sandbox,
      mirror: o.mirror,
      sync: o.sync,
      mirrorStop: o.mirrorStop,
      onSyncProgress: o.onSyncProgress,
      timeoutMs: o.timeoutMs ?? 0,
      onPlan: p => {
        plan = p
        o.onPlan?.(p)
        if (o.format === 'sqlite') {
          if (o.sqlitePath === undefined) throw new TypeError('exportTable: sqlite needs sqlitePath')
          db = openSqlite(o.sqlitePath)
          db.pragma('journal_mode = OFF')
          db.pragma('synchronous = OFF')
          db.exec(p.ddl)
          db.exec('BEGIN')
        }
      },
      onColumns: async columns => {
        if (o.format === 'sqlite') {
          if (db === undefined || plan === undefined) return
          insert = db.prepare(`INSERT INTO ${quoteIdent(plan.table)} (${columns.map(quoteIdent).join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`)
          return
        }
        formatter = createFormatter(o.format)
        await emit(formatter.header(columns))
      },
      onRows: async batch => {
        rows += batch.length
        if (insert !== undefined) {
          const ins = insert
          for (const row of batch) ins.run(...row.map(bindable))
        } else if (formatter !== undefined) {
          await emit(formatRows(formatter, batch))
        }
        o.onProgress?.({ rows, totalRows: plan?.rows ?? rows, bytes })
      }
    })
    const p = plan ?? { table: o.table, ddl: '', rows: 0 }
    if (formatter !== undefined) await emit(formatter.end({ rowCount: r.rowCount }))
    if (db !== undefined) db.exec('COMMIT')
    return { ...r, plan: p, bytes }
  } finally {
    db?.close()
  }
}

/**
 * The batch as text, which the export formats here (the sandbox sends raw rows): a value too large
 * for a string (a BLOB of 256 MiB or more as hex) is a coded error, not a bug's plain Error.
 */
function formatRows (formatter: Formatter, batch: SqlValue[][]): string {
  try {
    return formatter.rows(batch)
  } catch (err) {
    const big = valueTooLarge(err, 'the export')
    if (big === undefined) throw err
    throw new QueryError(big.code, big.message, { hint: 'export the table as an SQLite file (--format sqlite -o FILE), which holds each value as it is' })
  }
}

/** SQLite binds a Uint8Array view as a BLOB only when it is a Buffer. */
function bindable (v: SqlValue): SqlValue | Buffer {
  return v instanceof Uint8Array && !Buffer.isBuffer(v) ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : v
}
