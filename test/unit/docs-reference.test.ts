import { Command } from 'commander'
import { readdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { DEFAULT_API_LIMITS } from '../../src/api/options.js'
import { apiRoutes } from '../../src/api/server.js'
import { COMMAND_MODULES } from '../../src/cli/commands/index.js'
import { DAISY_COMMANDS } from '../../src/cli/context.js'
import { newProgram, type Action } from '../../src/cli/program.js'

// The reference docs describe the product as built: every command and every option of the
// commander program is in docs/cli.md, every route of the HTTP API in docs/api.md, and nothing
// they (or the other docs) name as a `petal …` command line or an endpoint is missing from it.
//
// How the docs are written, and so how they are read here:
// - cli.md gives each command a `### \`petal CMD …\`` heading (a command's synopsis; several
//   headings for one command are fine) whose section, up to the next heading, names every option
//   of the command by its long form (`--out`, in prose, a table or a code block);
// - a command line is a code span or a code-block line that starts with `petal ` (also after `$ `
//   or `npx `): its command must exist and each of its flags must be the command's or a global one;
// - the first cell of a table in a command's section lists options of that command;
// - an endpoint is a code span `METHOD /path` in api.md; elsewhere a short form (`POST /records`)
//   names a route whose path it begins;
// - a code's exit status (`CODE` (exit N), the exit-status table) and HTTP status (`STATUS CODE`,
//   api.md's status table) are those of docs/errors.md, which is generated from the code.
const root = resolve(import.meta.dirname, '../..')
const read = (f: string): string => readFileSync(join(root, f), 'utf8')
const noAction: Action = () => async () => {}

/** Command lines the docs print on purpose as wrong: the examples of usage errors in cli.md. */
const WRONG_ON_PURPOSE = new Set(['petal qurey', 'petal verify --deeep'])
/** Flags commander gives every command. */
const BUILT_IN = new Set(['--help', '-h', '--version', '-V'])

let program: Command
const all: Command[] = []
beforeAll(async () => {
  program = newProgram({ stdout: () => {}, stderr: () => {} })
  for (const m of COMMAND_MODULES) (await m.load()).register(program, noAction)
  const walk = (c: Command): void => { for (const s of c.commands) { all.push(s); walk(s) } }
  walk(program)
})

const pathOf = (c: Command): string => c.parent === null || c.parent === program ? c.name() : `${pathOf(c.parent)} ${c.name()}`
const flagsOf = (c: Command): Set<string> => new Set(c.options.flatMap(o => [o.short, o.long]).filter(f => f !== undefined))
const child = (c: Command, word: string): Command | undefined => c.commands.find(s => s.name() === word || s.aliases().includes(word))

interface Section { heading: string, commands: Command[], text: string }

/** Lines split into sections at each heading; fenced code stays in its section. */
function sections (text: string): Array<{ heading: string, level: number, body: string[] }> {
  const out: Array<{ heading: string, level: number, body: string[] }> = [{ heading: '', level: 0, body: [] }]
  let fenced = false
  for (const line of text.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced
    const m = fenced ? null : /^(#{1,6})\s+(.*)$/.exec(line)
    if (m !== null) out.push({ heading: m[2] ?? '', level: (m[1] ?? '').length, body: [] })
    else out.at(-1)?.body.push(line)
  }
  return out
}

/** Every command line in a markdown text: code spans and code-block lines that start with `petal `. */
function commandLines (text: string): string[] {
  const lines: string[] = []
  let fenced = false
  for (const line of text.split('\n')) {
    if (line.startsWith('```')) { fenced = !fenced; continue }
    if (fenced) {
      const m = /^\s*(?:\$\s+)?(?:npx\s+)?(petal\s.*)$/.exec(line)
      if (m !== null) lines.push(m[1] ?? '')
    } else {
      for (const s of line.matchAll(/(`+)(.+?)\1/g)) {
        const m = /^(?:\$\s+)?(?:npx\s+)?(petal\s.*)$/.exec((s[2] ?? '').trim().replace(/\\\|/g, '|'))
        if (m !== null) lines.push(m[1] ?? '')
      }
    }
  }
  return lines
}

interface Parsed { command?: Command, flags: string[], word?: string }

/**
 * A command line as the program reads it: global options (with their values) skipped, then the
 * command and subcommand words, then the flags anywhere after them (quoted text, comments,
 * redirections and pipes dropped). `word` is set when the first word is no command.
 */
function parse (line: string): Parsed {
  const text = line
    .replace(/\[global options\]/g, '')
    .replace(/"(?:[^"\\]|\\.)*"|'[^']*'/g, ' Q ')
    .replace(/\s#\s.*$/, '')
    .replace(/\s(?:\||;|&&|[0-9]?>|<(?!\w)).*$/, '')
  const words = text.replace(/^petal\s+/, '').split(/\s+/).map(w => w.replace(/[[\]…]/g, '')).filter(w => w !== '')
  const takesValue = new Set(program.options.filter(o => o.required || o.optional).flatMap(o => [o.short, o.long]))
  let i = 0
  let cmd: Command = program
  const flags: string[] = []
  while (i < words.length && words[i]?.startsWith('-') === true) {
    const w = words[i] ?? ''
    flags.push(w.replace(/=.*$/, ''))
    i += takesValue.has(w) ? 2 : 1
  }
  const first = words[i]
  if (first === undefined || /^[<A-Z.…]|^$/.test(first) || first === 'options') return { flags }
  const top = child(program, first)
  if (top === undefined) return { flags, word: first }
  cmd = top
  for (i++; i < words.length; i++) {
    const sub = child(cmd, words[i] ?? '')
    if (sub === undefined) break
    cmd = sub
  }
  for (const w of words.slice(i)) {
    if (w === '--') break
    const f = /^(--?[a-zA-Z][\w-]*)/.exec(w)?.[1]
    if (f !== undefined) flags.push(f)
  }
  return { command: cmd, flags }
}

/** The flags of `line` that neither its command nor the program takes. */
function unknownFlags (p: Parsed): string[] {
  const own = p.command === undefined ? new Set<string>() : flagsOf(p.command)
  const globals = flagsOf(program)
  return p.flags.filter(f => !own.has(f) && !globals.has(f) && !BUILT_IN.has(f))
}

/** cli.md's command sections: each `###` heading naming `petal CMD`, with its text. */
function commandSections (): Section[] {
  const out: Section[] = []
  for (const s of sections(read('docs/cli.md'))) {
    if (s.level !== 3) continue
    const commands = commandLines(s.heading).map(l => parse(l).command).filter(c => c !== undefined)
    if (commands.length > 0) out.push({ heading: s.heading, commands, text: [s.heading, ...s.body].join('\n') })
  }
  return out
}

const mentions = (text: string, flag: string): boolean => new RegExp(`(?<![\\w-])${flag}(?![\\w-])`).test(text)

/**
 * The default an option has in the program: commander's own (`default 20`), or one its --help
 * text gives as a single token, "(default 5; …" / "; default /ip4/…" / "default: stdout".
 * Defaults told in words ("one per core", "from the extension") are left to the reader.
 */
function defaultOf (o: Command['options'][number]): string | undefined {
  const v: unknown = o.defaultValue
  if (v !== undefined && !Array.isArray(v) && typeof v !== 'boolean') return o.defaultValueDescription ?? String(v)
  const m = /(?:\(|; )default:? ([^\s;),]+(?:,\d{3})*)(?=[;)]|$)/.exec(o.description)
  return m?.[1]
}

/** The paragraphs and table rows of a text (fenced code left out), each on one line. */
const paragraphs = (text: string): string[] => text.replace(/```[\s\S]*?```/g, '\n\n').split(/\n\s*\n|\n(?=\|)/).map(p => p.replace(/\s*\n\s*/g, ' '))

describe('docs/cli.md describes the program as built', () => {
  it('documents every command in a heading of its own', () => {
    const documented = new Set(commandSections().flatMap(s => s.commands))
    const missing = all.filter(c => c.commands.length === 0 && !documented.has(c)).map(pathOf)
    expect(missing, 'commands without a `### `petal CMD`` heading in docs/cli.md').toEqual([])
  })

  it('names every option of a command (long form) in that command\'s sections', () => {
    const texts = new Map<Command, string>()
    for (const s of commandSections()) for (const c of s.commands) texts.set(c, `${texts.get(c) ?? ''}\n${s.text}`)
    const missing = all.flatMap(c => c.options.flatMap(o => {
      const flag = o.long ?? o.short ?? ''
      return mentions(texts.get(c) ?? '', flag) ? [] : [`petal ${pathOf(c)} ${flag}`]
    }))
    expect(missing).toEqual([])
  })

  it('gives each option\'s default as the program has it, where the option is described', () => {
    const texts = new Map<Command, string>()
    for (const s of commandSections()) for (const c of s.commands) texts.set(c, `${texts.get(c) ?? ''}\n\n${s.text}`)
    const checked: string[] = []
    const wrong = all.flatMap(c => c.options.flatMap(o => {
      const d = defaultOf(o)
      const flag = o.long ?? o.short ?? ''
      if (d === undefined) return []
      checked.push(`${pathOf(c)} ${flag}`)
      const said = paragraphs(texts.get(c) ?? '').some(p => mentions(p, flag) && /default/i.test(p) && p.includes(d))
      return said ? [] : [`petal ${pathOf(c)} ${flag}: default ${d}`]
    }))
    expect(checked.length, 'options with a default').toBeGreaterThanOrEqual(10)
    expect(wrong).toEqual([])
  })

  it('pairs a short flag with its long form as the program does (`-o, --out`)', () => {
    const wrong: string[] = []
    const pairs = (c: Command): Set<string> => new Set(c.options.filter(o => o.short !== undefined).map(o => `${o.short ?? ''}, ${o.long ?? ''}`))
    const globals = new Set([...pairs(program), '-V, --version', '-h, --help'])
    for (const s of [{ heading: 'Global options', commands: [] as Command[], text: sections(read('docs/cli.md')).find(x => x.heading === 'Global options')?.body.join('\n') ?? '' }, ...commandSections()]) {
      for (const m of s.text.matchAll(/(?<![\w-])(-[a-zA-Z]), (--[a-z][\w-]*)/g)) {
        const pair = `${m[1] ?? ''}, ${m[2] ?? ''}`
        if (!globals.has(pair) && !s.commands.some(c => pairs(c).has(pair))) wrong.push(`${s.heading}: ${pair}`)
      }
    }
    expect(wrong).toEqual([])
  })

  it('lists every global option in its Global options table', () => {
    const table = sections(read('docs/cli.md')).find(s => s.heading === 'Global options')?.body.join('\n') ?? ''
    expect(program.options.map(o => o.long ?? '').filter(f => !mentions(table, f))).toEqual([])
  })

  it('gives in its option tables only options of the section\'s command', () => {
    const wrong: string[] = []
    for (const s of commandSections()) {
      const cmd = s.commands[0]
      if (cmd === undefined) continue
      for (const row of s.text.split('\n').filter(l => l.startsWith('| `-'))) {
        const first = row.split('|')[1] ?? ''
        for (const f of first.matchAll(/(?<![\w-])(--?[a-zA-Z][\w-]*)/g)) {
          if (unknownFlags({ command: cmd, flags: [f[1] ?? ''] }).length > 0) wrong.push(`${s.heading}: ${f[1] ?? ''}`)
        }
      }
    }
    expect(wrong).toEqual([])
  })
})

// performance.md and code-health.md are the sessions' record: they quote commands as they were.
const history = new Set(['performance.md', 'code-health.md'])
const referenceDocs = ['README.md', ...readdirSync(join(root, 'docs')).filter(f => f.endsWith('.md') && !history.has(f)).map(f => `docs/${f}`)]

describe('the commands that run on a Daisy directory', () => {
  // README's "(and `verify`, `blocks`, …) works on a Daisy directory" and cli.md's "only `status`, … run on it".
  it.each([['README.md', /~\/\.daisy status` \(and ([^)]*)\) works on a Daisy directory/], ['docs/cli.md', /is read, never written: only ([^.]*?) run on it/]])('%s names DAISY_COMMANDS', (f, re) => {
    const list = re.exec(read(f).replace(/\s+/g, ' '))?.[1] ?? ''
    const named = [...list.matchAll(/`([a-z-]+)`/g)].map(m => m[1] ?? '')
    expect(f === 'README.md' ? ['status', ...named].sort() : named.sort()).toEqual([...DAISY_COMMANDS].sort())
  })
})

describe('every `petal …` command line in the docs runs', () => {
  it.each(referenceDocs)('%s names only commands and options that exist', f => {
    const wrong: string[] = []
    for (const line of commandLines(read(f))) {
      if ([...WRONG_ON_PURPOSE].some(w => line.startsWith(w))) continue
      const p = parse(line)
      if (p.word !== undefined) wrong.push(`${line}  (no command ${p.word})`)
      else if (unknownFlags(p).length > 0) wrong.push(`${line}  (${unknownFlags(p).join(', ')})`)
    }
    expect(wrong).toEqual([])
  })
})

describe('docs/api.md describes the HTTP API as built', () => {
  const routes = apiRoutes(DEFAULT_API_LIMITS)
  /** `METHOD /path` code spans, with the query string and optional parts dropped. */
  const endpoints = (text: string): Array<{ method: string, path: string }> =>
    [...text.matchAll(/`(GET|POST|PUT|DELETE|PATCH|HEAD) (\/[^`\s?[]*)/g)].map(m => ({ method: m[1] ?? '', path: m[2] ?? '' }))
  /** A path with its parameters unnamed: `{ref}`, `{hash}` and `NAME` all stand for one segment. */
  const shape = (path: string): string => path.replace(/\{\w+\}|(?<=\/)[A-Z][A-Z_]*(?=\/|$)/g, '{}')

  it('documents every route (method and path)', () => {
    const doc = endpoints(read('docs/api.md'))
    const missing = routes.filter(r => !doc.some(e => e.method === r.method && e.path === r.path)).map(r => `${r.method} ${r.path}`)
    expect(missing).toEqual([])
  })

  it('documents every query parameter of a route', () => {
    const text = read('docs/api.md')
    const missing = routes.flatMap(r => Object.keys((r.query?.properties ?? {}) as object)
      .filter(q => !new RegExp(`[?&\`]${q}[=\`]`).test(text)).map(q => `${r.method} ${r.path} ?${q}`))
    expect(missing).toEqual([])
  })

  it('documents every field of a JSON request body', () => {
    const text = read('docs/api.md')
    const missing = routes.flatMap(r => Object.values(r.body ?? {}).flatMap(b => Object.keys((b.properties ?? {}) as object))
      .filter(f => !text.includes(`\`${f}\``)).map(f => `${r.method} ${r.path} ${f}`))
    expect(missing).toEqual([])
  })

  it('names in an endpoint\'s query string only parameters the route takes', () => {
    const wrong: string[] = []
    for (const m of read('docs/api.md').matchAll(/`(GET|POST|PUT) (\/[^`\s?[]*)(?:\[?\?)([^`\s]*)`/g)) {
      const route = routes.find(r => r.method === m[1] && r.path === m[2])
      const known = Object.keys((route?.query?.properties ?? {}) as object)
      for (const q of (m[3] ?? '').matchAll(/(?:^|[&[])([a-z_]+)=/g)) if (!known.includes(q[1] ?? '')) wrong.push(`${m[1] ?? ''} ${m[2] ?? ''} ?${q[1] ?? ''}`)
    }
    expect(wrong).toEqual([])
  })

  it.each(['docs/api.md', 'README.md', 'docs/explorer.md', 'docs/ingest.md', 'docs/proofs.md', 'docs/queries.md'])('%s names only routes that exist', f => {
    const wrong = endpoints(read(f)).filter(e => {
      const full = e.path.startsWith('/api/') || e.path === '/metrics' ? e.path : `/api/v1${e.path}`
      return !routes.some(r => r.method === e.method && (shape(r.path) === shape(full) || shape(r.path).startsWith(`${shape(full)}/`)))
    }).map(e => `${e.method} ${e.path}`)
    expect(wrong).toEqual([])
  })
})

describe('the exit and HTTP statuses the docs give a code are its own', () => {
  // docs/errors.md is generated from the code (test/unit/util/errors.test.ts keeps it current).
  const codes = new Map<string, { exit: string, http: string }>()
  for (const m of read('docs/errors.md').matchAll(/^\| `([A-Z][A-Z0-9_]+)` \| (\d+) \| (\d+) \|/gm)) codes.set(m[1] ?? '', { exit: m[2] ?? '', http: m[3] ?? '' })
  /** Codes in a status table's rows: `| STATUS | … | codes … |`, the codes in column `col`. */
  const tableClaims = (text: string, header: string, col: number): Array<[string, string]> => {
    // A table whose header was reworded would be checked as empty, whatever its rows say (review35).
    expect(text.includes(header), `a table headed ${header}`).toBe(true)
    const rows = text.slice(text.indexOf(header)).split('\n').slice(2)
    const end = rows.findIndex(r => !r.startsWith('|'))
    return rows.slice(0, end < 0 ? rows.length : end).flatMap(r => {
      const cells = r.split('|')
      return [...(cells[col] ?? '').matchAll(/`([A-Z][A-Z0-9]*_[A-Z0-9_]+)`/g)].map(m => [m[1] ?? '', (cells[1] ?? '').trim()] as [string, string])
    })
  }
  const wrong = (claims: Array<[string, string]>, of: 'exit' | 'http'): string[] =>
    claims.filter(([c, s]) => codes.get(c)?.[of] !== s).map(([c, s]) => `${c}: ${s}, code says ${codes.get(c)?.[of] ?? 'no such code'}`)

  it('reads the generated table', () => { expect(codes.size).toBeGreaterThan(100) })

  it('docs/cli.md\'s exit-status table and docs/api.md\'s status table', () => {
    expect(wrong(tableClaims(read('docs/cli.md'), '| status | meaning | typical codes |', 3), 'exit')).toEqual([])
    expect(wrong(tableClaims(read('docs/api.md'), '| status | codes |', 2), 'http')).toEqual([])
  })

  it.each(referenceDocs.filter(f => f !== 'docs/errors.md'))('%s: every "`CODE` (exit N)" and "`STATUS CODE`"', f => {
    const text = read(f)
    // "`CODE` (exit N)", "`CODE`, exit N", and a code then words of its own before the status:
    // "`LISTEN_FAILED` (address in use or not available, exit 7)", "`NOT_INITIALISED` without a
    // chain (exit 4", "`TOO_MANY_OPEN_FILES`…, exit 4" (no other code span between, one sentence).
    const exits = [...text.replace(/\s+/g, ' ').matchAll(/`([A-Z][A-Z0-9]*_[A-Z0-9_]+)`[^`.]{0,60}?(?:\(|[;,] )exit (\d+)/g)].map(m => [m[1] ?? '', m[2] ?? ''] as [string, string])
    const https = [...text.matchAll(/`(\d{3}) ([A-Z][A-Z0-9]*_[A-Z0-9_]+)`/g)].map(m => [m[2] ?? '', m[1] ?? ''] as [string, string])
    expect([...wrong(exits, 'exit'), ...wrong(https, 'http')]).toEqual([])
  })
})
