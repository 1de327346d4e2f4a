// A JSON parser that keeps numbers as their text. Petal's API writes integers as exact digits,
// beyond 2^53 too, and REALs always with a "." or an exponent: JSON.parse would round the first
// and print 1.0 as 1. Values parsed here keep both exact (docs/api.md, "Conventions").

/** A JSON number, as written. */
export class JsonNumber {
  constructor (readonly text: string) {}
  /** INTEGER (exact digits) or REAL (with "." or an exponent) */
  get isInteger (): boolean { return !/[.eE]/.test(this.text) }
  toString (): string { return this.text }
}

export type Lossless = null | boolean | string | JsonNumber | Lossless[] | { [k: string]: Lossless }

export function parseLossless (text: string): Lossless {
  let i = 0
  const fail = (what: string): never => { throw new SyntaxError(`JSON: ${what} at offset ${i}`) }
  const ws = (): void => { while (i < text.length && ' \t\n\r'.includes(text.charAt(i))) i++ }
  const value = (): Lossless => {
    ws()
    const c = text.charAt(i)
    if (c === '{') {
      i++
      const o: { [k: string]: Lossless } = {}
      ws()
      if (text.charAt(i) === '}') { i++; return o }
      for (;;) {
        ws()
        if (text.charAt(i) !== '"') fail('expected a key')
        const k = str()
        ws()
        if (text.charAt(i++) !== ':') fail('expected ":"')
        Object.defineProperty(o, k, { value: value(), enumerable: true, writable: true, configurable: true })
        ws()
        const d = text.charAt(i++)
        if (d === '}') return o
        if (d !== ',') fail('expected "," or "}"')
      }
    }
    if (c === '[') {
      i++
      const a: Lossless[] = []
      ws()
      if (text.charAt(i) === ']') { i++; return a }
      for (;;) {
        a.push(value())
        ws()
        const d = text.charAt(i++)
        if (d === ']') return a
        if (d !== ',') fail('expected "," or "]"')
      }
    }
    if (c === '"') return str()
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400))
    if (m !== null && m[0] !== '') { i += m[0].length; return new JsonNumber(m[0]) }
    for (const [w, v] of [['true', true], ['false', false], ['null', null]] as const) {
      if (text.startsWith(w, i)) { i += w.length; return v }
    }
    return fail('unexpected character')
  }
  const str = (): string => {
    const start = i
    i++
    for (;;) {
      const c = text.charAt(i)
      if (c === '') fail('unterminated string')
      if (c === '\\') i += 2
      else if (c === '"') break
      else i++
    }
    i++
    const s: unknown = JSON.parse(text.slice(start, i))
    return typeof s === 'string' ? s : fail('bad string')
  }
  const v = value()
  ws()
  if (i < text.length) fail('trailing characters')
  return v
}
