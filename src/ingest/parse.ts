import { parseCsvRecords } from './csv.js'
import { IngestError } from './errors.js'
import { parseJsonRecords } from './json.js'
import type { IngestRow } from './values.js'

export type RecordFormat = 'json' | 'ndjson' | 'csv'
export const RECORD_FORMATS: readonly RecordFormat[] = ['json', 'ndjson', 'csv']

export interface ParseLimits {
  /** Refuse more rows than this (INGEST_TOO_MANY_ROWS). Default 1,000,000. */
  maxRows?: number
  /** Refuse an input longer than this many bytes (INGEST_TOO_LARGE). Default: no limit. */
  maxBytes?: number
}

export const DEFAULT_MAX_ROWS = 1_000_000

// ignoreBOM: the decoder keeps a byte-order mark, which parseRecords drops below, once, as for a
// string: by default the decoder dropped one too, and bytes starting with two were read as one.
// Made at first use: a process that never parses records (a signimportblock of an SQLite file, which
// bundles this module) does not construct a TextDecoder (Node's class is compiled at first use).
let utf8: InstanceType<typeof TextDecoder> | undefined

/**
 * Parse a request body or a file into rows. Strict: an error names the row (0-based), the line
 * and the field. `json`: an array of objects; `ndjson`: one object per line; `csv`: a header row,
 * then one row per line (cells typed later by the table's columns: see values.ts, isTextRows).
 */
export function parseRecords (input: string | Uint8Array, format: RecordFormat, limits: ParseLimits = {}): IngestRow[] {
  const size = typeof input === 'string' ? Buffer.byteLength(input, 'utf8') : input.byteLength
  if (limits.maxBytes !== undefined && size > limits.maxBytes) {
    throw new IngestError('INGEST_TOO_LARGE', `the input is ${size} bytes; at most ${limits.maxBytes} are accepted at once`, { hint: 'split it into smaller requests', details: { bytes: size, limit: limits.maxBytes } })
  }
  let text: string
  if (typeof input === 'string') {
    if (!input.isWellFormed()) throw new IngestError('INGEST_MALFORMED', 'the input is not valid Unicode (it has an unpaired surrogate)', { hint: 'send UTF-8 text' })
    text = input
  } else {
    try {
      text = (utf8 ??= new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })).decode(input)
    } catch {
      throw new IngestError('INGEST_MALFORMED', 'the input is not valid UTF-8', { hint: 'send UTF-8 text; bytes go in {"$base64": "…"} (JSON) or \\x hex (CSV)' })
    }
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1) // a byte-order mark (spreadsheets write one)
  const maxRows = limits.maxRows ?? DEFAULT_MAX_ROWS
  switch (format) {
    case 'json':
    case 'ndjson': return parseJsonRecords(text, format, maxRows)
    case 'csv': return parseCsvRecords(text, maxRows)
  }
}

/**
 * Guess the format of a file: by its extension, else by its first non-blank character (`[` JSON
 * array, `{` NDJSON, anything else CSV).
 */
export function detectFormat (name: string | undefined, head: string): RecordFormat {
  const ext = name?.toLowerCase().match(/\.([a-z]+)$/)?.[1]
  if (ext === 'csv') return 'csv'
  if (ext === 'ndjson' || ext === 'jsonl') return 'ndjson'
  if (ext === 'json') return 'json'
  const first = head.replace(/^\ufeff/, '').trimStart()[0]
  if (first === '[') return 'json'
  if (first === '{') return 'ndjson'
  return 'csv'
}
