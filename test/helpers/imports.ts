// The import graph of src/, for test/unit/imports.test.ts: which module imports which, and which
// packages, read from the source text (comments and string contents are skipped, so an `import`
// in a comment or in a worker's eval source is not one).
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'

export interface ImportRef {
  /** The specifier as written: './x.js', '../chain/index.js', 'node:fs', '@libp2p/tcp'. */
  spec: string
  /** `import type …` / `export type …`: erased at run time, still a dependency. */
  typeOnly: boolean
  /** `import('…')` */
  dynamic: boolean
  line: number
}

/**
 * `text` with comments blanked and the contents of string, template and regular-expression
 * literals replaced by spaces (newlines kept, so line numbers hold); a template's `${…}` code is
 * kept. `strings` maps the offset of each string or template literal's opening quote to its text.
 */
export function codeOnly (text: string): { code: string, strings: Map<number, string> } {
  let code = ''
  const strings = new Map<number, string>()
  const blank = (s: string): string => s.replace(/[^\n]/g, ' ')
  const n = text.length
  // For each open `${`, the brace depth at which it opened: its `}` resumes the template.
  const open: number[] = []
  let depth = 0
  let i = 0
  // The rest of a template from `from` (just after '`' or after the '}' of a `${…}`).
  const template = (from: number): void => {
    let j = from
    while (j < n && text[j] !== '`' && !(text[j] === '$' && text[j + 1] === '{')) j += text[j] === '\\' ? 2 : 1
    strings.set(from - 1, text.slice(from, j))
    code += blank(text.slice(from, j))
    if (text[j] === '$') { code += '${'; open.push(depth); depth++; i = j + 2 } else { code += '`'; i = j + 1 }
  }
  // Whether a '/' here starts a regular expression: it follows an operator, a bracket or nothing.
  const regexAllowed = (): boolean => {
    let k = code.length - 1
    while (k >= 0 && /\s/.test(code[k] ?? '')) k--
    if (k < 0 || '(,=:[!&|?{};+-*%<>~^'.includes(code[k] ?? '')) return true
    return /\b(?:return|typeof|case|in|of)$/.test(code.slice(Math.max(0, k - 6), k + 1))
  }
  while (i < n) {
    const c = text[i] ?? ''
    const next = text[i + 1]
    if (c === '/' && next === '/') {
      const end = text.indexOf('\n', i)
      const stop = end < 0 ? n : end
      code += blank(text.slice(i, stop))
      i = stop
    } else if (c === '/' && next === '*') {
      const end = text.indexOf('*/', i + 2)
      const stop = end < 0 ? n : end + 2
      code += blank(text.slice(i, stop))
      i = stop
    } else if (c === '\'' || c === '"') {
      let j = i + 1
      while (j < n && text[j] !== c && text[j] !== '\n') j += text[j] === '\\' ? 2 : 1
      strings.set(i, text.slice(i + 1, j))
      code += c + blank(text.slice(i + 1, j)) + c
      i = j + 1
    } else if (c === '`') {
      code += '`'
      template(i + 1)
    } else if (c === '}' && open.at(-1) === depth - 1) {
      open.pop()
      depth--
      code += '}'
      template(i + 1)
    } else if (c === '/' && regexAllowed()) {
      let j = i + 1
      let inClass = false
      while (j < n && text[j] !== '\n' && (inClass || text[j] !== '/')) {
        if (text[j] === '\\') { j += 2; continue }
        if (text[j] === '[') inClass = true
        else if (text[j] === ']') inClass = false
        j++
      }
      code += '/' + blank(text.slice(i + 1, j)) + '/'
      i = j + 1
    } else {
      if (c === '{') depth++
      else if (c === '}') depth--
      code += c
      i++
    }
  }
  return { code, strings }
}

