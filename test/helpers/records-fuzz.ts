// The record readers' seeded fuzz (POST /records' JSON, NDJSON and CSV; the suite's bounded run:
// test/unit/ingest/records-fuzz.test.ts; a long run: scripts/wire-fuzz.ts --records). Rows of
// every kind (64-bit integers at the edges, -0.0, ±∞, text with quotes, commas, CR, LF, NUL,
// backslashes, BOMs and astral characters, BLOBs) are written by `petal query`'s own formatters;
// the readers must give them back exactly. Mutants of the CSV (ragged rows, unclosed and stray
// quotes, bare CRs, BOMs, invalid UTF-8…) are read by the code and by a reference RFC 4180 reader
// written here from docs/ingest.md, "Records": the same rows, or a coded refusal from both.
import { isDeepStrictEqual } from 'node:util'
import type { SqlValue } from '../../src/block/index.js'
import { IngestError, parseRecords, type IngestRow, type RecordFormat } from '../../src/ingest/index.js'
import { inputFieldOrder, MAX_RECORD_FIELDS } from '../../src/ingest/values.js'
import { createFormatter } from '../../src/query/index.js'
import { bytesMutants, rng, type Rng } from './fuzz-rng.js'

const TEXTS = ['', 'plain', ' padded ', 'a,b', 'say "hi"', 'two\nlines', 'cr\rlf\r\n', '\\', '\\x00', '\\\\x', 'é😀', '\u0000nul', '\ufeffbom', 'NULL', '007', '1.50', '"', ',', '\u2028', 'x'.repeat(300)]
const INTS = [0n, -1n, 1n, 2n ** 53n + 1n, -(2n ** 53n) - 1n, 2n ** 63n - 1n, -(2n ** 63n), 9007199254740993n]
const REALS = [1.0, -0, 0.1, 1e300, -1e-300, Infinity, -Infinity, 2 ** 53, 5e-324]

function value (r: Rng): SqlValue {
  switch (r.int(5)) {
    case 0: return null
    case 1: return INTS[r.int(INTS.length)] as bigint
    case 2: return REALS[r.int(REALS.length)] as number
    case 3: return TEXTS[r.int(TEXTS.length)] as string
    default: return Uint8Array.from({ length: r.int(6) }, () => r.int(256))
  }
}

/** Columns and rows of every kind; a column may be named __proto__ or need quoting. */
export function seedTable (r: Rng): { columns: string[], values: SqlValue[][] } {
  const names = ['a', 'B', '__proto__', 'with space', 'com,ma', 'quo"te', 'é', 'constructor', 'x1', 'toString']
  const columns = names.filter(() => r.int(2) === 0)
  if (columns.length === 0) columns.push('a')
  const values = Array.from({ length: 1 + r.int(6) }, () => columns.map(() => value(r)))
  return { columns, values }
}

/** The table as `petal query --format F` writes it (json: its ndjson's objects in an array; its json is arrays). */
export function written (t: { columns: string[], values: SqlValue[][] }, format: RecordFormat): string {
  const f = createFormatter(format === 'json' ? 'ndjson' : format)
  const text = f.header(t.columns) + f.rows(t.values) + f.end({ rowCount: t.values.length })
  return format === 'json' ? `[${text.split('\n').filter(l => l !== '').join(',\r\n')}]` : text
}

/** What the readers must give back of a written table (CSV: cells as text, docs/ingest.md "Records"). */
export function expectedRows (t: { columns: string[], values: SqlValue[][] }, format: RecordFormat): Array<Array<[string, unknown]>> {
  return t.values.map(row => t.columns.map((c, i) => {
    const v = row[i] ?? null
    if (format !== 'csv') return [c, typeof v === 'boolean' ? BigInt(v) : v]
    if (v === null || typeof v === 'string' || v instanceof Uint8Array) return [c, v]
    return [c, typeof v === 'bigint' ? v.toString() : v === Infinity ? '1e999' : v === -Infinity ? '-1e999' : Object.is(v, -0) ? '-0.0' : /[.eE]/.test(String(v)) ? String(v) : `${v}.0`]
  }))
}

