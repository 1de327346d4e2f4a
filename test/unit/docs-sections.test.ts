import { describe, expect, it } from 'vitest'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'

// Comments (and error texts) in src/, bench/, scripts/ and test/ name the docs section that says
// why as `docs/<path>.md, "<section>"` (the comma is optional, and a comment may break the
// reference across lines). Each must name a section that exists in that file, so that a reader can
// find it after the docs are reorganised (session 45 moved docs/performance.md's history into
// docs/performance/*.md: a comment naming "Session 25: catch-up" now says docs/performance/catchup.md).
//
// A section is a heading or a bold or italic label opening a paragraph or a list item
// (`**Group commit.**`, `- *Left, not fixed — …*`), outside fenced code. The quoted text matches when the section's text, with backticks dropped and
// runs of spaces made one, starts with it: "Session 14: plain verify" names
// "### Session 14: plain verify", and "petal export" names "### `petal export TABLE [--format …]`".
// A quoted text that begins several sections must equal one of them, so that it names one.
//
// The docs (README.md, docs/**/*.md) name each other's sections in prose the same way, and in a few
// more forms (proseReferences says which): those are checked too, so that a reorganised doc does
// not leave another pointing at a section that moved (session 45's move left design-deviations.md
// naming "performance.md, session 13" for sections now in docs/performance/*.md).
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
    const h = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line) ?? /^(?:[-*]\s+)?\*\*(.+?)\*\*/.exec(line) ?? /^(?:[-*]\s+)?\*([^*\s][^*]*?)\*/.exec(line)
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

/** A reference from the docs: a section's text, or the sessions whose sections the file holds. */
export interface ProseReference { doc: string, quoted?: string, sessions?: number[] }

/**
 * Every section reference in the prose of a markdown text (fenced code dropped, lines joined), in
 * the forms the docs write: `[docs/]<path>.md, "<section>"` as the code writes it (the comma
 * optional), `<path>.md ("<section>"…`, `"<section>" in <path>.md`, `<path>.md, \`<heading>\`` for a
 * heading that is code (`docs/protocol.md, \`blocks\``), and a history file's
 * `<path>.md, session 13` or `sessions 27–28 and 30`, each of which must open a `Session N:`
 * section there, and `"<section>" below` (or `above`) in the text's own file, `self`. A path
 * without `docs/` is one under docs/. Not read: `<path>.md's "…"`, which
 * quotes a doc's words (api.md's "the tip /status gave or a later one") rather than naming a
 * section, `<path>.md's \`…\`` (as often a table's row or an option as a heading: "cli.md's
 * `--json`"), and a reference inside a code span, which is an example (code-health.md quotes stale
 * references that way): code spans are dropped but a heading's right after `<path>.md, `.
 */
export function proseReferences (text: string, self = ''): ProseReference[] {
  let fenced = false
  const prose = text.split('\n').filter(line => {
    if (line.startsWith('```')) { fenced = !fenced; return false }
    return !fenced
  }).join('\n').split(/\n\s*\n/).map(p => p.replace(/\s+/g, ' ').replace(/`[^`]*`/g, (c, at: number, all: string) => /\.md,\s*$/.test(all.slice(Math.max(0, at - 8), at)) ? c : ' ')).join('\n')
  const path = String.raw`(?<![\w/.-])(?:docs/)?(?<doc>\w[\w/.-]*\.md)`
  const n = String.raw`\d+(?:\s*[–-]\s*\d+)?`
  const forms = [
    String.raw`${path},?\s+"(?<q>[^"]+)"`,
    String.raw`${path}\s+\("(?<q>[^"]+)"`,
    String.raw`"(?<q>[^"]+)"\s+in\s+${path}`,
    String.raw`${path},\s+` + '`(?<q>[^`]+)`',
    String.raw`${path},\s+sessions?\s+(?<s>${n}(?:\s*(?:,|and|, and)\s*${n})*)`,
    String.raw`"(?<q>[^"]+)"\s+(?:below|above)\b`
  ]
  const out: ProseReference[] = []
  for (const form of forms) {
    for (const m of prose.matchAll(new RegExp(form, 'g'))) {
      const { doc = self, q, s } = m.groups ?? {}
      if (doc === 'DESIGN.md') continue // /work/shared's contract, not a file of this repository
      if (q !== undefined) out.push({ doc, quoted: q })
      else out.push({ doc, sessions: [...(s ?? '').matchAll(/\d+/g)].map(d => Number(d[0])) })
    }
  }
  return out
}

