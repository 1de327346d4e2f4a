// POST /records' JSON readers against JSON.parse, on inputs mutated at random from valid ones
// (spliced brackets, quotes, escapes, lone surrogates, \u0000, a BOM, long and huge numbers,
// invalid UTF-8): whatever the exact reader (json.ts) and typing accept holds exactly the values
// JSON.parse reads (integers exactly, where JSON.parse rounds them); whatever they refuse is an
// IngestError with a code (a 400 or 422, never a 500); the fast lane (json-encode.ts) never throws
// and, when it answers, stores what they store.
import { describe, expect, it } from 'vitest'
import { encodeJsonRows } from '../../../src/ingest/json-encode.js'
import { IngestError, parseRecords } from '../../../src/ingest/index.js'
import { PendingRowEncoder } from '../../../src/ingest/row-codec.js'
import type { ColumnKind, TableSchema } from '../../../src/ingest/schema.js'
import { typeRows } from '../../../src/ingest/typing.js'
import { errorStatus } from '../../../src/util/error-status.js'

/** xorshift: a failure is reproducible. */
function rng (seed: number): (n: number) => number {
  let x = seed
  return n => { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; return (x >>> 0) % n }
}

const COLUMNS: Array<[string, ColumnKind]> = [['a', 'INTEGER'], ['b', 'REAL'], ['c', 'TEXT'], ['d', 'ANY'], ['n', 'NUMERIC']]
const table: TableSchema = { name: 't', sql: 'CREATE TABLE t (…)', columns: COLUMNS.map(([name, kind]) => ({ name, kind })) }
const SEEDS = ['[{"a": 1, "b": 2.5, "c": "x", "d": "y", "n": 3}]', '{"a": 1}\n{"c": "z\\n"}\n', '[{"c": "é\\u00e9", "d": 1e5}, {"a": -7, "b": -0.0}]', '\ufeff[{"d": "\\ud83d\\ude00", "a": 9223372036854775807}]']
const PIECES = ['{', '}', '[', ']', ',', ':', '"', '\\', '\\u', 'd800', 'dc00', '\u0000', '\\u0000', '\ufeff', '1e400', '-0', '1'.repeat(30), '9223372036854775808', '0.1', 'e', '-', '.', 'null', 'true', ' ', '\n', '\r', '\t', '"a"', '"b"', '"c"', '"d"', '"n"', '"A"', '\u2028', '😀', 'é', '\x7f', '__proto__', '{"$base64": "AA=="}']

/** What JSON.parse reads of the rows, or undefined where it reads NDJSON differently (an object over several lines, which petal takes). */
function byJsonParse (text: string, format: 'json' | 'ndjson'): unknown[] | undefined {
  const t = text.replace(/^\ufeff/, '') // petal drops a byte-order mark; JSON.parse refuses one
  try {
    return format === 'json' ? JSON.parse(t) : t.split(/\r?\n|\r/).filter(l => l.trim() !== '').map(l => JSON.parse(l))
  } catch (err) {
    if (format === 'ndjson') return undefined
    throw err
  }
}

describe('the JSON readers against JSON.parse', () => {
  it('accept only what JSON.parse reads, with its values; refuse everything else with a coded 400/422; the fast lane agrees', () => {
    const r = rng(20261204)
    const codes = new Set<string>()
    let accepted = 0
    for (let i = 0; i < 50_000; i++) {
      let s = SEEDS[r(SEEDS.length)] as string
      for (let k = 1 + r(3); k > 0; k--) {
        const p = r(s.length + 1)
        const piece = PIECES[r(PIECES.length)] as string
        const op = r(3)
        s = op === 0 ? s.slice(0, p) + piece + s.slice(p) : op === 1 ? s.slice(0, p) + s.slice(p + 1 + r(3)) : s.slice(0, p) + piece + s.slice(p + 1)
      }
      const format = s.replace(/^\ufeff/, '').trimStart().startsWith('[') ? 'json' : 'ndjson'
      let bytes = Buffer.from(s)
      if (r(40) === 0) bytes = Buffer.concat([bytes.subarray(0, 5), Buffer.from([0xff, 0xc3]), bytes.subarray(5)]) // not UTF-8
      const what = `${format} ${JSON.stringify(s)}`
      let stored: string[] | string
      try {
        const rows = parseRecords(bytes, format, { maxRows: 100 })
        const typed = typeRows('t', table, rows, false)
        stored = typed.added.length > 0 || rows.length === 0 ? 'elsewhere' : new PendingRowEncoder().encodeAll(typed.rows, table).map(b => b.toString('hex'))
        accepted++
        const parsed = byJsonParse(bytes.toString('utf8'), format)
        for (let j = 0; parsed !== undefined && j < rows.length; j++) {
          const theirs = new Map(Object.entries(parsed[j] as object))
          const ours = Object.entries(rows[j] ?? {})
          expect(ours.map(([k]) => k), what).toEqual([...theirs.keys()])
          for (const [k, v] of ours) {
            const w = theirs.get(k)
            // An integer literal is an exact integer (JSON.parse rounds one past 2^53; its -0 is 0).
            if (typeof v === 'bigint') expect(typeof w === 'boolean' ? BigInt(w) === v : Number(v) === w, `${what} ${k}: ${v} against ${String(w)}`).toBe(true)
            else if (v instanceof Uint8Array) expect(Buffer.from(v).toString('base64'), `${what} ${k}`).toBe((w as { $base64: string }).$base64)
            else expect(Object.is(v, w), `${what} ${k}: ${String(v)} against ${String(w)}`).toBe(true)
          }
        }
      } catch (err) {
        if (!IngestError.is(err)) throw new Error(`${what}: not a coded error: ${String(err)}`)
        expect([400, 413, 422], `${what} ${err.code}`).toContain(errorStatus(err).http)
        codes.add(err.code)
        stored = `refused ${err.code}`
      }
      let lane: string[] | undefined
      try {
        lane = encodeJsonRows(bytes, format, table, 100)?.map(b => b.toString('hex'))
      } catch (err) {
        throw new Error(`${what}: the fast lane threw ${String(err)}`)
      }
      if (lane !== undefined) expect(lane, what).toEqual(stored)
    }
    // Both sides are exercised: inputs accepted, and several kinds of refusal.
    expect(accepted).toBeGreaterThan(2000)
    expect([...codes].sort()).toEqual(['INGEST_MALFORMED', 'INGEST_TYPE_MISMATCH'])
  })
})
