import { describe, expect, it } from 'vitest'
import { encodeJsonRecord, encodeJsonRows } from '../../../src/ingest/json-encode.js'
import { packRows } from '../../../src/ingest/record-pack.js'
import { parseRecords } from '../../../src/ingest/parse.js'
import { PendingRowEncoder } from '../../../src/ingest/row-codec.js'
import type { ColumnKind, TableSchema } from '../../../src/ingest/schema.js'
import { typeRows } from '../../../src/ingest/typing.js'

const table = (columns: Array<[string, ColumnKind]>, declared?: string): TableSchema =>
  ({ name: 't', sql: 'CREATE TABLE t (…)', declared, columns: columns.map(([name, kind]) => ({ name, kind })) })

/** What the exact path stores for `input`: the encodings, or why it stores something else or nothing. */
function exact (input: string, format: 'json' | 'ndjson', t: TableSchema, maxRows: number): string[] | string {
  try {
    const rows = parseRecords(input, format, { maxRows })
    const typed = typeRows(t.name, t, rows, false)
    if (rows.length === 0) return 'no rows'
    if (typed.added.length > 0) return 'adds columns'
    return new PendingRowEncoder().encodeAll(typed.rows, t).map(b => b.toString('hex'))
  } catch (err) {
    return (err as { code?: string }).code ?? String(err)
  }
}

function fast (input: string, format: 'json' | 'ndjson', t: TableSchema, maxRows = 1000): string[] | undefined {
  return encodeJsonRows(Buffer.from(input), format, t, maxRows)?.map(b => b.toString('hex'))
}

/** A small deterministic generator (xorshift), so a failure is reproducible. */
function rng (seed: number): (n: number) => number {
  let x = seed
  return n => { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; return (x >>> 0) % n }
}

const COLUMNS: Array<[string, ColumnKind]> = [['a', 'INTEGER'], ['b', 'REAL'], ['c', 'TEXT'], ['ünï', 'ANY'], ['n', 'NUMERIC'], ['blob', 'BLOB'], ['__proto__', 'TEXT']]
const VALUES = ['0', '-0', '7', '-42', '999999999999999', '-999999999999999', '1234567890123456', '-9223372036854775808', '9223372036854775808', '007', '-', '1.', '1e', '12.5', '-0.0', '1e2', '2E-3', '0.1', '1.5e+300',
  'true', 'false', 'null', 'nul', '"x"', '""', '"with \\"quotes\\" and \\\\"', '"line\\nbreak\\t\\u00e9"', '"\\ud83d\\ude00"', '"\\ud800"', '"bad \\q escape"', '"é ü 漢字 😀"', '"ctl\u0001"', '"' + 'long text '.repeat(10) + '"', '"' + 'longer text '.repeat(20) + '"', '"' + 'esc\\n'.repeat(40) + '"',
  '{"$base64": "AAE="}', '{"x": 1}', '[1]', '"unterminated']
const KEYS = ['a', 'b', 'c', 'ünï', 'n', 'blob', 'A', 'new', 'x\\u0061', '1', '__proto__', 'ab', 'cc', 'ünïx']
const SPACES = ['', '', '', ' ', '\n', '\t', ' \r\n ']

function randomInput (r: (n: number) => number): { input: string, format: 'json' | 'ndjson' } {
  const sp = (): string => SPACES[r(SPACES.length)] as string
  const rows: string[] = []
  const n = 1 + r(4)
  for (let i = 0; i < n; i++) {
    const fields: string[] = []
    const count = r(5)
    for (let f = 0; f < count; f++) {
      // Mostly plain columns and well-formed values, so the lane is taken often.
      const key = r(4) === 0 ? KEYS[r(KEYS.length)] as string : (COLUMNS[r(5)] as [string, ColumnKind])[0]
      const value = r(3) === 0 ? VALUES[r(VALUES.length)] as string : (['1', '-2.5', '"v"', 'null', '123456'][r(5)] as string)
      fields.push(`${sp()}"${key}"${sp()}:${sp()}${value}${sp()}`)
    }
    rows.push(`{${fields.join(',')}}`)
  }
  if (r(2) === 0) return { input: `${sp()}[${rows.join(`${sp()},${sp()}`)}]${sp()}`, format: 'json' }
  return { input: rows.join(r(2) === 0 ? '\n' : '\r\n\n') + (r(2) === 0 ? '\n' : ''), format: 'ndjson' }
}

