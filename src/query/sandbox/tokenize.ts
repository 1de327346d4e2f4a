/**
 * A small SQLite tokenizer, enough to classify a statement before SQLite compiles it: which
 * keyword starts it, the shape of a PRAGMA, and which names are called as functions. It never
 * decides what is safe on its own: the read-only connection and SQLite's own flags do that; these
 * tokens only give refusals a clear code.
 */
export type TokenKind = 'word' | 'quoted' | 'string' | 'number' | 'variable' | 'punct'

export interface Token { kind: TokenKind, text: string, start: number }

const WORD_START = /[A-Za-z_\u0080-\uffff]/
const WORD_PART = /[A-Za-z0-9_$\u0080-\uffff]/

/** Tokens of `sql`, without whitespace and comments. Unterminated quotes run to the end. */
export function tokenize (sql: string): Token[] {
  const out: Token[] = []
  let i = 0
  const n = sql.length
  const until = (close: string, from: number, doubled: boolean): number => {
    let j = from
    for (;;) {
      const k = sql.indexOf(close, j)
      if (k < 0) return n
      if (doubled && sql[k + 1] === close) { j = k + 2; continue }
      return k + 1
    }
  }
  while (i < n) {
    const c = sql.charAt(i)
    if (/\s/.test(c)) { i++; continue }
    if (c === '-' && sql[i + 1] === '-') { const k = sql.indexOf('\n', i); i = k < 0 ? n : k + 1; continue }
    if (c === '/' && sql[i + 1] === '*') { const k = sql.indexOf('*/', i + 2); i = k < 0 ? n : k + 2; continue }
    let end: number
    let kind: TokenKind
    if (c === '\'') { end = until('\'', i + 1, true); kind = 'string' } else if ((c === 'x' || c === 'X') && sql[i + 1] === '\'') {
      end = until('\'', i + 2, false); kind = 'string'
    } else if (c === '"') { end = until('"', i + 1, true); kind = 'quoted' } else if (c === '`') { end = until('`', i + 1, true); kind = 'quoted' } else if (c === '[') {
      end = until(']', i + 1, false); kind = 'quoted'
    } else if (WORD_START.test(c)) {
      end = i + 1
      while (end < n && WORD_PART.test(sql.charAt(end))) end++
      kind = 'word'
    } else if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(sql[i + 1] ?? ''))) {
      end = i + 1
      while (end < n && /[0-9A-Za-z_.]/.test(sql.charAt(end))) {
        // exponent sign: 1e+5
        if ((sql[end] === 'e' || sql[end] === 'E') && (sql[end + 1] === '+' || sql[end + 1] === '-')) end++
        end++
      }
      kind = 'number'
    } else if (c === '?' || c === ':' || c === '@' || c === '$') {
      end = i + 1
      while (end < n && WORD_PART.test(sql.charAt(end))) end++
      kind = 'variable'
    } else {
      end = i + 1
      kind = 'punct'
    }
    out.push({ kind, text: sql.slice(i, end), start: i })
    i = end
  }
  return out
}

/** The name a word or quoted-identifier token stands for (quotes removed), else undefined. */
export function identifierOf (t: Token | undefined): string | undefined {
  if (t === undefined) return undefined
  if (t.kind === 'word') return t.text
  if (t.kind !== 'quoted') return undefined
  const open = t.text.charAt(0)
  const close = open === '[' ? ']' : open
  const closed = t.text.length >= 2 && t.text.endsWith(close)
  const body = t.text.slice(1, closed ? -1 : undefined)
  if (open === '"') return body.replaceAll('""', '"')
  if (open === '`') return body.replaceAll('``', '`')
  return body
}
