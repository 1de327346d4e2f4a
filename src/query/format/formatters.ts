import type { SqlValue } from '../../block/index.js'
import type { ConfidentialNote } from '../sandbox/confidential.js'
import type { SkippedBlock } from '../mirror/layout.js'
import { CSV_HEADER_FIELD, csvField, escapeControls, jsonValue, tableCell, uniqueKeys } from './values.js'

export const TEXT_FORMATS = ['ndjson', 'csv', 'table', 'json'] as const
export type TextFormat = typeof TEXT_FORMATS[number]

export function isTextFormat (v: string): v is TextFormat {
  return TEXT_FORMATS.some(f => f === v)
}

/** What the end of a result says about where it came from. */
export interface ResultSummary {
  rowCount: number
  /** The mirror's (or the catalog's) tip the result reflects. */
  tip?: { height: number, hash: string }
  /** Per-block mode: how many blocks the statement ran in. */
  blocks?: number
  /** Encrypted columns the statement's tables have, and how many of their blocks stayed ciphertext. */
  confidential?: ConfidentialNote[]
  /** Mirror mode: the canonical blocks the mirror leaves out, read in the statement's snapshot. */
  skipped?: SkippedBlock[]
}

/** Streaming text output of one result: header, batches of rows, end. */
export interface Formatter {
  header: (columns: readonly string[]) => string
  rows: (rows: ReadonlyArray<readonly SqlValue[]>) => string
  end: (summary: ResultSummary) => string
}

export function createFormatter (format: TextFormat): Formatter {
  switch (format) {
    case 'ndjson': return ndjson()
    case 'csv': return csv()
    case 'json': return json()
    case 'table': return table()
  }
}

/** One JSON object per row, keys in column order (Daisy's `query` output, made lossless). */
function ndjson (): Formatter {
  let keys: string[] = []
  return {
    header: columns => { keys = uniqueKeys(columns).map(k => JSON.stringify(k) + ':'); return '' },
    rows: rows => {
      let s = ''
      for (const r of rows) {
        s += '{'
        keys.forEach((k, i) => { s += (i === 0 ? '' : ',') + k + jsonValue(r[i] ?? null) })
        s += '}\n'
      }
      return s
    },
    end: () => ''
  }
}

function csv (): Formatter {
  return {
    header: columns => columns.map(CSV_HEADER_FIELD).join(',') + '\r\n',
    rows: rows => {
      let s = ''
      for (const r of rows) s += r.map(csvField).join(',') + '\r\n'
      return s
    },
    end: () => ''
  }
}

/** One JSON document: columns (duplicates kept), rows as arrays, then the summary. */
function json (): Formatter {
  let first = true
  return {
    header: columns => `{"columns":${JSON.stringify(columns)},"rows":[`,
    rows: rows => {
      let s = ''
      for (const r of rows) {
        s += (first ? '\n' : ',\n') + '[' + r.map(jsonValue).join(',') + ']'
        first = false
      }
      return s
    },
    end: summary => `${first ? '' : '\n'}],"rowCount":${summary.rowCount}` +
      (summary.blocks === undefined ? '' : `,"blocks":${summary.blocks}`) +
      (summary.tip === undefined ? '' : `,"tip":${JSON.stringify(summary.tip)}`) + '}\n'
  }
}

// The table's column widths come from the first rows; later, longer cells just push the line out.
const TABLE_SAMPLE = 1000

function table (): Formatter {
  let columns: readonly string[] = []
  let pending: string[][] = []
  let widths: number[] | undefined
  let numeric: boolean[] = []
  const line = (cells: string[]): string => cells.map((c, i) => {
    const w = widths?.[i] ?? 0
    return numeric[i] === true ? c.padStart(w) : c.padEnd(w)
  }).join(' | ').trimEnd() + '\n'
  const flush = (): string => {
    widths = columns.map((c, i) => Math.max(c.length, ...pending.map(r => (r[i] ?? '').length)))
    let s = line(columns.map(c => c)) + widths.map(w => '-'.repeat(w)).join('-+-') + '\n'
    for (const r of pending) s += line(r)
    pending = []
    return s
  }
  return {
    header: cols => { columns = cols.map(escapeControls); numeric = cols.map(() => true); return '' },
    rows: rows => {
      const cells = rows.map(r => r.map((v, i) => {
        if (!(v === null || typeof v === 'bigint' || typeof v === 'number')) numeric[i] = false
        return tableCell(v)
      }))
      if (widths !== undefined) return cells.map(line).join('')
      pending.push(...cells)
      return pending.length >= TABLE_SAMPLE ? flush() : ''
    },
    end: summary => (widths === undefined ? flush() : '') + `(${summary.rowCount} row${summary.rowCount === 1 ? '' : 's'}${summary.blocks === undefined ? '' : ` from ${summary.blocks} block${summary.blocks === 1 ? '' : 's'}`})\n`
  }
}
