import { describe, expect, it } from 'vitest'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'

// Comments (and error texts) in src/, bench/, scripts/ and test/ name the docs section that says
// why as `docs/<path>.md, "<section>"` (the comma is optional, and a comment may break the
// reference across lines). Each must name a section that exists in that file, so that a reader can
// find it after the docs are reorganised (session 45 moved docs/performance.md's history into
// docs/performance/*.md: a comment naming "Session 25: catch-up" now says docs/performance/catchup.md).
//
// A section is a heading or a bold label opening a paragraph or a list item (`**Group commit.**`),
// outside fenced code. The quoted text matches when the section's text, with backticks dropped and
// runs of spaces made one, starts with it: "Session 14: plain verify" names
// "### Session 14: plain verify", and "petal export" names "### `petal export TABLE [--format …]`".
// A quoted text that begins several sections must equal one of them, so that it names one.
const root = resolve(import.meta.dirname, '../..')

function files (dir: string): string[] {
  return readdirSync(dir).flatMap(n => {
    const p = join(dir, n)
    if (n === 'node_modules') return []
    return statSync(p).isDirectory() ? files(p) : [p]
  })
}

const norm = (s: string): string => s.replace(/`/g, '').replace(/\s+/g, ' ').trim()

/** The sections of a markdown text: its headings and the bold labels that open a paragraph or an item. */
export function sectionNames (text: string): string[] {
  const out: string[] = []
  let fenced = false
  for (const line of text.split('\n')) {
    if (line.startsWith('```')) { fenced = !fenced; continue }
    if (fenced) continue
    const h = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line) ?? /^(?:[-*]\s+)?\*\*(.+?)\*\*/.exec(line)
    if (h !== null) out.push(norm(h[1] ?? ''))
  }
  return out
}

/** Whether `quoted` names exactly one of `sections`. */
export function names (sections: string[], quoted: string): boolean {
  const q = norm(quoted)
  const starting = sections.filter(s => s.startsWith(q))
  return starting.length === 1 || (starting.length > 1 && starting.includes(q))
}

/** Every `docs/<path>.md, "<text>"` reference of a source text, comment line breaks joined. */
export function references (source: string): Array<{ doc: string, quoted: string }> {
  const joined = source.replace(/\n[ \t]*(?:\/\/+|\*+(?!\/)|#+)?[ \t]*/g, ' ')
  return [...joined.matchAll(/docs\/([\w/.-]+\.md),?\s+"([^"]+)"/g)].map(m => ({ doc: m[1] ?? '', quoted: m[2] ?? '' }))
}

function stale (): string[] {
  const sections = new Map<string, string[] | null>()
  const sectionsOf = (doc: string): string[] | null => {
    if (!sections.has(doc)) {
      const p = join(root, 'docs', doc)
      sections.set(doc, existsSync(p) ? sectionNames(readFileSync(p, 'utf8')) : null)
    }
    return sections.get(doc) ?? null
  }
  const out: string[] = []
  for (const dir of ['src', 'bench', 'scripts', 'test']) {
    for (const f of files(join(root, dir))) {
      if (!/\.(ts|js|mjs|cjs|c|h|sh|json)$/.test(f)) continue
      for (const { doc, quoted } of references(readFileSync(f, 'utf8'))) {
        const s = sectionsOf(doc)
        if (s === null) out.push(`${relative(root, f)}: docs/${doc} (no such file)`)
        else if (!names(s, quoted)) out.push(`${relative(root, f)}: docs/${doc}, "${quoted}"`)
      }
    }
  }
  return out
}

describe('references to docs sections from the code', () => {
  it('reads sections and references as the comments write them', () => {
    const md = '# T\n## Session 25: catch-up\n### Session 25: catch-up, second round\n- **Seeds** (since)\n**Group commit.** Every\n```\n## not one\n```\n### `petal export TABLE [-o FILE]`\n'
    expect(sectionNames(md)).toEqual(['T', 'Session 25: catch-up', 'Session 25: catch-up, second round', 'Seeds', 'Group commit.', 'petal export TABLE [-o FILE]'])
    const s = sectionNames(md)
    expect(['Session 25: catch-up', 'Session 25', 'Seeds', 'Group commit', 'petal export', 'not one', 'Session 2'].map(q => names(s, q)))
      .toEqual([true, false, true, true, true, false, false])
    const d = 'docs' // not written out, so that this file's own examples are not references
    const src = `// why (${d}/a/b.md,\n// "Session 25: catch-up") and\n * ${d}/c.md "Group\n * commit".\n`
    expect(references(src)).toEqual([{ doc: 'a/b.md', quoted: 'Session 25: catch-up' }, { doc: 'c.md', quoted: 'Group commit' }])
  })

  it('each names a section of its file', () => {
    expect(stale()).toEqual([])
  })
})