// After codeOnly, a specifier is an empty-looking literal whose offset maps to its text.
const STATIC = /(?:^|[;\n}])\s*(import|export)\b(\s+type\b)?([^;'"`]*?\bfrom\s*|\s*)(['"])/g
const DYNAMIC = /\bimport\s*\(\s*(['"])/g

/** Every import of a TypeScript source: static (`import`/`export … from`), side-effect and dynamic. */
export function importsOf (text: string): ImportRef[] {
  const { code, strings } = codeOnly(text)
  const lineAt = (offset: number): number => code.slice(0, offset).split('\n').length
  const refs: ImportRef[] = []
  for (const m of code.matchAll(STATIC)) {
    const [all, kind, type, between] = m
    if (kind === undefined || between === undefined || m.index === undefined) continue
    // `export const x = '…'` is not a re-export: between `export` and the quote there must be `from`
    // (or nothing, for `import 'x'`).
    if (kind === 'export' && !/\bfrom\s*$/.test(between)) continue
    if (kind === 'import' && between.trim() !== '' && !/\bfrom\s*$/.test(between)) continue
    const at = m.index + all.length - 1
    const spec = strings.get(at)
    if (spec === undefined) continue
    refs.push({ spec, typeOnly: type !== undefined, dynamic: false, line: lineAt(at) })
  }
  for (const m of code.matchAll(DYNAMIC)) {
    if (m.index === undefined) continue
    const at = m.index + m[0].length - 1
    const spec = strings.get(at)
    if (spec !== undefined) refs.push({ spec, typeOnly: false, dynamic: true, line: lineAt(at) })
  }
  return refs
}

export interface SourceFile {
  /** Path under src/, with '/' separators: 'sync/download.ts'. */
  path: string
  /** The module (folder under src/), or '' for a file at the top of src/. */
  module: string
  imports: ImportRef[]
}

/** Every `.ts` file under `srcDir` with its imports. */
export function readSources (srcDir: string): SourceFile[] {
  const files: SourceFile[] = []
  const walk = (dir: string): void => {
    for (const d of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, d.name)
      if (d.isDirectory()) walk(p)
      else if (d.name.endsWith('.ts')) {
        const path = relative(srcDir, p).split(sep).join('/')
        files.push({ path, module: path.includes('/') ? path.slice(0, path.indexOf('/')) : '', imports: importsOf(readFileSync(p, 'utf8')) })
      }
    }
  }
  walk(srcDir)
  return files
}

/** The file under src/ a relative specifier of `from` points at ('chain/index.ts'), or undefined for a package. */
export function targetOf (from: SourceFile, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined
  const abs = resolve('/src', dirname(from.path), spec.replace(/\.js$/, '.ts'))
  return relative('/src', abs).split(sep).join('/')
}

/** The package a bare specifier names ('@libp2p/tcp', 'libp2p'), or undefined for node: and relative ones. */
export function packageOf (spec: string): string | undefined {
  if (spec.startsWith('.') || spec.startsWith('node:')) return undefined
  const parts = spec.split('/')
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]
}

export interface Violation { file: string, line: number, spec: string, why: string }

export interface ImportRules {
  /** For each module, the modules it may import (DESIGN.md and docs/architecture.md). */
  mayImport: Readonly<Record<string, readonly string[]>>
  /** For each package (or package scope ending in '/'), the modules that may import it. */
  packageOwners: ReadonlyArray<{ prefix: string, modules: readonly string[] }>
  /** Folders whose files import nothing outside the folder, and no package ('proof/verifier/'). */
  closedFolders: readonly string[]
  /**
   * Files of another module that may be imported directly rather than through its `index.ts`,
   * each with the modules allowed to and why (docs/architecture.md, "Known violations").
   */
  pastIndex: ReadonlyArray<{ file: string, from: readonly string[], why: string }>
}

/** Every import in `files` that breaks `rules`. */
export function checkImports (files: readonly SourceFile[], rules: ImportRules): Violation[] {
  const out: Violation[] = []
  for (const f of files) {
    const allowed = rules.mayImport[f.module]
    const closed = rules.closedFolders.find(c => f.path.startsWith(c))
    for (const r of f.imports) {
      const at = { file: f.path, line: r.line, spec: r.spec }
      const target = targetOf(f, r.spec)
      const pkg = packageOf(r.spec)
      if (closed !== undefined && (target === undefined ? pkg !== undefined : !target.startsWith(closed))) {
        out.push({ ...at, why: `${closed} imports nothing outside its folder (it runs in a browser)` })
        continue
      }
      if (target !== undefined) {
        const to = target.includes('/') ? target.slice(0, target.indexOf('/')) : ''
        if (to === f.module || to === '') continue
        if (allowed === undefined) { out.push({ ...at, why: `module ${f.module} has no import rule` }); continue }
        if (!allowed.includes(to)) out.push({ ...at, why: `${f.module} may import only ${allowed.join(', ') || 'nothing'}, not ${to}` })
        else if (target !== `${to}/index.ts` && rules.pastIndex.find(p => p.file === target && p.from.includes(f.module)) === undefined) {
          out.push({ ...at, why: `${f.module} reaches past ${to}/index.ts into ${target}: import what ${to} offers from its index` })
        }
      } else if (pkg !== undefined) {
        const owner = rules.packageOwners.find(o => o.prefix.endsWith('/') ? pkg.startsWith(o.prefix) : pkg === o.prefix)
        if (owner !== undefined && !owner.modules.includes(f.module)) out.push({ ...at, why: `only ${owner.modules.join(', ')} may import ${pkg}` })
      }
    }
  }
  return out
}

/** Every `export * from` in `files` (text by path): a module's interface is an explicit list. */
export function exportStars (texts: ReadonlyMap<string, string>): string[] {
  const found: string[] = []
  for (const [path, text] of texts) {
    const { code } = codeOnly(text)
    for (const m of code.matchAll(/(?:^|[;\n}])\s*export\s+(?:type\s+)?\*\s*(?:as\s+[\w$]+\s*)?from\b/g)) {
      found.push(`src/${path}:${code.slice(0, (m.index ?? 0) + m[0].indexOf('export')).split('\n').length}`)
    }
  }
  return found
}

/** The packages `start` (a path under src/) loads at run time, through non-type imports. */
export function runtimePackages (files: readonly SourceFile[], start: string): Set<string> {
  const byPath = new Map(files.map(f => [f.path, f]))
  const seen = new Set<string>()
  const packages = new Set<string>()
  const visit = (path: string): void => {
    const f = byPath.get(path)
    if (f === undefined || seen.has(path)) return
    seen.add(path)
    for (const r of f.imports) {
      if (r.typeOnly) continue
      const target = targetOf(f, r.spec)
      if (target !== undefined) visit(target)
      else {
        const pkg = packageOf(r.spec)
        if (pkg !== undefined) packages.add(pkg)
      }
    }
  }
  visit(start)
  return packages
}
