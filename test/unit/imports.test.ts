import { dirname, relative, resolve } from 'node:path'
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { checkImports, codeOnly, exportStars, importsOf, packageOf, readSources, runtimePackages, targetOf, type ImportRules, type SourceFile } from '../helpers/imports.js'

// The dependency direction of DESIGN.md, as docs/architecture.md's "may import" column spells it:
// cli → node → api → {ingest, sync, network, query, proof} → chain → storage → block → crypto → util.
// Siblings of the middle tier do not import each other, except sync, the network's client.
const BELOW_CHAIN = ['chain', 'storage', 'block', 'crypto', 'util']
const RULES: ImportRules = {
  mayImport: {
    util: [],
    crypto: ['util'],
    block: ['crypto', 'util'],
    storage: ['block', 'crypto', 'util'],
    chain: ['storage', 'block', 'crypto', 'util'],
    query: BELOW_CHAIN,
    proof: BELOW_CHAIN,
    network: BELOW_CHAIN,
    ingest: BELOW_CHAIN,
    sync: ['network', ...BELOW_CHAIN],
    api: ['query', 'ingest', 'proof', ...BELOW_CHAIN],
    node: ['api', 'ingest', 'sync', 'network', 'query', 'proof', ...BELOW_CHAIN],
    cli: ['node', 'api', 'ingest', 'sync', 'network', 'query', 'proof', ...BELOW_CHAIN],
    // src/polyfills.ts
    '': []
  },
  packageOwners: [
    { prefix: 'libp2p', modules: ['network'] },
    { prefix: '@libp2p/', modules: ['network'] },
    { prefix: '@chainsafe/', modules: ['network'] },
    { prefix: '@multiformats/', modules: ['network'] },
    { prefix: 'multiformats', modules: ['network'] },
    { prefix: '@noble/', modules: ['crypto'] },
    { prefix: 'better-sqlite3', modules: ['block', 'storage'] },
    { prefix: 'fastify', modules: ['api'] },
    { prefix: '@fastify/', modules: ['api'] },
    { prefix: 'ajv', modules: ['api'] },
    { prefix: 'commander', modules: ['cli'] }
  ],
  closedFolders: ['proof/verifier/'],
  // Imports that bypass a module's index.ts, each with its reason (docs/architecture.md, "Known violations").
  pastIndex: [
    { file: 'network/core.ts', from: ['sync'], why: 'the libp2p-free part of network (errors, wire format, limits): sync must not load libp2p' },
    { file: 'node/state-file.ts', from: ['cli'], why: '`petal status` and `petal peers` read node-state.json without loading libp2p (~0.4 s)' },
    { file: 'node/take-lock.ts', from: ['cli'], why: '`init` and `newchain` take node.lock to make a chain without loading libp2p (~0.4 s)' },
    { file: 'query/sandbox/fork.ts', from: ['cli'], why: "the CLI's start-up router forks `petal query`'s sandbox (through dist/fast/prestart.js) before loading the command; through the barrel it would bundle the query module into that script" },
    { file: 'util/stale-temps.ts', from: ['cli'], why: "the code cache's writer (src/cli/code-cache.ts) is in the start-up router, compiled from source on every start; through the barrel the error classes' registry and the other util modules that do work when loaded came with it" },
    { file: 'util/code-cache-slot.ts', from: ['cli'], why: "the code cache's writer (src/cli/code-cache.ts) hands a child process's missing cache to its script through it; as stale-temps.ts, it is in the start-up router, compiled from source on every start" },
    { file: 'util/child-processes.ts', from: ['cli'], why: "dist/fast/prestart.js (src/cli/fast-prestart.ts), compiled from source before `petal query`'s fork: through the barrel the error classes' registry came with it (+1.1 M instructions before the fork)" },
    { file: 'util/exit-status.ts', from: ['cli'], why: 'as util/child-processes.ts: the prestart script exits with EXIT.INTERRUPTED on a signal before the command has loaded' },
    { file: 'util/prestart-workers.ts', from: ['cli'], why: "as util/child-processes.ts: the same script starts `petal verify`'s workers" },
    { file: 'ingest/pending-summary.ts', from: ['cli'], why: '`petal status` counts pending.db\'s pending rows without the ingest service: the barrel loads the whole ingest module into a command that must start fast' },
    { file: 'query/sandbox/prestart.ts', from: ['cli'], why: 'start.ts takes over a sandbox process the router prestarted, in every command (this file loads no module; the barrel would load the query module into `petal status`)' }
  ]
}

const ROOT = resolve(import.meta.dirname, '..', '..')
const SRC = resolve(ROOT, 'src')
const show = (v: { file: string, line: number, spec: string, why: string }): string => `src/${v.file}:${v.line} imports '${v.spec}': ${v.why}`

