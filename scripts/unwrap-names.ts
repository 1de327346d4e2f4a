import { Script } from 'node:vm'

/**
 * esbuild's keepNames wraps function expressions and arrows in `__name(f, "n")` wherever a later
 * minifier might lose their names, including where JavaScript names them itself, by the same rule
 * (NamedEvaluation): a property's value (`load: __name(async () => …, "load")`), a declared or
 * assigned identifier (`const handleOptionValue = __name((…) => …, "handleOptionValue")`), a class
 * field, a default value. Wrapped, the function is an argument and so anonymous; `__name` then
 * defines its `name` (a call, a property define and a map of its own for the function: 192
 * defines in one `petal status`, 31 after this; docs/performance/startup.md, "Session 25: start-up").
 * Unwrapped in such a position, the function gets the same name, as the same own property, from
 * the language.
 *
 * `unwrapNames` removes the wrapper where (a) the call is the value of a property whose key is the
 * name, or the right side of `name=` (an identifier, not a member: declaration, assignment, field
 * or default), and (b) the wrapped argument is an arrow function or an anonymous function
 * expression (or one whose own name is already the name). The argument's end is found by a scan
 * that skips strings, templates and regular expressions, and is accepted only if the argument then
 * compiles alone as one expression and the call ends with `,"name")` there: a scan misled by
 * unusual code leaves that call as it was. Anything else (classes, member assignments, other
 * names) keeps its wrapper.
 */
export function unwrapNames (code: string): { code: string, removed: number } {
  const cuts: Array<[number, number]> = []
  for (let at = code.indexOf(CALL); at !== -1; at = code.indexOf(CALL, at + 1)) {
    if (at > 0 && /[\w$.]/.test(code[at - 1] ?? '')) continue
    const name = namingContext(code.slice(Math.max(0, at - 200), at))
    if (name === undefined) continue
    const from = at + CALL.length
    const end = argumentEnd(code, from)
    if (end === undefined) continue
    const close = `,${JSON.stringify(name)})`
    if (!code.startsWith(close, end)) continue
    const fn = code.slice(from, end)
    const own = FUNCTION_HEAD.exec(fn)
    if (own === null || (own[1] !== undefined && own[1] !== name)) continue
    // `(…)` must be an arrow's parameters, not a parenthesised expression.
    if (own[0].endsWith('(') && !own[0].includes('function')) {
      const params = groupEnd(fn, own[0].length, ')')
      if (params === undefined || !fn.startsWith('=>', params)) continue
    }
    if (!compilesAlone(fn)) continue
    cuts.push([at, from], [end, end + close.length])
  }
  let out = ''
  let last = 0
  for (const [a, b] of cuts.sort((x, y) => x[0] - y[0])) {
    out += code.slice(last, a)
    last = b
  }
  return { code: out + code.slice(last), removed: cuts.length / 2 }
}

