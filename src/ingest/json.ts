import { IngestError } from './errors.js'
import { quote, said, type Said } from '../util/index.js'
import { INT64_MAX, INT64_MIN, isIndexKey, markOrderedRows, MAX_RECORD_FIELDS, newRow, setField, setKeyOrder, tooManyFields, type IngestRow, type IngestValue } from './values.js'

/**
 * A strict JSON reader for records: a top-level array of objects (`json`) or one object per line
 * (`ndjson`). Unlike JSON.parse it keeps integers exact (`9223372036854775807` stays a bigint),
 * reads `{"$base64": "…"}` as a BLOB, refuses duplicate keys, nested values and integers beyond
 * 64 bits, and says where the input is wrong (row, line, field).
 */
export function parseJsonRecords (s: string, format: 'json' | 'ndjson', maxRows: number): IngestRow[] {
  const r = new JsonReader(s)
  const rows: IngestRow[] = []
  if (format === 'json') {
    r.space()
    r.expect(0x5b, 'the body must be a JSON array of objects, e.g. [{"a": 1}]')
    r.space()
    if (r.peek() === 0x5d) { r.pos++ } else {
      for (;;) {
        if (rows.length >= maxRows) throw tooMany(maxRows)
        rows.push(r.row(rows.length))
        r.space()
        const c = r.peek()
        r.pos++
        if (c === 0x5d) break
        if (c !== 0x2c) throw r.fail(rows.length - 1, undefined, 'expected "," or "]" after a row')
        r.space()
      }
    }
    r.space()
    if (r.pos < s.length) throw r.fail(rows.length, undefined, 'unexpected text after the array')
    return r.ordered ? markOrderedRows(rows) : rows
  }
  for (;;) {
    r.spaceInLine()
    if (r.pos >= s.length) break
    if (r.peek() === 0x0a || r.peek() === 0x0d) { r.pos++; continue }
    if (rows.length >= maxRows) throw tooMany(maxRows)
    rows.push(r.row(rows.length))
    r.spaceInLine()
    const c = r.peek()
    if (r.pos < s.length && c !== 0x0a && c !== 0x0d) throw r.fail(rows.length - 1, undefined, 'expected one JSON object per line')
  }
  return r.ordered ? markOrderedRows(rows) : rows
}

function tooMany (max: number): IngestError {
  return new IngestError('INGEST_TOO_MANY_ROWS', `more than ${max} rows in one request`, { hint: `send at most ${max} rows at a time`, details: { limit: max } })
}

/** Fields of a row checked for duplicates by a scan of an array; beyond, by a Set. */
const SCAN_FIELDS = 32
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/
const NUMBER = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y

class JsonReader {
  pos = 0
  /** A row had a field named as an array index: its order is recorded (values.ts, setKeyOrder). */
  ordered = false
  /** Lower-case forms of the field names seen (every row repeats the same few). */
  private readonly lowerNames = new Map<string, string>()
  constructor (readonly text: string) {}

  private lower (key: string): string {
    let l = this.lowerNames.get(key)
    if (l === undefined) {
      l = key.toLowerCase()
      if (this.lowerNames.size < 10_000) this.lowerNames.set(key, l)
    }
    return l
  }

  peek (): number { return this.text.charCodeAt(this.pos) }

