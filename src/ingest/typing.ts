import { rowError } from './errors.js'
import { quote, said } from '../util/index.js'
import type { Column, ColumnKind, TableSchema } from './schema.js'
import { inputFieldOrder, kindOf, newRow, parseIntText, setField, parseRealText, type IngestRow, type IngestValue, type ValueKind } from './values.js'

/**
 * Typing rows against a table (docs/ingest.md, "Tables and types"). A value of the wrong type for a column
 * is refused, naming the row and field; a field the table lacks becomes a new column, typed by
 * its values in this batch. Text rows (CSV) are converted by the column's type instead.
 */
export interface TypedRows {
  /** The rows with field names spelled as the table's columns and values converted. */
  rows: IngestRow[]
  /** Columns to add, in order of first appearance. */
  added: Column[]
}

type NewKind = 'INTEGER' | 'REAL' | 'TEXT' | 'BLOB'

interface NewField { name: string, kind?: NewKind, firstRow: number }

const EXPECTED: Record<ColumnKind, string> = {
  INTEGER: 'an integer', REAL: 'a number', NUMERIC: 'a number or text', TEXT: 'text', BLOB: 'bytes ({"$base64": …} in JSON, \\x… in CSV)', ANY: 'any value'
}

export function typeRows (tableName: string, table: TableSchema | undefined, input: readonly IngestRow[], text: boolean): TypedRows {
  const byLower = new Map<string, Column>()
  for (const c of table?.columns ?? []) byLower.set(c.name.toLowerCase(), c)
  const fresh = new Map<string, NewField>()
  const mismatch = (row: number, field: string, expected: string, got: ValueKind, column: string): Error => rowError('INGEST_TYPE_MISMATCH', row, field, `expected ${expected}, got ${got === 'real' ? 'a real number' : got === 'integer' ? 'an integer' : got}`, {
    hint: table?.chain !== undefined
      ? said`column ${quote(JSON.stringify(column))} of table ${quote(tableName)} takes ${expected}, as the chain defines the table (block ${table.chain.height}: ${quote(table.sql)}): send such values, or write the rows to a table of another name`
      : said`column ${quote(JSON.stringify(column))} of table ${quote(tableName)} takes ${expected}${table?.declared === undefined ? ' (its type came from the first value written to it)' : ' (as declared)'}`,
    details: { expected, got, table: tableName, column }
  })

  // Pass 1: check values of existing columns; collect new fields and their kinds.
  const textKinds = new Map<string, Set<string>>()
  // JSON rows whose fields are spelled as their columns are stored as given (no copy).
  let rewrite = text
  for (let i = 0; i < input.length; i++) {
    const r = input[i] as IngestRow
    for (const field in r) {
      const v = r[field] as IngestValue
      const lower = field.toLowerCase()
      const col = byLower.get(lower)
      if (col !== undefined) {
        if (v !== null && convert(v, col.kind, text) === undefined) throw mismatch(i, field, EXPECTED[col.kind], text && typeof v === 'string' ? 'text' : kindOf(v), col.name)
        if (col.name !== field) rewrite = true
        continue
      }
      if (v === null) { rewrite = true; continue }
      let f = fresh.get(lower)
      if (f === undefined) { f = { name: field, firstRow: i }; fresh.set(lower, f) } else if (f.name !== field) rewrite = true
      if (text) {
        const k = typeof v === 'string' ? (parseIntText(v, true) !== undefined ? 'int' : parseRealText(v, true) !== undefined ? 'real' : 'text') : 'blob'
        let set = textKinds.get(lower)
        if (set === undefined) { set = new Set(); textKinds.set(lower, set) }
        if (set.size > 0 && (k === 'blob') !== set.has('blob')) throw mismatch(i, field, set.has('blob') ? 'bytes' : 'text or numbers', k === 'blob' ? 'blob' : 'text', f.name)
        set.add(k)
        continue
      }
      const k = kindOf(v)
      const want: NewKind = k === 'integer' ? 'INTEGER' : k === 'real' ? 'REAL' : k === 'text' ? 'TEXT' : 'BLOB'
      if (f.kind === undefined || (f.kind === 'INTEGER' && want === 'REAL')) f.kind = want
      else if (!(f.kind === want || (f.kind === 'REAL' && want === 'INTEGER'))) throw mismatch(i, field, EXPECTED[f.kind], k, f.name)
    }
  }
  if (text) {
    for (const [lower, f] of fresh) {
      const set = textKinds.get(lower) ?? new Set()
      f.kind = set.has('blob') ? 'BLOB' : set.has('text') ? 'TEXT' : set.has('real') ? 'REAL' : 'INTEGER'
    }
  }
  const added: Column[] = [...fresh.values()].map(f => ({ name: f.name, kind: f.kind ?? 'TEXT' }))
  // New columns in the input's order, where a field named as an array index moved in the rows' keys.
  const rank = added.length > 1 ? inputFieldOrder(input) : undefined
  if (rank !== undefined) added.sort((a, b) => (rank.get(a.name.toLowerCase()) ?? 0) - (rank.get(b.name.toLowerCase()) ?? 0))
  for (const c of added) byLower.set(c.name.toLowerCase(), c)

  if (!rewrite) return { rows: [...input], added }
  // Pass 2: the converted rows, keyed by column name.
  const rows = input.map(r => {
    const out = newRow()
    for (const field in r) {
      const v = r[field] as IngestValue
      const col = byLower.get(field.toLowerCase())
      if (col === undefined) continue // only NULLs were seen for it: NULL is what a missing column reads as
      setField(out, col.name, v === null ? null : convert(v, col.kind, text) as IngestValue)
    }
    return out
  })
  return { rows, added }
}

/** The value a column of `kind` stores for `v`, or undefined when it does not take it. */
function convert (v: Exclude<IngestValue, null>, kind: ColumnKind, text: boolean): IngestValue | undefined {
  if (text && typeof v === 'string') {
    switch (kind) {
      case 'INTEGER': return parseIntText(v)
      case 'REAL': return parseRealText(v)
      case 'NUMERIC': return numericOf(v)
      case 'TEXT': return v
      case 'BLOB': return undefined
      case 'ANY': return parseIntText(v, true) ?? parseRealText(v, true) ?? v
    }
  }
  switch (kind) {
    case 'INTEGER': return typeof v === 'bigint' ? v : undefined
    case 'REAL': return typeof v === 'bigint' || typeof v === 'number' ? v : undefined
    case 'NUMERIC': return typeof v === 'string' ? numericOf(v) : typeof v === 'bigint' || typeof v === 'number' ? v : undefined
    case 'TEXT': return typeof v === 'string' ? v : undefined
    case 'BLOB': return v instanceof Uint8Array ? v : undefined
    case 'ANY': return v
  }
}

/**
 * Text in a NUMERIC column (DATETIME, DATE, BOOLEAN, DECIMAL…), as SQLite's NUMERIC affinity stores
 * it: a number when it reads as one, else the text itself. Such columns hold ISO dates as text in
 * most SQLite files, so refusing text refused rows exactly like the chain's own.
 */
function numericOf (v: string): IngestValue {
  return parseIntText(v) ?? parseRealText(v) ?? v
}
