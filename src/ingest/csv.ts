import { IngestError } from './errors.js'
import { quote, said, type Said } from '../util/index.js'
import { isIndexKey, markOrderedRows, markTextRows, MAX_RECORD_FIELDS, newRow, setField, setKeyOrder, tooManyFields, type IngestRow, type IngestValue } from './values.js'

/**
 * CSV with a header row (RFC 4180; CRLF or LF line ends), read as the exact inverse of
 * `petal query --format csv` (docs/queries.md): an empty unquoted field is NULL, `""` is the empty
 * string, `\x` followed by hex digits is a BLOB, and text that starts with a backslash carries one
 * more in front. CSV has no types: cells stay text here and the table's columns type them
 * (docs/ingest.md), so '007' in a TEXT column stays '007'.
 */
export function parseCsvRecords (s: string, maxRows: number): IngestRow[] {
  let pos = 0
  let line = 1
  // the field's and a column's names are the client's text (util/said.ts)
  const fail = (message: string | Said, row?: number, field?: string): IngestError => new IngestError('INGEST_MALFORMED', said`malformed CSV (${row === undefined ? '' : `row ${row}, `}${field === undefined ? '' : said`field ${quote(JSON.stringify(field))}, `}line ${line}): ${message}`, {
    hint: 'the first line names the columns; every line has as many fields; quote fields holding , " or line breaks ("a ""b"" c")',
    details: { line, ...(row === undefined ? {} : { row }), ...(field === undefined ? {} : { field }) },
    quoted: { details: ['field'] }
  })

  /**
   * One record: its fields, each with whether it was quoted. Returns undefined at the end of input.
   * A record of more than `max` fields is refused by `over()` at the comma that opens field max + 1,
   * before any of the rest is read: a 16 MiB header of 1.4 M names was read whole (~0.8 s of the
   * node's event loop) before the 2,000-field limit refused it (until session 47).
   */
  const record = (max: number, over: () => IngestError): Array<{ text: string, quoted: boolean }> | undefined => {
    if (pos >= s.length) return undefined
    const fields: Array<{ text: string, quoted: boolean }> = []
    for (;;) {
      let text: string
      let quoted = false
      if (s.charCodeAt(pos) === 0x22) {
        quoted = true
        let out = ''
        let from = ++pos
        for (;;) {
          const q = s.indexOf('"', pos)
          if (q < 0) throw fail('a quoted field is not closed')
          for (let i = pos; i < q; i++) if (s.charCodeAt(i) === 0x0a) line++
          if (s.charCodeAt(q + 1) === 0x22) { out += s.slice(from, q + 1); pos = from = q + 2; continue }
          out += s.slice(from, q)
          pos = q + 1
          break
        }
        text = out
        const c = s.charCodeAt(pos)
        if (!(pos >= s.length || c === 0x2c || c === 0x0a || (c === 0x0d && s.charCodeAt(pos + 1) === 0x0a))) throw fail('a closing quote must end the field')
      } else {
        let i = pos
        for (; i < s.length; i++) {
          const c = s.charCodeAt(i)
          if (c === 0x2c || c === 0x0a || (c === 0x0d && s.charCodeAt(i + 1) === 0x0a)) break
          if (c === 0x22) { pos = i; throw fail('a double quote inside an unquoted field (quote the whole field and double the quote)') }
        }
        text = s.slice(pos, i)
        pos = i
      }
      fields.push({ text, quoted })
      const c = s.charCodeAt(pos)
      if (c === 0x2c) {
        if (fields.length >= max) throw over()
        pos++
        continue
      }
      if (c === 0x0d) pos++
      if (pos < s.length) { pos++; line++ } // the LF
      return fields
    }
  }

  const header = record(MAX_RECORD_FIELDS, () => tooManyFields(undefined, 'the header'))
  if (header === undefined) throw fail('the input is empty: the first line must name the columns')
  const names = header.map(f => f.text)
  const seen = new Set<string>()
  for (const n of names) {
    if (n === '') throw fail('a column name in the header is empty')
    if (seen.has(n.toLowerCase())) throw fail(said`column ${quote(JSON.stringify(n))} appears twice in the header (names are case-insensitive)`)
    seen.add(n.toLowerCase())
  }
  const rows: IngestRow[] = []
  for (;;) {
    const startLine = line
    // A row past the limit is refused as it begins, before its fields are read.
    if (pos < s.length && rows.length >= maxRows) throw new IngestError('INGEST_TOO_MANY_ROWS', `more than ${maxRows} rows in one request`, { hint: `send at most ${maxRows} rows at a time`, details: { limit: maxRows } })
    const fields = record(names.length, () => {
      line = startLine
      return fail(`more than ${names.length} field(s) where the header has ${names.length}`, rows.length)
    })
    if (fields === undefined) break
    if (fields.length !== names.length) {
      line = startLine
      throw fail(`${fields.length} field(s) where the header has ${names.length}`, rows.length)
    }
    const row = newRow()
    for (let i = 0; i < names.length; i++) setField(row, names[i] as string, cell(fields[i] as { text: string, quoted: boolean }))
    rows.push(row)
  }
  if (names.some(isIndexKey)) {
    for (const row of rows) setKeyOrder(row, names)
    markOrderedRows(rows)
  }
  return markTextRows(rows)
}

const HEX = /^\\x(?:[0-9a-fA-F]{2})*$/

function cell (f: { text: string, quoted: boolean }): IngestValue {
  const t = f.text
  if (t === '') return f.quoted ? '' : null
  if (t.charCodeAt(0) !== 0x5c) return t
  if (t.charCodeAt(1) === 0x5c) return t.slice(1)
  if (HEX.test(t)) return new Uint8Array(Buffer.from(t.slice(2), 'hex'))
  return t
}