/** The rows' fields in the order the code keeps for them (the columns a new table gets), with their values. */
export function entriesOf (rows: IngestRow[]): Array<Array<[string, unknown]>> {
  const rank = inputFieldOrder(rows)
  return rows.map(r => rank === undefined ? Object.entries(r) : Object.entries(r).sort(([a], [b]) => (rank.get(a.toLowerCase()) ?? 0) - (rank.get(b.toLowerCase()) ?? 0)))
}

// ---- the reference CSV reader ----

type Ref = { ok: true, rows: Array<Array<[string, unknown]>> } | { ok: false, code: string }

/** RFC 4180 as docs/ingest.md takes it, character by character; refusals by code. */
export function referenceCsv (bytes: Uint8Array, maxRows = 1_000_000): Ref {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let s = buf.toString('utf8')
  if (!Buffer.from(s, 'utf8').equals(buf)) return { ok: false, code: 'INGEST_MALFORMED' }
  if (s.startsWith('\ufeff')) s = s.slice(1)
  if (s === '') return { ok: false, code: 'INGEST_MALFORMED' }
  // Record by record, as docs/ingest.md says: a fault is refused where the reading gets to it.
  // The header's field past MAX_RECORD_FIELDS, a row's past the header's count, and a row begun
  // past the row limit are refused there too, before the rest of that record is read.
  let i = 0
  const eol = (): number => s[i] === '\n' ? 1 : s[i] === '\r' && s[i + 1] === '\n' ? 2 : 0
  class Refused extends Error { constructor (readonly code: string) { super(code) } }
  const record = (max: number, over: string): Array<{ t: string, q: boolean }> => {
    const fields: Array<{ t: string, q: boolean }> = []
    for (;;) {
      let t = ''
      let q = false
      if (s[i] === '"') {
        q = true
        i++
        for (;;) {
          if (i >= s.length) throw new Refused('INGEST_MALFORMED')
          if (s[i] === '"') {
            if (s[i + 1] === '"') { t += '"'; i += 2; continue }
            i++
            break
          }
          t += s[i++] as string
        }
        if (i < s.length && s[i] !== ',' && eol() === 0) throw new Refused('INGEST_MALFORMED')
      } else {
        while (i < s.length && s[i] !== ',' && eol() === 0) {
          if (s[i] === '"') throw new Refused('INGEST_MALFORMED')
          t += s[i++] as string
        }
      }
      fields.push({ t, q })
      if (s[i] === ',') {
        if (fields.length >= max) throw new Refused(over)
        i++
        continue
      }
      i += eol()
      return fields
    }
  }
  try {
    const header = record(MAX_RECORD_FIELDS, 'INGEST_BAD_COLUMN')
    const names = header.map(f => f.t)
    if (names.some(n => n === '') || new Set(names.map(n => n.toLowerCase())).size !== names.length) return { ok: false, code: 'INGEST_MALFORMED' }
    const rest: Array<Array<{ t: string, q: boolean }>> = []
    while (i < s.length) {
      if (rest.length >= maxRows) return { ok: false, code: 'INGEST_TOO_MANY_ROWS' }
      const fields = record(names.length, 'INGEST_MALFORMED')
      if (fields.length !== names.length) return { ok: false, code: 'INGEST_MALFORMED' }
      rest.push(fields)
    }
    return { ok: true, rows: rest.map(f => f.map((c, k) => [names[k] as string, cell(c)])) }
  } catch (err) {
    if (err instanceof Refused) return { ok: false, code: err.code }
    throw err
  }
}

function cell (c: { t: string, q: boolean }): unknown {
  if (c.t === '') return c.q ? '' : null
  if (!c.t.startsWith('\\')) return c.t
  if (c.t.startsWith('\\\\')) return c.t.slice(1)
  return /^\\x(?:[0-9a-fA-F]{2})*$/.test(c.t) ? new Uint8Array(Buffer.from(c.t.slice(2), 'hex')) : c.t
}

// ---- mutants and the comparison ----

const CSV_PIECES = [',', '"', '""', '\r', '\n', '\r\n', '\\', '\\x', '\\x0', '\\\\', '\ufeff', '\u0000', ' ', 'a', 'A', '"a"', ',,', '\n\n', '\uffff', '😀']

