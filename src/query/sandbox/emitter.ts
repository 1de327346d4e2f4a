import type { SqlValue } from '../../block/index.js'
import { QueryError, valueTooLarge } from '../errors.js'
import { quoteEach, said } from '../../util/index.js'
import { createFormatter, type Formatter, type ResultSummary } from '../format/formatters.js'
import { CHUNK_CHARS, CHUNK_ROWS, WINDOW, type ChildMessage, type ExportPlan, type OutputFormat } from './protocol.js'

/**
 * The child's side of a result stream: formats rows (or keeps them raw), cuts them into chunks,
 * and waits for the parent's acks so that at most WINDOW chunks are in flight.
 */
export class Emitter {
  private readonly formatter?: Formatter
  private rows: SqlValue[][] = []
  /** About how many bytes the raw rows buffered hold ('rows' format): a chunk is cut at CHUNK_CHARS. */
  private rowBytes = 0
  private text = ''
  private inflight = 0
  private wake?: () => void
  private columns?: string[]
  rowCount = 0

  /**
   * `receiveAck`: blocks until the parent's next ack has been received and passed to ack() (the
   * sandbox reads its socket with blocking calls, child.ts); without it, a full window waits for
   * ack() to be called.
   */
  constructor (private readonly send: (m: ChildMessage) => void, private readonly format: OutputFormat, private readonly maxRows: number | undefined, private readonly receiveAck?: () => void) {
    if (format !== 'rows') this.formatter = createFormatter(format)
  }

  /** The parent consumed a chunk. */
  ack (): void {
    this.inflight--
    this.wake?.()
  }

  /**
   * Declare the result's columns. Per-block mode may call it again when a block yields other
   * columns: NDJSON and raw rows follow along; the fixed-header formats refuse.
   */
  async setColumns (columns: string[], where?: string): Promise<void> {
    if (this.columns !== undefined && sameNames(this.columns, columns)) return
    if (this.columns !== undefined && (this.format === 'csv' || this.format === 'json' || this.format === 'table')) {
      throw new QueryError('QUERY_BLOCK_FAILED', said`the statement returns other columns in ${where ?? 'a later block'} (${quoteEach(columns)}) than before (${quoteEach(this.columns)}); --format ${this.format} needs one header`, {
        hint: 'name the columns explicitly instead of SELECT *, or use --format ndjson (each row names its columns)'
      })
    }
    await this.flush()
    this.columns = columns
    if (this.formatter === undefined) this.send({ type: 'columns', columns })
    else this.text += this.formatter.header(columns)
  }

  /** Tell the parent what an export will write (before any row). */
  plan (plan: ExportPlan): void {
    this.send({ type: 'plan', plan })
  }

  async push (row: SqlValue[]): Promise<void> {
    if (this.maxRows !== undefined && this.rowCount >= this.maxRows) {
      await this.flush()
      throw new QueryError('QUERY_TOO_MANY_ROWS', `the result has more than ${this.maxRows} rows, the limit it was given`, { hint: 'add a LIMIT or a WHERE clause, or raise --max-rows', details: { maxRows: this.maxRows } })
    }
    this.rowCount++
    if (this.formatter === undefined) {
      this.rows.push(row)
      // Cut by size too, as text is: 2,048 rows of 100 KB values were one 200 MB message, two in
      // flight, each copied by the channel and formatted whole by an export (~1 GB of memory).
      this.rowBytes += rowSize(row)
      if (this.rows.length >= CHUNK_ROWS || this.rowBytes >= CHUNK_CHARS) await this.flush()
      return
    }
    // Formatted row by row, so that text is flushed before it grows near the longest string.
    this.rows.push(row)
    this.formatRows()
    if (this.text.length >= CHUNK_CHARS) await this.flush()
  }

  async end (summary: Omit<ResultSummary, 'rowCount'>): Promise<void> {
    if (this.columns === undefined) await this.setColumns([])
    const full = { ...summary, rowCount: this.rowCount }
    if (this.formatter !== undefined) {
      this.formatRows()
      this.text += this.formatter.end(full)
    }
    await this.flush()
    this.send({ type: 'done', summary: full })
  }

  /** Deliver whatever rows are buffered (before an error is reported). */
  async flushPartial (): Promise<void> {
    await this.flush()
  }

  /** Move the buffered rows into the text. */
  private formatRows (): void {
    const f = this.formatter
    if (f === undefined) return
    const rows = this.rows
    this.rows = []
    try {
      this.text += f.rows(rows)
    } catch (err) {
      throw valueTooLarge(err) ?? err
    }
  }

  private async flush (): Promise<void> {
    if (this.formatter !== undefined && this.rows.length > 0) this.formatRows()
    if (this.rows.length === 0 && this.text === '') return
    while (this.inflight >= WINDOW) {
      if (this.receiveAck !== undefined) this.receiveAck()
      else await new Promise<void>(resolve => { this.wake = resolve })
    }
    this.wake = undefined
    this.inflight++
    if (this.formatter === undefined) {
      this.send({ type: 'rows', rows: this.rows })
      this.rows = []
      this.rowBytes = 0
    } else {
      this.send({ type: 'text', text: this.text })
      this.text = ''
    }
  }
}

/** A row's size for cutting chunks: its texts' and BLOBs' lengths, 8 bytes for anything else. */
function rowSize (row: readonly SqlValue[]): number {
  let n = 0
  for (const v of row) n += typeof v === 'string' ? v.length : v instanceof Uint8Array ? v.byteLength : 8
  return n
}

function sameNames (a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i])
}
