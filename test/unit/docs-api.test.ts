import { maxHeaderSize } from 'node:http'
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { DEFAULT_API_LIMITS } from '../../src/api/options.js'
import { apiRoutes } from '../../src/api/server.js'
import { MAX_RECORD_FIELDS } from '../../src/ingest/values.js'

// docs/api.md's numbers against the server as built: the "Limits" table is DEFAULT_API_LIMITS,
// and each parameter's default, maximum and values are those of its route's schema (the schemas
// /api/v1/openapi.json is made from). test/unit/docs-reference.test.ts checks that every route,
// parameter and body field is named at all.
const root = resolve(import.meta.dirname, '../..')
const doc = readFileSync(resolve(root, 'docs/api.md'), 'utf8')
const routes = apiRoutes(DEFAULT_API_LIMITS)
const KiB = 1024
const MiB = 1024 * KiB

/** A cell's numbers in order: `2,048` as 2048, `16 MiB` and `16 KiB` in bytes, `10 s` in ms. */
function numbers (cell: string): number[] {
  return [...cell.replace(/\([^)]*\)/g, '').matchAll(/(\d+(?:,\d{3})*)(?:\s*(KiB|MiB|s)\b)?/g)]
    .map(m => Number((m[1] ?? '').replace(/,/g, '')) * (m[2] === 'KiB' ? KiB : m[2] === 'MiB' ? MiB : m[2] === 's' ? 1000 : 1))
}

/** The paragraphs and table rows of the document (fenced code left out), each on one line, digits without separators. */
const paragraphsOf = (text: string): string[] => text.replace(/```[\s\S]*?```/g, '\n\n').split(/\n\s*\n|\n(?=\|)/)
  .map(p => p.replace(/\s*\n\s*/g, ' ').replace(/(\d),(?=\d{3}\b)/g, '$1'))

/** A section's heading, then its paragraphs and table rows, up to the next heading. */
function sectionOf (heading: string): string[] {
  const at = doc.indexOf(heading)
  if (at < 0) return []
  const next = doc.slice(at + heading.length).search(/\n#{1,6} /)
  const text = next < 0 ? doc.slice(at) : doc.slice(at, at + heading.length + next)
  const [first = '', ...rest] = text.split('\n')
  return [first, ...paragraphsOf(rest.join('\n'))]
}

describe('docs/api.md against the routes and limits as built', () => {
  it('"Limits": each row is a field of DEFAULT_API_LIMITS (or the fixed limit it names)', () => {
    const lines = doc.slice(doc.indexOf('\n## Limits\n')).split('\n')
    const start = lines.indexOf('| limit | default | what happens beyond it |')
    expect(start).toBeGreaterThan(0)
    const rows = new Map<string, string>()
    for (const l of lines.slice(start + 2)) {
      if (!l.startsWith('|')) break
      const [what = '', value = ''] = l.split('|').slice(1, -1).map(c => c.trim())
      rows.set(what, value)
    }
    const L = DEFAULT_API_LIMITS
    const expected: Record<string, number[]> = {
      'request body': [L.bodyBytes],
      'rows in one `POST /records`': [L.rowsPerRequest],
      'fields in one record (columns of a table)': [MAX_RECORD_FIELDS],
      'statements running at once': [L.concurrentQueries],
      'statements waiting': [L.queuedQueries],
      'time of a statement': [L.queryTimeoutMs, L.maxQueryTimeoutMs],
      'request headers must arrive within': [L.headersTimeoutMs],
      'the whole request must arrive within': [L.requestTimeoutMs],
      'an idle connection': [L.idleTimeoutMs],
      'request headers': [maxHeaderSize],
      'open connections': [L.maxConnections],
      'open event streams': [L.eventClients],
      'page sizes': [L.pageMax, L.pageBytes],
      'one part of the path (a block reference, table name, receipt id)': [2000]
    }
    expect([...rows.keys()].sort()).toEqual(Object.keys(expected).sort())
    for (const [what, value] of rows) expect(numbers(value).slice(0, expected[what]?.length), `${what}: ${value}`).toEqual(expected[what])
    // The parenthesised parts: the idle connection's keep-alive, the path limit's source.
    expect(rows.get('an idle connection')).toContain(`keep-alive: ${L.keepAliveTimeoutMs / 1000} s`)
    const server = readFileSync(resolve(root, 'src/api/server.ts'), 'utf8')
    expect(server).toContain('const MAX_PARAM_LENGTH = 2000')
  })

  it('"Security": who may call which route is each route\'s access', () => {
    const flat = doc.replace(/\s+/g, ' ')
    // "… and `GET /api/v1/openapi.json` are always public"
    const publicSaid = /\(`\/`[^)]*\) and `(GET [^`]+)` are always public/.exec(flat)?.[1]
    expect(routes.filter(r => r.access === 'public').map(r => `${r.method} ${r.path}`)).toEqual([publicSaid])
    // cli.md: "`write` … may also post records and declare tables; `read` may use the GET endpoints and `POST /api/v1/query`"
    const cli = readFileSync(resolve(root, 'docs/cli.md'), 'utf8').replace(/\s+/g, ' ')
    expect(cli).toContain('`write` (the default) may also post records and declare tables; `read` may use the GET endpoints and `POST /api/v1/query`')
    expect(routes.filter(r => r.access === 'write').map(r => `${r.method} ${r.path}`).sort()).toEqual(['POST /api/v1/records/{table}', 'PUT /api/v1/tables/{table}'])
    expect(routes.filter(r => r.access === 'read').every(r => r.method === 'GET' || r.path === '/api/v1/query')).toBe(true)
  })

  it('each query parameter and body field: its default, its maximum and its values where the doc describes it', () => {
    const wrong: string[] = []
    let checked = 0
    for (const r of routes) {
      const params = [
        ...Object.entries((r.query?.properties ?? {}) as Record<string, Record<string, unknown>>),
        ...Object.values(r.body ?? {}).flatMap(b => Object.entries((b.properties ?? {}) as Record<string, Record<string, unknown>>))
      ]
      for (const [name, s] of params) {
        const claims: string[] = []
        if (typeof s.default === 'number') claims.push(`default ${s.default}`)
        if (typeof s.default === 'string') claims.push(`\`${s.default}\` (default)|${s.default}\` (default)|(default)`)
        // A maximum that is a limit to tell, not a bound against overflow.
        if (typeof s.maximum === 'number' && s.maximum < 1e6) claims.push(`at most ${s.maximum}`)
        if (Array.isArray(s.enum)) for (const v of s.enum) claims.push(`${String(v)}`)
        if (claims.length === 0) continue
        checked++
        // Where the doc describes the parameter: a paragraph or row of this route's section that
        // names it, or any of the section when its heading does (`?format=csv|ndjson|sqlite`).
        const [heading = '', ...body] = sectionOf(`### \`${r.method} ${r.path}`)
        const names = new RegExp(`\`${name}\`|[?&]${name}=|\`${name}=`)
        const near = names.test(heading) ? body : body.filter(p => names.test(p))
        for (const c of claims) {
          const ok = c.split('|').some(alt => near.some(p => p.includes(alt)))
          if (!ok) wrong.push(`${r.method} ${r.path} ${name}: ${c.split('|')[0] ?? ''}`)
        }
      }
    }
    expect(checked).toBeGreaterThanOrEqual(6)
    expect(wrong).toEqual([])
  })
})
