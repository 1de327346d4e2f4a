import { IngestError } from './errors.js'

/**
 * Values and rows as the ingest service takes them. INTEGER is a bigint (exact over the whole
 * 64-bit range), REAL a number, TEXT a string, BLOB a Uint8Array, NULL null — the same values
 * `petal query` reads back (rows are read with safeIntegers).
 */
export type IngestValue = null | bigint | number | string | Uint8Array

/** One record: field name → value (own properties; a field may be called `__proto__`: see setField). */
export interface IngestRow { [column: string]: IngestValue }

/** The storage class of a value, as SQLite names them. */
export type ValueKind = 'null' | 'integer' | 'real' | 'text' | 'blob'

export function kindOf (v: IngestValue): ValueKind {
  if (v === null) return 'null'
  if (typeof v === 'bigint') return 'integer'
  if (typeof v === 'number') return 'real'
  if (typeof v === 'string') return 'text'
  return 'blob'
}

/**
 * The most fields a record may have: SQLite's limit of columns in a table (SQLITE_MAX_COLUMN), so
 * no record beyond it could be stored. The readers refuse one at its field past the limit, before
 * a body of 16 MiB makes one row of 1.5 M fields (seconds of the event loop in every later step).
 */
export const MAX_RECORD_FIELDS = 2000

export function tooManyFields (row: number | undefined, what: string): IngestError {
  return new IngestError('INGEST_BAD_COLUMN', `${what} has more than ${MAX_RECORD_FIELDS} fields; a table has at most ${MAX_RECORD_FIELDS} columns`, {
    hint: `send at most ${MAX_RECORD_FIELDS} fields per record (store the rest in another table, or as one JSON text)`,
    details: { ...(row === undefined ? {} : { row }), limit: MAX_RECORD_FIELDS }
  })
}

export const INT64_MIN = -(2n ** 63n)
export const INT64_MAX = 2n ** 63n - 1n

/**
 * A fresh row. A plain object rather than one without a prototype: V8 keeps records with the same
 * fields in one fast shape, where prototype-less objects are hash tables (several times slower to
 * build and read, measured). Set fields with setField.
 */
export function newRow (): IngestRow {
  return {}
}

/** Set a field; `__proto__` becomes an ordinary own field (an assignment would change the prototype). */
export function setField (row: IngestRow, name: string, value: IngestValue): void {
  if (name === '__proto__') Object.defineProperty(row, name, { value, enumerable: true, writable: true, configurable: true })
  else row[name] = value
}

/**
 * Rows whose cells are text as CSV carries it (string, null for an empty field, Uint8Array for
 * `\x…`): the table's column types decide what each cell is (docs/ingest.md, "CSV"). parseRecords
 * marks the arrays it returns for CSV; append() converts their cells by column.
 */
const textRows = new WeakSet<readonly IngestRow[]>()

export function markTextRows<T extends readonly IngestRow[]> (rows: T): T {
  textRows.add(rows)
  return rows
}

export function isTextRows (rows: readonly IngestRow[]): boolean {
  return textRows.has(rows)
}

/**
 * The order a row's fields came in, for the rare row with a field named as an array index ('2024'):
 * an object lists such keys first, in numeric order, whatever their place in the input, and a table
 * created from the rows took that order for its columns (`name,2024,2023` made "2023", "2024",
 * "name"). The readers record such a row's order here, and typeRows orders new columns by it.
 */
const keyOrders = new WeakMap<IngestRow, readonly string[]>()
const orderedRows = new WeakSet<readonly IngestRow[]>()

/** An array index as a property key: an object lists it before every other key. */
export function isIndexKey (name: string): boolean {
  const c = name.charCodeAt(0)
  return c >= 0x30 && c <= 0x39 && /^(?:0|[1-9][0-9]{0,9})$/.test(name) && Number(name) < 2 ** 32 - 1
}

/** `row`'s fields in the input's order (`order`), which its keys do not keep. */
export function setKeyOrder (row: IngestRow, order: readonly string[]): void {
  keyOrders.set(row, order)
}

/** Mark `rows` as holding rows with a key order of their own (setKeyOrder). */
export function markOrderedRows<T extends readonly IngestRow[]> (rows: T): T {
  orderedRows.add(rows)
  return rows
}

/** The fields of `rows` in the order they first come in the input (lower-cased), or undefined when the keys keep it. */
export function inputFieldOrder (rows: readonly IngestRow[]): Map<string, number> | undefined {
  if (!orderedRows.has(rows)) return undefined
  const rank = new Map<string, number>()
  for (const r of rows) for (const k of keyOrders.get(r) ?? Object.keys(r)) { const l = k.toLowerCase(); if (!rank.has(l)) rank.set(l, rank.size) }
  return rank
}

// Text forms of numbers. Canonical forms are what `petal query` writes; only they make a column
// of a new table INTEGER or REAL, so that text such as '007' or '1.50' is never changed.
const CANONICAL_INT = /^-?(?:0|[1-9][0-9]*)$/
const ANY_INT = /^[+-]?[0-9]+$/
const ANY_REAL = /^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/

/** Exact integer from decimal text, or undefined when it is not one or not within 64 bits. */
export function parseIntText (s: string, canonical = false): bigint | undefined {
  if (!(canonical ? CANONICAL_INT : ANY_INT).test(s) || s.length > 21) return undefined
  const v = BigInt(s)
  return v < INT64_MIN || v > INT64_MAX ? undefined : v
}

/** A double from decimal text (`1e999` is +∞, as `petal query` writes it), or undefined. */
export function parseRealText (s: string, canonical = false): number | undefined {
  if (!ANY_REAL.test(s)) return undefined
  const v = Number(s)
  if (canonical && realText(v) !== s) return undefined
  return v
}

/** The text `petal query` writes for a REAL: round-trips, always with a `.` or an exponent. */
export function realText (v: number): string {
  if (v === Infinity) return '1e999'
  if (v === -Infinity) return '-1e999'
  if (Object.is(v, -0)) return '-0.0'
  const s = String(v)
  return /[.eE]/.test(s) ? s : s + '.0'
}
