// The row encoding of docs/block-format.md ("Row encoding"), rebuilt from a proof's typed JSON
// values. It must give exactly the bytes src/block/row-codec.ts hashes; the tests hold the two to
// the same vectors, and the proof builder checks every row it proves against both.
import { concatBytes, fromBase64, toBase64, u32be, utf8 } from './bytes.js'

/**
 * A SQLite value in a proof, lossless: INTEGER as exact decimal text (64-bit), REAL as the
 * shortest text that reads back to the same double, TEXT as a string, BLOB as base64, NULL.
 */
export type ProofValue = null | { integer: string } | { real: string } | { text: string } | { blob: string }

const INT_MIN = -(2n ** 63n)
const INT_MAX = 2n ** 63n - 1n

/** The canonical text of a REAL: JavaScript's shortest round-trip form, with -0 and ±Infinity. */
export function formatReal (n: number): string {
  if (Object.is(n, -0)) return '-0'
  return String(n)
}

/** Read a REAL written by formatReal; anything else (NaN, other spellings) is refused. */
export function parseReal (text: string): number | undefined {
  if (text === '-0') return -0
  if (!/^(-?Infinity|-?[0-9][0-9.e+-]*)$/.test(text)) return undefined
  const n = Number(text)
  return Number.isNaN(n) || formatReal(n) !== text ? undefined : n
}

export function parseInteger (text: string): bigint | undefined {
  if (!/^(0|-?[1-9][0-9]{0,18})$/.test(text)) return undefined
  const n = BigInt(text)
  return n < INT_MIN || n > INT_MAX ? undefined : n
}

/** Check the shape of one JSON value; returns an error message or the value. */
export function parseProofValue (v: unknown): { value: ProofValue } | { error: string } {
  if (v === null) return { value: null }
  if (typeof v !== 'object' || Array.isArray(v)) return { error: 'a value is null or an object with one key: integer, real, text or blob' }
  const keys = Object.keys(v)
  const only = keys.length === 1 ? keys[0] : undefined
  const x = (v as Record<string, unknown>)[only ?? '']
  if (typeof x !== 'string') return { error: 'a value is null or an object with one key (integer, real, text or blob) holding a string' }
  switch (only) {
    case 'integer': return parseInteger(x) === undefined ? { error: `integer ${JSON.stringify(x)} is not a canonical 64-bit decimal` } : { value: { integer: x } }
    case 'real': return parseReal(x) === undefined ? { error: `real ${JSON.stringify(x)} is not in canonical form` } : { value: { real: x } }
    case 'text': return x.isWellFormed() ? { value: { text: x } } : { error: 'text is not well-formed Unicode' }
    case 'blob': return fromBase64(x) === undefined ? { error: 'blob is not canonical base64' } : { value: { blob: x } }
    default: return { error: `unknown value type ${JSON.stringify(only)}` }
  }
}

/** Encode a row of already-parsed values: u32 column count, then tag ‖ payload per value. */
export function encodeRow (values: readonly ProofValue[]): Uint8Array {
  const parts: Uint8Array[] = [u32be(values.length)]
  for (const v of values) parts.push(encodeValue(v))
  return concatBytes(...parts)
}

function encodeValue (v: ProofValue): Uint8Array {
  if (v === null) return Uint8Array.of(0x00)
  if ('integer' in v) {
    const out = new Uint8Array(9)
    out[0] = 0x01
    new DataView(out.buffer).setBigInt64(1, parseInteger(v.integer) ?? 0n)
    return out
  }
  if ('real' in v) {
    const out = new Uint8Array(9)
    out[0] = 0x02
    new DataView(out.buffer).setFloat64(1, parseReal(v.real) ?? NaN)
    return out
  }
  const [tag, bytes] = 'text' in v ? [0x03, utf8(v.text)] : [0x04, fromBase64(v.blob) ?? new Uint8Array(0)]
  return concatBytes(Uint8Array.of(tag), u32be(bytes.length), bytes)
}

/** The typed JSON form of a SQLite value as better-sqlite3 returns it (INTEGER read as bigint). */
export function toProofValue (v: null | bigint | number | string | Uint8Array): ProofValue {
  if (v === null) return null
  if (typeof v === 'bigint') return { integer: v.toString() }
  if (typeof v === 'number') return { real: formatReal(v) }
  if (typeof v === 'string') return { text: v }
  return { blob: toBase64(v) }
}

/** The `_tables` row of a table, as RowsRoot hashes it: (name TEXT, sql TEXT, rows INTEGER, root TEXT). */
export function tableEntryValues (t: { name: string, sql: string, rows: number, root: string }): ProofValue[] {
  return [{ text: t.name }, { text: t.sql }, { integer: String(t.rows) }, { text: t.root }]
}