describe('the JSON fast lane', () => {
  it('stores exactly what the exact reader and typing store, and leaves every other input to them', () => {
    const r = rng(20261201)
    const t = table(COLUMNS)
    let taken = 0
    for (let i = 0; i < 20_000; i++) {
      const { input, format } = randomInput(r)
      const got = fast(input, format, t, 3)
      if (got === undefined) continue
      taken++
      expect(got, `${format} ${JSON.stringify(input)}`).toEqual(exact(input, format, t, 3))
    }
    expect(taken, 'the lane is taken for plain rows').toBeGreaterThan(500)
  })

  it('takes plain rows of every kind, and a byte-order mark', () => {
    const t = table(COLUMNS)
    const input = '\ufeff[{"a": 1, "b": 2.5, "c": "x\\"y", "ünï": "z", "n": -3}, {"c": null, "a": true, "b": 4}]'
    expect(fast(input, 'json', t)).toEqual(exact(input, 'json', t, 1000))
    expect(fast(input, 'json', t)).toHaveLength(2)
  })

  it('names columns past the 128th with a two-byte index, as the general path does', () => {
    const t = table(Array.from({ length: 300 }, (_, i) => [`c${i}`, i % 2 === 0 ? 'TEXT' : 'INTEGER'] as [string, ColumnKind]))
    const input = '[{"c299": 5, "c0": "first", "c128": "' + 'x'.repeat(300) + '"}, {"c127": 1, "c129": -2}]'
    const got = fast(input, 'json', t)
    expect(got).toHaveLength(2)
    expect(got).toEqual(exact(input, 'json', t, 1000))
  })

  it('reads every decimal to the double Number() reads, on either side of its short cut (up to 15 digits, no exponent)', () => {
    const r = rng(7)
    const t = table([['b', 'REAL'], ['a', 'INTEGER']])
    const digits = (n: number): string => Array.from({ length: n }, () => String(r(10))).join('')
    const numbers = ['0.1', '0.3', '-0.0', '3.0', '0.000001', '123456789012.345', '999999999999.999', '-99999999999999.9', '1234567890123.4567', '0.0000000000000000000001', '2.5e-3', '1.7976931348623157e308', '5e-324']
    for (let i = 0; i < 3000; i++) {
      const int = r(4) === 0 ? '0' : String(1 + r(9)) + digits(r(12))
      const frac = digits(1 + r(r(3) === 0 ? 22 : 8))
      numbers.push(`${r(2) === 0 ? '-' : ''}${int}.${frac}${r(10) === 0 ? `e${r(2) === 0 ? '-' : ''}${r(30)}` : ''}`)
    }
    const input = numbers.map(n => `{"b": ${n}, "a": ${n.startsWith('-') ? '-' : ''}${r(1_000_000_000)}}`).join('\n')
    const got = fast(input, 'ndjson', t, 10_000)
    expect(got).toHaveLength(numbers.length)
    expect(got).toEqual(exact(input, 'ndjson', t, 10_000))
  })

  it('leaves to the exact path what it must refuse or change: new or respelled columns, wrong types, duplicates, bad JSON, too many rows, a declared table', () => {
    const t = table(COLUMNS)
    for (const input of ['[{"new": 1}]', '[{"A": 1}]', '[{"a": "x"}]', '[{"c": 1}]', '[{"a": 1.5}]', '[{"a": 1, "a": 2}]', '[{"a": 1}', '[{"a": 1},]', '[{"a": 01}]',
      '[{"a": 12345678901234567}]', '[{"blob": {"$base64": "AA=="}}]', '[{}]', '[]', '[{"a": 1}] x', '[{"c": "\\ud800"}]', '{"a": 1}']) {
      expect(fast(input, 'json', t), input).toBeUndefined()
    }
    expect(fast('{"a": 1} {"a": 2}', 'ndjson', t)).toBeUndefined()
    expect(fast('[{"a": 1}, {"a": 2}]', 'json', t, 1)).toBeUndefined()
    expect(fast('[{"a": 1}]', 'json', table(COLUMNS, 'CREATE TABLE t (a INTEGER)'))).toBeUndefined()
    expect(encodeJsonRows(Buffer.from([0x5b, 0x7b, 0x22, 0x63, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d, 0x5d]), 'json', t, 10), 'invalid UTF-8').toBeUndefined()
  })

  it('writes the rows as one pending record, each after its length (one, two or three bytes), a lone row as it is', () => {
    const t = table(COLUMNS)
    for (const sizes of [[1], [200], [20_000], [1, 200, 20_000, 5], [127, 128, 16_383, 16_384]]) {
      const input = JSON.stringify(sizes.map((n, i) => ({ a: i, c: 'x'.repeat(n) })))
      const rows = new PendingRowEncoder().encodeAll(typeRows(t.name, t, parseRecords(input, 'json', { maxRows: 10 }), false).rows, t)
      const got = encodeJsonRecord(Buffer.from(input), 'json', t, 10)
      expect(got?.data.toString('hex'), input.slice(0, 40)).toBe(packRows(rows).toString('hex'))
      expect([got?.n, got?.bytes, got?.largest]).toEqual([rows.length, rows.reduce((s, r) => s + r.length, 0), Math.max(...rows.map(r => r.length))])
    }
  })
})