/** One CSV-level or byte-level change of `text` (a ragged row, a quote, a line end, bad bytes…). */
export function csvMutant (r: Rng, bytes: Uint8Array): { what: string, bytes: Uint8Array } {
  if (r.int(3) === 0) return bytesMutants(r, bytes, 4096) // (`oversize`: trailing blanks, which CSV keeps in the last cell)
  const s = Buffer.from(bytes).toString('utf8')
  const p = r.int(s.length + 1)
  const piece = CSV_PIECES[r.int(CSV_PIECES.length)] as string
  const op = r.int(3)
  const out = op === 0 ? s.slice(0, p) + piece + s.slice(p) : op === 1 ? s.slice(0, p) + s.slice(p + 1 + r.int(3)) : s.slice(0, p) + piece + s.slice(p + 1)
  return { what: ['insert', 'delete', 'replace'][op] as string, bytes: Buffer.from(out, 'utf8') }
}

export interface RecordCounts { inputs: Record<string, number>, accepted: Record<string, number>, codes: Record<string, number> }
export const newRecordCounts = (): RecordCounts => ({ inputs: {}, accepted: {}, codes: {} })
const bump = (m: Record<string, number>, k: string): void => { m[k] = (m[k] ?? 0) + 1 }

/** The code's reading: rows as [name, value] lists, or the code it refused with (an uncoded throw is a finding). */
export function readRecords (bytes: Uint8Array, format: RecordFormat, maxRows?: number): Ref {
  try {
    return { ok: true, rows: entriesOf(parseRecords(bytes, format, { maxRows })) }
  } catch (err) {
    return { ok: false, code: err instanceof IngestError ? err.code : `uncoded ${(err as Error).name}: ${(err as Error).message}` }
  }
}

/** Seed `seed`'s table written in every format reads back exactly; then mutant `i` of its CSV against the reference. */
export function runRecordsMutant (seed: number, i: number, counts: RecordCounts): { found: string[], what: string } {
  const t = seedTable(rng(seed))
  const found: string[] = []
  if (i === 0) {
    for (const format of ['json', 'ndjson', 'csv'] as const) {
      bump(counts.inputs, `${format} written`)
      const got = readRecords(Buffer.from(written(t, format)), format)
      if (!got.ok) found.push(`${format} as petal query writes it is refused: ${got.code}`)
      else if (!isDeepStrictEqual(got.rows, expectedRows(t, format))) found.push(`${format} reads back ${show(got.rows)}, not ${show(expectedRows(t, format))}`)
      else bump(counts.accepted, `${format} written`)
    }
  }
  const r = rng((Math.imul(seed + 1, 0x9e3779b1) ^ Math.imul(i + 1, 0x85ebca6b)) >>> 0)
  let bytes: Uint8Array = Buffer.from(written(t, 'csv'))
  const what: string[] = []
  for (let k = 1 + r.int(3); k > 0; k--) { const m = csvMutant(r, bytes); bytes = m.bytes; what.push(m.what) }
  const maxRows = r.int(4) === 0 ? r.int(4) : undefined
  const started = performance.now()
  const got = readRecords(bytes, 'csv', maxRows)
  if (performance.now() - started > 5_000) found.push('took over 5 s (a hang)')
  const want = referenceCsv(bytes, maxRows)
  bump(counts.inputs, 'csv mutant')
  if (!got.ok) bump(counts.codes, got.code)
  if (!got.ok && got.code.startsWith('uncoded')) found.push(`threw ${got.code}`)
  else if (got.ok && want.ok) {
    bump(counts.accepted, 'csv mutant')
    if (!isDeepStrictEqual(got.rows, want.rows)) found.push(`rows ${show(got.rows)}; the reference reads ${show(want.rows)}`)
  } else if (got.ok !== want.ok || (!got.ok && !want.ok && got.code !== want.code)) {
    found.push(`code: ${got.ok ? 'accepted ' + show(got.rows) : got.code}; reference: ${want.ok ? 'accepted ' + show(want.rows) : want.code}`)
  }
  return { found, what: what.join('+') }
}

function show (v: unknown): string {
  const s = JSON.stringify(v, (_k, x: unknown) => typeof x === 'bigint' ? `${x}n` : x instanceof Uint8Array ? `bytes:${Buffer.from(x).toString('hex')}` : Object.is(x, -0) ? '-0' : x)
  return s.length > 400 ? s.slice(0, 400) + '…' : s
}
