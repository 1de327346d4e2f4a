/**
 * Text that keeps apart what it quotes (a request's words: a table name, SQLite's message on the
 * client's SQL, a parser's excerpt of the body; or the chain's data) from the node's own words. An
 * exposed node takes the paths of its machine out of its own words only (api/http-errors.ts): had
 * it changed a client's text, the change would tell the client which guess was the real path.
 */

/** A character range [start, end) of a text. */
export type Span = readonly [start: number, end: number]

export interface Said {
  readonly text: string
  /** the ranges of `text` that are quoted, in order, not overlapping */
  readonly quotes: readonly Span[]
}

/** `text`, wholly quoted. */
export function quote (text: string): Said {
  return { text, quotes: text === '' ? [] : [[0, text.length]] }
}

/**
 * A template whose literal parts and plain values are the node's words, and whose `Said` values
 * (`quote(x)`, or another `said`) keep their quoted ranges: said`no such table: ${quote(name)}`.
 */
export function said (strings: TemplateStringsArray, ...values: ReadonlyArray<string | number | bigint | Said>): Said {
  let text = strings[0] ?? ''
  const quotes: Span[] = []
  values.forEach((v, i) => {
    if (typeof v === 'object') {
      for (const [a, b] of v.quotes) quotes.push([text.length + a, text.length + b])
      text += v.text
    } else {
      text += String(v)
    }
    text += strings[i + 1] ?? ''
  })
  return { text, quotes }
}

/**
 * The words of `list`, each quoted, joined by the node's `sep`. In one pass: built by `said` word
 * by word, each word copied every range before it, and the 20,000 field names of one request took
 * 27 s (docs/performance/reliability.md, "Session 46: hostile bytes on the wire and over HTTP (wire46)").
 */
export function quoteEach (list: readonly string[], sep = ', '): Said {
  let text = ''
  const quotes: Span[] = []
  list.forEach((x, i) => {
    if (i > 0) text += sep
    if (x !== '') quotes.push([text.length, text.length + x.length])
    text += x
  })
  return { text, quotes }
}

/**
 * `text` with `change` applied to its own words only: each stretch between quoted ranges is changed
 * on its own, each quoted range is kept as it is.
 */
export function changeOwnWords (text: string, quotes: readonly Span[] | undefined, change: (s: string) => string): string {
  if (quotes === undefined || quotes.length === 0) return change(text)
  let out = ''
  let at = 0
  for (const [a, b] of quotes) {
    if (a < at || b > text.length || b < a) return change(text) // not this text's ranges: all its own
    out += change(text.slice(at, a)) + text.slice(a, b)
    at = b
  }
  return out + change(text.slice(at))
}