describe('module boundaries (DESIGN.md "Modules and dependency direction")', () => {
  const sources = readSources(SRC)

  it('every import in src/ points down the module order, and packages are imported only by their owner', () => {
    expect(sources.length).toBeGreaterThan(100)
    // Every folder under src/ has a rule: a new module must say where it sits.
    for (const f of sources) expect(Object.keys(RULES.mayImport), f.path).toContain(f.module)
    expect(checkImports(sources, RULES).map(show)).toEqual([])
  })

  it('each module\'s index.ts is an explicit list of what it offers: no `export *` in src/', () => {
    const texts = new Map(sources.map(f => [f.path, readFileSync(resolve(SRC, f.path), 'utf8')]))
    expect(exportStars(texts)).toEqual([])
    const bad = new Map([['block/index.ts', "/** x */\nexport { a } from './a.js'\nexport * from './b.js'\n  export type * from './c.js'\nexport * as d from './d.js'\n// export * from './e.js'\nconst s = 'export * from \"./f.js\"'"]])
    expect(exportStars(bad)).toEqual(['src/block/index.ts:3', 'src/block/index.ts:4', 'src/block/index.ts:5'])
  })

  it('sync loads network only through network/core (errors, wire format, limits), which never loads libp2p', () => {
    const loaded: string[] = []
    for (const f of sources.filter(s => s.module === 'sync')) {
      for (const r of f.imports) {
        const target = targetOf(f, r.spec)
        if (r.typeOnly || target?.startsWith('network/') !== true) continue
        loaded.push(`src/${f.path}:${r.line} ${target}`)
      }
    }
    expect(loaded.length).toBeGreaterThan(0)
    expect(loaded.filter(l => !l.endsWith(' network/core.ts'))).toEqual([])
    expect([...runtimePackages(sources, 'network/core.ts')].filter(p => /libp2p|multiformats/.test(p))).toEqual([])
    // The walker does see libp2p behind the network barrel.
    expect([...runtimePackages(sources, 'network/index.ts')]).toContain('libp2p')
  })

  it('the explorer\'s browser code (web/src) imports from src/ only the proof verifier, and no package', () => {
    const web = resolve(ROOT, 'web', 'src')
    const outside: string[] = []
    let verifier = 0
    for (const f of readSources(web)) {
      for (const r of f.imports) {
        const where = `web/src/${f.path}:${r.line} imports '${r.spec}'`
        if (packageOf(r.spec) !== undefined || r.spec.startsWith('node:')) { outside.push(where); continue }
        const target = relative(ROOT, resolve(web, dirname(f.path), r.spec)).split('\\').join('/')
        if (target.startsWith('web/src/')) continue
        if (target.startsWith('src/proof/verifier/')) verifier++
        else outside.push(where)
      }
    }
    expect(outside).toEqual([])
    expect(verifier).toBeGreaterThan(0)
  })

  it('finds a wrong direction, a sibling import, an owned package, a browser module reaching out and an import past an index', () => {
    const file = (path: string, specs: string[], typeOnly = false): SourceFile => ({
      path, module: path.slice(0, path.indexOf('/')), imports: specs.map((spec, i) => ({ spec, typeOnly, dynamic: false, line: i + 1 }))
    })
    const bad = [
      file('block/read.ts', ['../chain/index.js', '../util/index.js']),
      file('query/mirror/x.ts', ['../../network/index.js'], true),
      file('chain/x.ts', ['@libp2p/tcp', 'node:fs', 'vitest']),
      file('proof/verifier/x.ts', ['../../util/index.js', './merkle.js']),
      file('network/x.ts', ['../sync/index.js']),
      file('api/x.ts', ['../storage/layout.js', '../query/index.js', './y.js']),
      file('sync/x.ts', ['../network/core.js', '../network/gossip.js'])
    ]
    expect(checkImports(bad, RULES).map(show)).toEqual([
      "src/block/read.ts:1 imports '../chain/index.js': block may import only crypto, util, not chain",
      "src/query/mirror/x.ts:1 imports '../../network/index.js': query may import only chain, storage, block, crypto, util, not network",
      "src/chain/x.ts:1 imports '@libp2p/tcp': only network may import @libp2p/tcp",
      "src/proof/verifier/x.ts:1 imports '../../util/index.js': proof/verifier/ imports nothing outside its folder (it runs in a browser)",
      "src/network/x.ts:1 imports '../sync/index.js': network may import only chain, storage, block, crypto, util, not sync",
      "src/api/x.ts:1 imports '../storage/layout.js': api reaches past storage/index.ts into storage/layout.ts: import what storage offers from its index",
      "src/sync/x.ts:2 imports '../network/gossip.js': sync reaches past network/index.ts into network/gossip.ts: import what network offers from its index"
    ])
  })

  it('reads imports as TypeScript has them, not words in comments and strings', () => {
    const text = [
      "import { a,",
      "  b } from '../chain/index.js'",
      "import type { T } from '../network/index.js'",
      "export * from './x.js'",
      "export { y } from \"./y.js\"",
      "import './side-effect.js'",
      "// import { no } from '../cli/index.js'",
      "/* export * from '../node/index.js' */",
      "const s = \"import x from '../api/index.js'\"",
      "const re = /from '[^']*'/g",
      "const t = `${await import('./dyn.js')} import z from '../sync/index.js'`",
      "export const from = 'x'; export { from }",
      "const m = await import('@noble/curves/p256')"
    ].join('\n')
    expect(importsOf(text).map(r => `${r.line} ${r.typeOnly ? 'type ' : ''}${r.dynamic ? 'dynamic ' : ''}${r.spec}`)).toEqual([
      '2 ../chain/index.js',
      '3 type ../network/index.js',
      '4 ./x.js',
      '5 ./y.js',
      '6 ./side-effect.js',
      '11 dynamic ./dyn.js',
      '13 dynamic @noble/curves/p256'
    ])
  })

  it('console, process.exit and process.env appear only in src/cli (the crash-test failpoints and the native addons\' switches excepted)', () => {
    // sha256-native.ts reads PETAL_NATIVE_SHA256 in every thread that hashes, held-db.ts
    // PETAL_HELD_DB in every thread that opens held bytes, native-rows.ts PETAL_NATIVE_ROWS in every
    // thread that walks a table's rows (worker threads do not run the CLI), as failpoint.ts reads
    // its hooks (docs/architecture.md).
    const allowed = new Set(['util/failpoint.ts', 'crypto/sha256-native.ts', 'block/held-db.ts', 'block/native-rows.ts'])
    const found: string[] = []
    for (const f of sources) {
      if (f.module === 'cli' || allowed.has(f.path)) continue
      const { code } = codeOnly(readFileSync(resolve(SRC, f.path), 'utf8'))
      for (const m of code.matchAll(/\b(console\.\w+|process\.exit|process\.env)\b/g)) found.push(`src/${f.path}: ${m[1] ?? ''}`)
    }
    expect(found).toEqual([])
  })

  it('no file in src/ is over 400 lines (BRIEF: split along seams; ingest/store.ts reached 405)', () => {
    const long = sources.map(f => {
      const text = readFileSync(resolve(SRC, f.path), 'utf8')
      return { f: f.path, n: text.split('\n').length - (text.endsWith('\n') ? 1 : 0) }
    }).filter(x => x.n > 400)
    expect(long).toEqual([])
  })

  it('docs/architecture.md names every module in its table and every import past an index under "Known violations"', () => {
    const doc = readFileSync(resolve(ROOT, 'docs/architecture.md'), 'utf8')
    const rows = [...doc.matchAll(/^\| `(\w+)` \|/gm)].map(m => m[1])
    expect(rows.sort()).toEqual(Object.keys(RULES.mayImport).filter(m => m !== '').sort())
    const known = /^## Known violations\n([^]*?)(?=^## |(?![^]))/m.exec(doc)?.[1] ?? ''
    expect(RULES.pastIndex.map(p => p.file).filter(f => !known.includes(`src/${f}`))).toEqual([])
    // The count it gives in words, "These ten (files) are the only imports past another module's index.ts".
    const words = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten', 'eleven', 'twelve']
    expect(/These (\w+) \(files\) are the only imports/.exec(known)?.[1]).toBe(words[RULES.pastIndex.length])
  })

  it('docs/architecture.md\'s "may import" column says what RULES allow each module', () => {
    const doc = readFileSync(resolve(ROOT, 'docs/architecture.md'), 'utf8')
    const modules = Object.keys(RULES.mayImport).filter(m => m !== '')
    const wrong: string[] = []
    const rows = [...doc.matchAll(/^\| `(\w+)` \|.*\| ([^|]*) \|$/gm)]
    expect(rows.map(r => r[1]).sort()).toEqual([...modules].sort())
    for (const m of rows) {
      const [, mod = '', cell = ''] = m
      // Before the first ";", parentheses dropped: "crypto, util", "chain and below", "everything below".
      const said = (cell.split(';')[0] ?? '').replace(/\([^)]*\)/g, '').trim()
      const words = said.split(/,\s*|\s+and\s+/).map(w => w.trim()).filter(w => w !== '')
      const allowed = new Set(words.flatMap(w => w === 'nothing' ? [] : w === 'below' ? BELOW_CHAIN.slice(1) : w === 'everything' ? modules.filter(x => x !== 'cli') : w === 'everything below' ? modules.filter(x => x !== 'cli' && x !== mod) : [w]))
      const rule = new Set(RULES.mayImport[mod] ?? [])
      if ([...allowed].sort().join() !== [...rule].sort().join()) wrong.push(`${mod}: the doc says ${[...allowed].sort().join(', ')}; the rule is ${[...rule].sort().join(', ')}`)
    }
    expect(wrong).toEqual([])
  })
})
