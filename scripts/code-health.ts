// `node --import tsx scripts/code-health.ts [srcDir]`: the code-health figures of issue 9's closing
// note (docs/code-health.md) — the longest functions, `as` casts, public symbols per module (what
// each index.ts exports, `export *` followed through), files over 400 lines and files ending in an
// empty line. Read from the source text with comments and strings blanked (test/helpers/imports.ts),
// so it is a measure that stays the same from run to run, not a compiler's view.
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { codeOnly } from '../test/helpers/imports.js'

const SRC = resolve(process.argv[2] ?? join(import.meta.dirname, '..', 'src'))

function tsFiles (dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap(d => d.isDirectory() ? tsFiles(join(dir, d.name)) : d.name.endsWith('.ts') ? [join(dir, d.name)] : [])
}

const CONTROL = /^(if|for|while|switch|catch|with|return|do|else|try|finally)$/

/** Functions (declarations, methods, arrows with a block body) and their length in lines. */
function functionsOf (code: string): Array<{ line: number, lines: number }> {
  const out: Array<{ line: number, lines: number }> = []
  const stack: Array<{ at: number, fn: boolean }> = []
  const lineAt = (i: number): number => code.slice(0, i).split('\n').length
  for (let i = 0; i < code.length; i++) {
    const c = code[i]
    if (c === '{') {
      // What precedes the brace on its statement: `=> {`, `function f (…) {`, `name (…): T {`.
      const before = code.slice(Math.max(0, i - 400), i)
      const head = before.slice(Math.max(before.lastIndexOf(';'), before.lastIndexOf('{'), before.lastIndexOf('}')) + 1)
      let fn = /=>\s*$/.test(before) || /\bfunction\b[^=]*\)[^=]*$/.test(head)
      if (!fn) {
        const m = /^\s*(?:(?:public|private|protected|static|async|get|set|override|readonly)\s+)*\*?\s*(#?[\w$]+)\s*(?:<[^()]*>)?\s*\(/.exec(head)
        fn = m !== null && !CONTROL.test(m[1] ?? '') && /\)\s*(?::[^{}]*)?$/.test(head)
      }
      stack.push({ at: i, fn })
    } else if (c === '}') {
      const open = stack.pop()
      if (open?.fn === true) out.push({ line: lineAt(open.at), lines: lineAt(i) - lineAt(open.at) + 1 })
    }
  }
  return out
}

/** Names a file exports, following `export *` and `export { … } from` through relative files. */
function exportsOf (file: string, seen = new Set<string>()): Set<string> {
  const names = new Set<string>()
  if (seen.has(file)) return names
  seen.add(file)
  const text = readFileSync(file, 'utf8')
  const { code, strings } = codeOnly(text)
  for (const m of code.matchAll(/\bexport\s+(?:declare\s+)?(?:default\s+)?(?:async\s+)?(?:abstract\s+)?(?:function\*?|class|const|let|var|interface|type|enum|namespace)\s+([\w$]+)/g)) if (m[1] !== undefined) names.add(m[1])
  for (const m of code.matchAll(/\bexport\s+(?:type\s+)?\{([^}]*)\}/g)) {
    for (const part of (m[1] ?? '').split(',')) {
      const name = part.trim().replace(/^type\s+/, '').split(/\s+as\s+/).at(-1)?.trim()
      if (name !== undefined && name !== '') names.add(name)
    }
  }
  for (const m of code.matchAll(/\bexport\s+(?:type\s+)?\*\s+from\s*(['"])/g)) {
    const spec = strings.get((m.index ?? 0) + m[0].length - 1)
    if (spec?.startsWith('.') !== true) continue
    for (const n of exportsOf(resolve(dirname(file), spec.replace(/\.js$/, '.ts')), seen)) names.add(n)
  }
  return names
}

const files = tsFiles(SRC)
const fns: Array<{ where: string, lines: number }> = []
let casts = 0
let exportStars = 0
const long: string[] = []
// Files whose text ends with an empty line (src/sync/syncer.ts and eight others until session 48).
const blankEnd: string[] = []
for (const f of files) {
  const text = readFileSync(f, 'utf8')
  const rel = relative(SRC, f).split(sep).join('/')
  const { code } = codeOnly(text)
  for (const fn of functionsOf(code)) fns.push({ where: `${rel}:${fn.line}`, lines: fn.lines })
  // `x as T` but not `as const`, and not the renames of import/export lists.
  const noImports = code.replace(/\b(?:import|export)\s+(?:type\s+)?(?:\*\s+as\s+[\w$]+|\{[^}]*\})/g, '')
  casts += [...noImports.matchAll(/[\w$)\]}>'"`]\s+as\s+(?!const\b)[\w${[('"`]/g)].length
  exportStars += [...code.matchAll(/\bexport\s+(?:type\s+)?\*\s+from\b/g)].length
  const n = text.split('\n').length - (text.endsWith('\n') ? 1 : 0)
  if (n > 400) long.push(`${rel} (${n})`)
  if (text.endsWith('\n\n')) blankEnd.push(rel)
}
fns.sort((a, b) => b.lines - a.lines)
const modules = readdirSync(SRC, { withFileTypes: true }).filter(d => d.isDirectory() && readdirSync(join(SRC, d.name)).includes('index.ts')).map(d => d.name).sort()
const symbols = modules.map(m => ({ module: m, count: exportsOf(join(SRC, m, 'index.ts')).size }))

console.log(`longest functions (lines): ${fns.slice(0, 5).map(f => `${f.lines} ${f.where}`).join(', ')}`)
console.log(`as casts (not \`as const\`): ${casts}`)
console.log(`export * statements: ${exportStars}`)
console.log(`public symbols per module: ${symbols.map(s => `${s.module} ${s.count}`).join(', ')} (total ${symbols.reduce((a, s) => a + s.count, 0)})`)
console.log(`files over 400 lines: ${long.length === 0 ? 'none' : long.join(', ')}`)
console.log(`files ending in an empty line: ${blankEnd.length === 0 ? 'none' : blankEnd.join(', ')}`)