  space (): void {
    for (;;) {
      const c = this.text.charCodeAt(this.pos)
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) this.pos++
      else return
    }
  }

  spaceInLine (): void {
    for (;;) {
      const c = this.text.charCodeAt(this.pos)
      if (c === 0x20 || c === 0x09) this.pos++
      else return
    }
  }

  expect (c: number, message: string): void {
    if (this.peek() !== c) throw this.fail(undefined, undefined, message)
    this.pos++
  }

  /** 1-based line of the current position (computed only for errors). */
  line (): number {
    let n = 1
    for (let i = 0; i < this.pos && i < this.text.length; i++) if (this.text.charCodeAt(i) === 0x0a) n++
    return n
  }

  fail (row: number | undefined, field: string | undefined, message: string | Said): IngestError {
    const line = this.line()
    // the field's name, and a value quoted in `message`, are the client's text (util/said.ts)
    const where = said`${row === undefined ? '' : `row ${row}, `}${field === undefined ? '' : said`field ${quote(JSON.stringify(field))}, `}line ${line}`
    return new IngestError('INGEST_MALFORMED', said`malformed JSON (${where}): ${message}`, {
      hint: 'each record is a JSON object of plain values: numbers, strings, true/false, null, or {"$base64": "…"} for bytes',
      details: { ...(row === undefined ? {} : { row }), ...(field === undefined ? {} : { field }), line },
      quoted: { details: ['field'] }
    })
  }

  row (index: number): IngestRow {
    if (this.peek() !== 0x7b) throw this.fail(index, undefined, 'a record must be a JSON object')
    this.pos++
    const row = newRow()
    // A row has few fields: a scan of an array beats a Set (which cost a quarter of a row's time).
    // Past SCAN_FIELDS the Set takes over: scans of a row of n fields are n²/2 comparisons (a row
    // may have MAX_RECORD_FIELDS; docs/performance/reliability.md, "Session 46: hostile bytes on the wire and over HTTP (wire46)").
    const seen: string[] = []
    let seenSet: Set<string> | undefined
    // the fields in the input's order, from the first named as an array index (which the keys move first)
    let order: string[] | undefined
    this.space()
    if (this.peek() === 0x7d) { this.pos++; return row }
    for (;;) {
      this.space()
      if (this.peek() !== 0x22) throw this.fail(index, undefined, 'expected a field name in double quotes')
      const key = this.string(index, undefined)
      if (order !== undefined) order.push(key)
      else if (isIndexKey(key)) { order = [...Object.keys(row), key]; setKeyOrder(row, order); this.ordered = true }
      const lower = this.lower(key)
      if (seenSet === undefined ? seen.includes(lower) : seenSet.has(lower)) throw this.fail(index, key, 'the field appears twice in the record (field names are case-insensitive, as SQL column names)')
      if (seenSet !== undefined) {
        if (seenSet.add(lower).size > MAX_RECORD_FIELDS) throw tooManyFields(index, `record ${index}`)
      } else if (seen.push(lower) > SCAN_FIELDS) seenSet = new Set(seen)
      this.space()
      if (this.peek() !== 0x3a) throw this.fail(index, key, 'expected ":" after the field name')
      this.pos++
      this.space()
      setField(row, key, this.value(index, key))
      this.space()
      const c = this.peek()
      this.pos++
      if (c === 0x7d) return row
      if (c !== 0x2c) { this.pos--; throw this.fail(index, key, 'expected "," or "}"') }
    }
  }

  private value (row: number, field: string): IngestValue {
    const c = this.peek()
    if (c === 0x22) return this.string(row, field)
    if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return this.number(row, field)
    if (this.text.startsWith('null', this.pos)) { this.pos += 4; return null }
    if (this.text.startsWith('true', this.pos)) { this.pos += 4; return 1n }
    if (this.text.startsWith('false', this.pos)) { this.pos += 5; return 0n }
    if (c === 0x7b) return this.blob(row, field)
    if (c === 0x5b) throw this.fail(row, field, 'arrays are not values: store them as a JSON string, or as rows of another table')
    throw this.fail(row, field, Number.isNaN(c) ? 'unexpected end of input' : 'expected a value')
  }

  private number (row: number, field: string): bigint | number {
    // Fast path: an integer of at most 15 digits, exact as a double, ends at a delimiter.
    const s = this.text
    let i = this.pos
    const negative = s.charCodeAt(i) === 0x2d
    if (negative) i++
    const first = i
    let n = 0
    for (let c = s.charCodeAt(i); c >= 0x30 && c <= 0x39 && i - first < 15; c = s.charCodeAt(++i)) n = n * 10 + (c - 0x30)
    const end = s.charCodeAt(i)
    const digits = i - first
    if (digits > 0 && (digits === 1 || s.charCodeAt(first) !== 0x30) && !(end >= 0x30 && end <= 0x39) && end !== 0x2e && end !== 0x65 && end !== 0x45) {
      this.pos = i
      return BigInt(negative ? -n : n)
    }
    NUMBER.lastIndex = this.pos
    const m = NUMBER.exec(this.text)
    if (m === null) throw this.fail(row, field, 'malformed number')
    this.pos += m[0].length
    if (m[1] === undefined && m[2] === undefined) {
      // More than 19 digits (no leading zeros) is beyond 64 bits: refused before BigInt reads it,
      // which for a body of 16 MiB of digits held the event loop for seconds, and named in the
      // message by its ends, not echoed whole into the response and the log.
      const v = m[0].length - (m[0].charCodeAt(0) === 0x2d ? 1 : 0) > 19 ? undefined : BigInt(m[0])
      if (v === undefined || v < INT64_MIN || v > INT64_MAX) {
        const lit = m[0].length > 40 ? `${m[0].slice(0, 20)}…${m[0].slice(-10)} (${m[0].length} characters)` : m[0]
        const real = m[0].length > 40 ? 'with .0 at its end' : `as ${m[0]}.0`
        throw this.fail(row, field, said`integer ${quote(lit)} is outside the 64-bit range of SQLite integers (send it as a string, or ${real} for a REAL)`)
      }
      return v
    }
    return Number(m[0])
  }

  private blob (row: number, field: string): Uint8Array {
    this.pos++
    this.space()
    const key = this.peek() === 0x22 ? this.string(row, field) : ''
    this.space()
    if (key !== '$base64' || this.peek() !== 0x3a) throw this.fail(row, field, 'objects are not values, except {"$base64": "…"} for bytes (store other objects as a JSON string)')
    this.pos++
    this.space()
    if (this.peek() !== 0x22) throw this.fail(row, field, '$base64 needs a string')
    const b64 = this.string(row, field)
    this.space()
    if (this.peek() !== 0x7d) throw this.fail(row, field, '{"$base64": …} takes no other key')
    this.pos++
    if (!BASE64.test(b64)) throw this.fail(row, field, 'the $base64 value is not standard padded base64')
    return new Uint8Array(Buffer.from(b64, 'base64'))
  }

  string (row: number | undefined, field: string | undefined): string {
    const s = this.text
    const start = ++this.pos
    // Fast path: no escapes.
    for (let i = start; i < s.length; i++) {
      const c = s.charCodeAt(i)
      if (c === 0x22) { this.pos = i + 1; return s.slice(start, i) }
      if (c === 0x5c) break
      if (c < 0x20) { this.pos = i; throw this.fail(row, field, 'control characters must be escaped in JSON strings') }
    }
    let out = ''
    let from = start
    let escapedUnicode = false
    for (let i = start; ; i++) {
      if (i >= s.length) { this.pos = i; throw this.fail(row, field, 'unterminated string') }
      const c = s.charCodeAt(i)
      if (c === 0x22) {
        out += s.slice(from, i)
        this.pos = i + 1
        if (escapedUnicode && !out.isWellFormed()) throw this.fail(row, field, 'the string has an unpaired surrogate escape (\\ud800…): it is not valid Unicode')
        return out
      }
      if (c < 0x20) { this.pos = i; throw this.fail(row, field, 'control characters must be escaped in JSON strings') }
      if (c !== 0x5c) continue
      out += s.slice(from, i)
      const e = s.charCodeAt(i + 1)
      switch (e) {
        case 0x22: out += '"'; break
        case 0x5c: out += '\\'; break
        case 0x2f: out += '/'; break
        case 0x62: out += '\b'; break
        case 0x66: out += '\f'; break
        case 0x6e: out += '\n'; break
        case 0x72: out += '\r'; break
        case 0x74: out += '\t'; break
        case 0x75: {
          const hex = s.slice(i + 2, i + 6)
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) { this.pos = i; throw this.fail(row, field, 'bad \\u escape') }
          out += String.fromCharCode(parseInt(hex, 16))
          escapedUnicode = true
          i += 4
          break
        }
        default: this.pos = i; throw this.fail(row, field, 'bad escape in string')
      }
      i++
      from = i + 1
    }
  }
}
