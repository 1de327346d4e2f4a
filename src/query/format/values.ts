import type { SqlValue } from '../../block/index.js'

/**
 * Lossless text encodings of SQLite values (docs/queries.md, "Output formats"). Integers arrive as
 * bigint (rows are read with safeIntegers), so every INTEGER prints exactly, beyond 2^53 too.
 */

/** A REAL as text that reads back as the same double and never looks like an INTEGER. */
export function realText (v: number): string {
  if (v === Infinity) return '1e999'
  if (v === -Infinity) return '-1e999'
  if (Number.isNaN(v)) return 'null' // SQLite never stores NaN (it becomes NULL)
  if (Object.is(v, -0)) return '-0.0'
  const s = String(v)
  return /[.eE]/.test(s) ? s : s + '.0'
}

/** JSON: null, exact integer, REAL, string, or {"$base64": "…"} for a BLOB. */
export function jsonValue (v: SqlValue): string {
  if (v === null) return 'null'
  if (typeof v === 'bigint') return v.toString()
  if (typeof v === 'number') return realText(v)
  if (typeof v === 'string') return JSON.stringify(v)
  return `{"$base64":"${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64')}"}`
}

const CSV_SPECIAL = /[",\r\n]/

/**
 * CSV (RFC 4180): NULL is an empty field, '' is "", a BLOB is \x followed by hex. TEXT that starts
 * with a backslash gets one more in front, so no TEXT value can read as a BLOB (lossless both ways).
 */
export function csvField (v: SqlValue): string {
  if (v === null) return ''
  if (typeof v === 'bigint') return v.toString()
  if (typeof v === 'number') return realText(v)
  if (typeof v === 'string') {
    const t = v.startsWith('\\') ? '\\' + v : v
    return t === '' || CSV_SPECIAL.test(t) || t.startsWith(' ') || t.endsWith(' ') ? `"${t.replaceAll('"', '""')}"` : t
  }
  return '\\x' + Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')
}

export const CSV_HEADER_FIELD = (name: string): string => (name === '' || CSV_SPECIAL.test(name) ? `"${name.replaceAll('"', '""')}"` : name)

const MAX_CELL = 80

/**
 * Text for a terminal: C0 and C1 control characters escaped, so text from a block (a value or a
 * column name) cannot move the cursor or change the terminal's state.
 */
export function escapeControls (s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, c => (c === '\n' ? '\\n' : c === '\t' ? '\\t' : c === '\r' ? '\\r' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`))
}

/** A cell of the human table: NULL, numbers, text with control characters escaped, x'hex'. */
export function tableCell (v: SqlValue): string {
  let s: string
  if (v === null) s = 'NULL'
  else if (typeof v === 'bigint') s = v.toString()
  else if (typeof v === 'number') s = realText(v)
  else if (typeof v === 'string') s = escapeControls(v)
  else s = `x'${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')}'`
  return s.length > MAX_CELL ? s.slice(0, MAX_CELL - 1) + '…' : s
}

/**
 * JSON object keys for a row: duplicate column names (SELECT a, a …) keep the first as is and
 * become "a:2", "a:3", … after it, skipping any name already taken.
 */
export function uniqueKeys (names: readonly string[]): string[] {
  const taken = new Set<string>(names)
  const seen = new Set<string>()
  return names.map(n => {
    if (!seen.has(n)) { seen.add(n); return n }
    let i = 2
    while (taken.has(`${n}:${i}`)) i++
    const k = `${n}:${i}`
    taken.add(k)
    seen.add(k)
    return k
  })
}