function markdownFiles (dir: string): string[] {
  return files(dir).filter(f => f.endsWith('.md'))
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
  const check = (f: string, refs: ProseReference[]): void => {
    for (const { doc, quoted, sessions } of refs) {
      const s = sectionsOf(doc)
      const where = `${relative(root, f)}: docs/${doc}`
      if (s === null) out.push(`${where} (no such file)`)
      else if (quoted !== undefined && !names(s, quoted)) out.push(`${where}, "${quoted}"`)
      else for (const n of sessions ?? []) if (!s.some(h => h.startsWith(`Session ${n}:`))) out.push(`${where}, session ${n}`)
    }
  }
  for (const dir of ['src', 'bench', 'scripts', 'test']) {
    for (const f of files(join(root, dir))) {
      if (/\.(ts|js|mjs|cjs|c|h|sh|json)$/.test(f)) check(f, references(readFileSync(f, 'utf8')))
    }
  }
  for (const f of [join(root, 'README.md'), ...markdownFiles(join(root, 'docs'))]) check(f, proseReferences(readFileSync(f, 'utf8'), relative(join(root, 'docs'), f)))
  return out
}

describe('references to docs sections from the code and the docs', () => {
  it('reads sections and references as the comments write them', () => {
    const md = '# T\n## Session 25: catch-up\n### Session 25: catch-up, second round\n- **Seeds** (since)\n**Group commit.** Every\n```\n## not one\n```\n### `petal export TABLE [-o FILE]`\n- *Left, not fixed — a.* b\n* an item, *not* a label\n'
    expect(sectionNames(md)).toEqual(['T', 'Session 25: catch-up', 'Session 25: catch-up, second round', 'Seeds', 'Group commit.', 'petal export TABLE [-o FILE]', 'Left, not fixed — a.'])
    const s = sectionNames(md)
    expect(['Session 25: catch-up', 'Session 25', 'Seeds', 'Group commit', 'petal export', 'not one', 'Session 2'].map(q => names(s, q)))
      .toEqual([true, false, true, true, true, false, false])
    const d = 'docs' // not written out, so that this file's own examples are not references
    const src = `// why (${d}/a/b.md,\n// "Session 25: catch-up") and\n * ${d}/c.md "Group\n * commit".\n`
    expect(references(src)).toEqual([{ doc: 'a/b.md', quoted: 'Session 25: catch-up' }, { doc: 'c.md', quoted: 'Group commit' }])
  })

  it('reads the references of the docs in the forms they write', () => {
    const md = [
      'See consensus.md, "Fork',
      'choice" and protocol.md "Sync"; (ingest.md ("Group commit"), "Known violations" in architecture.md,',
      'protocol.md, `blocks`, performance/pull.md, sessions 13, 23–24 and 30; catchup.md, session 5.',
      '',
      'api.md\'s "the tip it gave" quotes words; `cli.md, "X"` is an example; DESIGN.md, "Modules" is elsewhere;',
      'as "Crash safety" below says.',
      '```', 'queries.md, "Export"', '```'
    ].join('\n')
    expect(proseReferences(md, 'data-directory.md')).toEqual([
      { doc: 'consensus.md', quoted: 'Fork choice' }, { doc: 'protocol.md', quoted: 'Sync' },
      { doc: 'ingest.md', quoted: 'Group commit' }, { doc: 'architecture.md', quoted: 'Known violations' },
      { doc: 'protocol.md', quoted: 'blocks' },
      { doc: 'performance/pull.md', sessions: [13, 23, 24, 30] }, { doc: 'catchup.md', sessions: [5] },
      { doc: 'data-directory.md', quoted: 'Crash safety' }
    ])
  })

  it('each names a section of its file', () => {
    expect(stale()).toEqual([])
  })
})
