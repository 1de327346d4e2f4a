import { describe, expect, it } from 'vitest'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'

// Every relative link in README.md and docs/ names a file that exists (and so does every path
// into the code that README.md and the reference docs name, as `src/block/read.ts`), and every
// `#anchor` one of that document's headings, as GitHub renders them: docs/performance.md's overview ("Where things
// stand") links into the session sections of the history files under docs/performance/, which are
// long and renamed now and then.
const root = resolve(import.meta.dirname, '../..')

function markdownFiles (dir: string): string[] {
  return readdirSync(dir).flatMap(n => {
    const p = join(dir, n)
    if (statSync(p).isDirectory()) return markdownFiles(p)
    return n.endsWith('.md') ? [p] : []
  })
}

/** Lines outside fenced code blocks, with their 1-based numbers. */
function proseLines (text: string): Array<[number, string]> {
  let fenced = false
  const out: Array<[number, string]> = []
  text.split('\n').forEach((line, i) => {
    if (line.startsWith('```')) fenced = !fenced
    else if (!fenced) out.push([i + 1, line])
  })
  return out
}

/** GitHub's heading ids: lower case, everything but letters, digits, `_`, `-` and spaces dropped, spaces to hyphens, repeats numbered. */
function headingIds (text: string): Set<string> {
  const ids = new Set<string>()
  const seen = new Map<string, number>()
  for (const [, line] of proseLines(text)) {
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)
    if (m === null) continue
    const id = (m[1] ?? '').toLowerCase().replace(/\[([^\]]*)\]\([^)]*\)/g, '$1').replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '').replace(/ /g, '-')
    const n = seen.get(id)
    seen.set(id, (n ?? -1) + 1)
    ids.add(n === undefined ? id : `${id}-${n + 1}`)
  }
  return ids
}

function brokenLinks (): string[] {
  const files = [join(root, 'README.md'), ...markdownFiles(join(root, 'docs'))]
  const ids = new Map<string, Set<string>>()
  const idsOf = (f: string): Set<string> => {
    let s = ids.get(f)
    if (s === undefined) ids.set(f, s = headingIds(readFileSync(f, 'utf8')))
    return s
  }
  const broken: string[] = []
  for (const f of files) {
    for (const [n, line] of proseLines(readFileSync(f, 'utf8'))) {
      for (const m of line.matchAll(/\]\(([^)\s]+)\)/g)) {
        const url = m[1] ?? ''
        if (/^[a-z][a-z0-9+.-]*:/i.test(url)) continue
        const hash = url.indexOf('#')
        const path = hash < 0 ? url : url.slice(0, hash)
        const target = path === '' ? f : resolve(dirname(f), decodeURIComponent(path))
        const where = `${relative(root, f)}:${n}: ${url}`
        if (!existsSync(target)) broken.push(`${where} (no such file)`)
        else if (hash >= 0 && target.endsWith('.md') && !idsOf(target).has(url.slice(hash + 1))) broken.push(`${where} (no such heading)`)
      }
    }
  }
  return broken
}

/** Whether a repository path exists; `*` in a segment matches any name there. */
function pathExists (path: string): boolean {
  const walk = (dir: string, rest: string[]): boolean => {
    const [seg, ...more] = rest
    if (seg === undefined) return true
    if (!seg.includes('*')) return existsSync(join(dir, seg)) && walk(join(dir, seg), more)
    const re = new RegExp(`^${seg.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`)
    return existsSync(dir) && statSync(dir).isDirectory() && readdirSync(dir).some(n => re.test(n) && walk(join(dir, n), more))
  }
  return walk(root, path.split('/'))
}

// performance.md's history files and code-health.md are the sessions' record: they name files as they were.
const REFERENCE = [join(root, 'README.md'), ...readdirSync(join(root, 'docs')).filter(n => n.endsWith('.md') && n !== 'performance.md' && n !== 'code-health.md').map(n => join(root, 'docs', n))]

/** Paths into the repository's code that README.md and the reference docs name (`src/…`, `test/…`, …), which do not exist. */
function missingPaths (): string[] {
  const out: string[] = []
  for (const f of REFERENCE) {
    for (const [n, line] of proseLines(readFileSync(f, 'utf8'))) {
      for (const m of line.matchAll(/(?<![\w/.-])((?:src|test|scripts|bench|web|genesis|\.ci)\/[\w./*-]*\w)/g)) {
        if (!pathExists(m[1] ?? '')) out.push(`${relative(root, f)}:${n}: ${m[1] ?? ''}`)
      }
    }
  }
  return out
}

describe('links in README.md and docs/', () => {
  it('computes heading ids as GitHub does', () => {
    const ids = headingIds('# Plain `verify` (and `reindex`)\n## Session 12: verify --deep\n### Figures\n### Figures\n```\n# not a heading\n```\n## `petal query` over 1,000 blocks ÷ ≥ 2×\n')
    expect([...ids]).toEqual(['plain-verify-and-reindex', 'session-12-verify---deep', 'figures', 'figures-1', 'petal-query-over-1000-blocks---2'])
  })

  it('all resolve: files exist and anchors name a heading', () => {
    expect(brokenLinks()).toEqual([])
  })

  it('the reference docs name only files of the repository that exist', () => {
    expect(['src/*/errors.ts', 'src/crypto/sha256-wasm*.ts', 'src/block/read.ts'].map(pathExists)).toEqual([true, true, true])
    expect(['src/*/no-such.ts', 'src/block/red.ts'].map(pathExists)).toEqual([false, false])
    expect(missingPaths()).toEqual([])
  })
})