const CALL = '__name('
// An arrow (`async` or not, one parameter or a list) or a function expression, anonymous or with
// its own name (group 1).
const FUNCTION_HEAD = /^(?:async ?)?(?:\(|[A-Za-z_$][\w$]*=>|function ?\*? ?(?:([A-Za-z_$][\w$]*) ?)?\()/
// `key:` after `{` or `,` (an object literal's property; never `a?b:`), or `name=` (not `.name=`,
// `#name=`, `==`, `+=`, `=>`).
const PROPERTY = /[{,]([A-Za-z_$][\w$]*|"[\w$]+"):$/
const ASSIGNED = /(?:^|[^\w$.#])([A-Za-z_$][\w$]*)=$/

/** The name JavaScript gives an anonymous function at the end of `before`, if any. */
function namingContext (before: string): string | undefined {
  const p = PROPERTY.exec(before)
  if (p?.[1] !== undefined) {
    const key = p[1].startsWith('"') ? p[1].slice(1, -1) : p[1]
    // `{__proto__: f}` sets the prototype: no property, no name.
    return key === '__proto__' ? undefined : key
  }
  return ASSIGNED.exec(before)?.[1]
}

function compilesAlone (fn: string): boolean {
  try {
    // Compiled, not run: a syntax error means the scan cut the argument in the wrong place. In
    // parentheses alone a wrong cut can compile (`()=>i++ /2,"a"),a=__name(()=>j`: its `)` closes
    // the opening one); brackets too, and a `)` or `]` that closes the opener early fails one of the
    // two, so the argument is one balanced expression (esbuild's calls have exactly two arguments).
    void new Script(`(${fn}\n)`)
    void new Script(`[${fn}\n]`)
    return true
  } catch {
    return false
  }
}

/** Where the call's first argument ends (the `,` after it at depth 0), or undefined. */
function argumentEnd (code: string, from: number): number | undefined {
  return scan(code, from, (c, i) => c === ',' ? i : null)
}

/** The position after the `closer` that closes a bracket opened just before `from`. */
function groupEnd (code: string, from: number, closer: '}' | ')'): number | undefined {
  return scan(code, from, (c, i) => c === ',' ? undefined : c === closer ? i + 1 : null)
}

/**
 * Scans code from `from`, skipping strings, templates and regular expressions, and asks `atTop`
 * about each `,` and closing bracket met at depth 0: it answers where the scan ends (a position),
 * that the scan fails (null), or to go on (undefined; a closing bracket cannot go on).
 */
function scan (code: string, from: number, atTop: (c: string, i: number) => number | null | undefined): number | undefined {
  let depth = 0
  let prev = '('
  for (let i = from; i < code.length;) {
    const c = code[i] ?? ''
    const literal = literalEnd(code, i, prev)
    if (literal === null) return undefined
    if (literal !== undefined) {
      i = literal
      prev = 'x'
      continue
    }
    if (c === '(' || c === '[' || c === '{') depth++
    else if (c === ')' || c === ']' || c === '}') {
      if (depth === 0) return atTop(c, i) ?? undefined
      depth--
    } else if (c === ',' && depth === 0) {
      const end = atTop(c, i)
      if (end !== undefined) return end ?? undefined
    }
    if (!/\s/.test(c)) prev = c
    i++
  }
  return undefined
}

/** Where a literal (string, template, regular expression) starting at i ends: undefined if none starts there, null if it never ends. */
function literalEnd (code: string, i: number, prev: string): number | null | undefined {
  const c = code[i]
  if (c === '"' || c === "'") return stringEnd(code, i)
  if (c === '`') return templateEnd(code, i) ?? null
  if (c === '/' && regexMayStart(code, i, prev)) return regexEnd(code, i) ?? null
  return undefined
}

function stringEnd (code: string, i: number): number {
  const q = code[i]
  for (let j = i + 1; j < code.length; j++) {
    if (code[j] === '\\') j++
    else if (code[j] === q) return j + 1
  }
  return code.length
}

/** The end of the template literal at i (its `${…}` parts scanned as code). */
function templateEnd (code: string, i: number): number | undefined {
  for (let j = i + 1; j < code.length; j++) {
    const c = code[j]
    if (c === '\\') j++
    else if (c === '`') return j + 1
    else if (c === '$' && code[j + 1] === '{') {
      const e = groupEnd(code, j + 2, '}')
      if (e === undefined) return undefined
      j = e - 1
    }
  }
  return undefined
}

// After these words a `/` starts a regular expression; after any other word, a number, a string,
// a closing bracket or a postfix `++`/`--` it divides.
const BEFORE_REGEX_WORDS = new Set(['return', 'typeof', 'instanceof', 'in', 'of', 'new', 'delete', 'void', 'throw', 'case', 'do', 'else', 'yield', 'await'])

function regexMayStart (code: string, i: number, prev: string): boolean {
  if (code[i + 1] === '/' || code[i + 1] === '*') return false
  if (/[\w$]/.test(prev)) {
    const word = /[\w$]+$/.exec(code.slice(Math.max(0, i - 20), i).trimEnd())?.[0] ?? ''
    return BEFORE_REGEX_WORDS.has(word)
  }
  if ((prev === '+' || prev === '-') && code[i - 1] === prev && code[i - 2] === prev) return false
  return !(prev === ')' || prev === ']' || prev === '}' || prev === 'x')
}

function regexEnd (code: string, i: number): number | undefined {
  let inClass = false
  for (let j = i + 1; j < code.length; j++) {
    const c = code[j]
    if (c === '\\') j++
    else if (c === '\n') return undefined
    else if (inClass) { if (c === ']') inClass = false } else if (c === '[') inClass = true
    else if (c === '/') {
      let k = j + 1
      while (k < code.length && /[a-z]/.test(code[k] ?? '')) k++
      return k
    }
  }
  return undefined
}
