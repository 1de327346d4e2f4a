import { describe, expect, it } from 'vitest'
import { encodeJsonRows } from '../../../src/ingest/json-encode.js'
import { parseRecords } from '../../../src/ingest/parse.js'
import { PendingRowEncoder } from '../../../src/ingest/row-codec.js'
import type { ColumnKind, TableSchema } from '../../../src/ingest/schema.js'
import { typeRows } from '../../../src/ingest/typing.js'
/**
 * The JSON lane (json-encode.ts: four bytes at a time through text, numbers by its own reader)
 * against the general path (parseRecords, typeRows, PendingRowEncoder), byte for byte, on what a
 * hostile client sends: surrogate pairs and lone surrogates, escapes and multi-byte characters at
 * every offset of a four-byte step, NUL, texts around each varint width, integers at 15 and 16
 * digits and beyond 2^53, -0, exponents to overflow and underflow, and line ends NDJSON does not
 * have. Wherever the lane answers, it answers as the general path does (review38).
 */
const table = (columns: Array<[string, ColumnKind]>): TableSchema => ({ name: 't', sql: 'x', declared: undefined, columns: columns.map(([name, kind]) => ({ name, kind })) })
function exact (input: string, format: 'json' | 'ndjson', t: TableSchema): string[] | string {
  try {
    const rows = parseRecords(input, format, { maxRows: 100 })
    const typed = typeRows(t.name, t, rows, false)
    if (rows.length === 0) return 'no rows'
    if (typed.added.length > 0) return 'adds columns'
    return new PendingRowEncoder().encodeAll(typed.rows, t).map(b => b.toString('hex'))
  } catch (err) { return (err as { code?: string }).code ?? String(err) }
}
describe('the JSON lane against the general path', () => {
it('edge values: numbers, separators, texts at every offset of a four-byte step', () => {
  const t = table([['a', 'ANY'], ['b', 'REAL'], ['c', 'TEXT'], ['i', 'INTEGER']])
  const cases: Array<[string, 'json' | 'ndjson']> = []
  for (const v of ['1e400', '-1e400', '1e-400', '-0', '-0.0', '0e5', '-0e0', '9007199254740993', '999999999999999', '-999999999999999', '999999999999999.5', '1E+2', '1.0', '123456789012345.0', '0.0000000000000000000000001', '4.9e-324', '2.4e-324'])
    for (const c of ['a', 'b', 'i']) cases.push([`[{"${c}": ${v}}]`, 'json'])
  for (const sep of ['\r', '\r\n', '\n\r', '\u2028', '\f', '\v', '\u00a0', '\ufeff']) cases.push([`{"a": 1}${sep}{"a": 2}`, 'ndjson'], [`[{"a": 1}${sep},{"a": 2}]`, 'json'], [`${sep}{"a": 1}`, 'ndjson'])
  for (const s of ['\\u0000', '\u0000', '\\ud83d\\ude00', '\\ud83d', '\\ude00\\ud83d', '\\ud83dx', '😀', 'ab😀', 'abc😀', 'abcd😀xyz', '\\"', 'abc\\"', 'abcd\\\\', '\\/', '\\b\\f', '\u007f', '\u0080', '\u00ff', '\uffff', '\ufffe', 'x'.repeat(127), 'x'.repeat(128), 'é'.repeat(64), 'x'.repeat(16383) + 'é', 'x'.repeat(2_100_000)])
    for (let pad = 0; pad < 5; pad++) cases.push([`[{"c": "${'p'.repeat(pad)}${s}"}]`, 'json'], [`[{"a": "${'p'.repeat(pad)}${s}"}]`, 'json'])
  let taken = 0
  const bad: string[] = []
  for (const [input, format] of cases) {
    const got = encodeJsonRows(Buffer.from(input), format, t, 100)?.map(b => b.toString('hex'))
    if (got === undefined) continue
    taken++
    const want = exact(input, format, t)
    if (JSON.stringify(got) !== JSON.stringify(want)) bad.push(`${format} ${JSON.stringify(input.slice(0, 60))}: lane ${JSON.stringify(got).slice(0, 80)} exact ${JSON.stringify(want).slice(0, 80)}`)
  }
  expect(taken).toBeGreaterThan(200)
  expect(bad).toEqual([])
})
it('random texts of escapes, quotes, controls and multi-byte characters', () => {
  const t = table([['a', 'ANY'], ['b', 'REAL'], ['c', 'TEXT'], ['i', 'INTEGER']])
  let x = 12345
  const r = (n: number): number => { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; return (x >>> 0) % n }
  const PAL = ['a', 'b', ' ', '"', '\\"', '\\\\', '\\n', '\\u0000', '\\u00e9', '\\ud83d\\ude00', '\\ud83d', '\\ude00', 'é', '漢', '😀', '\u0001', '\u001f', '\u007f', '\\/', '\\', '\\x', "'", '\u2028', '\ufeff', '\\uD83D\\uDE00', '\\u12', '%', '~']
  const bad: string[] = []
  let taken = 0
  for (let i = 0; i < 10_000; i++) {
    const vals: string[] = []
    const rows = 1 + r(3)
    for (let k = 0; k < rows; k++) {
      const len = r(4) === 0 ? r(300) : r(12)
      let s = ''
      for (let j = 0; j < len; j++) s += r(3) === 0 ? PAL[r(PAL.length)] : 'abcdefgh'[r(8)]
      vals.push(`{"${['a', 'c'][r(2)]}": "${s}"${r(3) === 0 ? `, "i": ${r(1000) - 500}` : ''}}`)
    }
    const format = r(2) === 0 ? 'json' : 'ndjson'
    const input = format === 'json' ? `[${vals.join(',')}]` : vals.join('\n')
    const got = encodeJsonRows(Buffer.from(input), format, t, 100)?.map(b => b.toString('hex'))
    if (got === undefined) continue
    taken++
    const want = exact(input, format, t)
    if (JSON.stringify(got) !== JSON.stringify(want)) bad.push(`${format} ${JSON.stringify(input.slice(0, 80))}`)
  }
  expect(taken).toBeGreaterThan(2000)
  expect(bad).toEqual([])
})
})
