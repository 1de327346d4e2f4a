// Bundles the compiled CLI (dist/ from tsc) into dist/bundle: the entry, one chunk per command
// module (they stay dynamic imports) and shared chunks, so a command loads a few files instead of
// a hundred modules (docs/performance.md). Run by `npm run build`, after tsc.
//
// Worker and child-process entries are bundled under the file names their callers resolve next to
// themselves (`workerScript(import.meta.url, './verify-worker.js')`, the sandbox's `./child.js`),
// and dist/bundle sits two levels below the package root like dist/<module>/, so paths built from
// import.meta.url (the package root, dist/web) resolve the same from a chunk.
// Packages stay in node_modules (loaded as they are from dist/), except commander: every command
// needs it, and one bundled file loads faster than its package.
//
// Then the CommonJS fast bundle, dist/fast: every command, the sandbox child and the workers, each
// one file run through V8's code cache without Node's ES module loader; bin/petal.js routes each
// invocation (src/cli/fast-start.ts). A command whose code loads ES-module-only packages (the
// network commands: libp2p, fastify) has them bundled in, converted to CommonJS, so a node compiles
// one file from its code cache instead of resolving, reading and compiling ~1,000 ES modules.
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { basename, dirname, join, relative } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { build, type Plugin } from 'esbuild'
import { lazyCommanderSpawn, lazySqliteBackup, sqliteAddonPlugin } from './package-patches.js'
import { unwrapNames } from './unwrap-names.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const dist = join(root, 'dist')
const out = join(dist, 'bundle')
const BUNDLED = new Set(['commander'])
/** Packages the fast bundle may require: CommonJS ones (an ES-module-only package needs import()). */
const COMMONJS_PACKAGES = new Set(['better-sqlite3'])
const fastOut = join(dist, 'fast')

const pkg: unknown = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
const deps = typeof pkg === 'object' && pkg !== null && 'dependencies' in pkg && typeof pkg.dependencies === 'object' && pkg.dependencies !== null ? Object.keys(pkg.dependencies) : []
const external = deps.filter(d => !BUNDLED.has(d)).flatMap(d => [d, `${d}/*`])

/**
 * Entries: the CLI, and every script a module starts beside itself — a worker
 * (`workerScript(import.meta.url, './x-worker.js')`) or a child process (`new URL('./child.js',
 * …)`) — found in the compiled code, so a new worker cannot be left out of the bundle.
 */
function entryPoints (): Record<string, string> {
  const entries: Record<string, string> = { main: join(dist, 'cli', 'main.js') }
  const files = readdirSync(dist, { recursive: true, encoding: 'utf8' }).filter(f => f.endsWith('.js') && !f.startsWith('bundle') && !f.startsWith('web'))
  for (const f of files) {
    const text = readFileSync(join(dist, f), 'utf8')
    for (const m of text.matchAll(/(?:workerScript\(import\.meta\.url, |new URL\()'\.\/([\w-]+)\.js'/g)) {
      const name = m[1] ?? ''
      const file = join(dist, dirname(f), `${name}.js`)
      if (!existsSync(file)) throw new Error(`${f} starts ${name}.js, which is not in dist`)
      if (entries[name] !== undefined && entries[name] !== file) throw new Error(`two scripts named ${name}.js: ${entries[name]} and ${file}; dist/bundle needs unique names`)
      entries[name] = file
    }
  }
  return entries
}

rmSync(out, { recursive: true, force: true })
const entries = entryPoints()
// The WebAssembly modules' bytes, generated from the code about to be bundled; written below into
// the folder where both bundles' scripts look for them (src/util/built-bytes.ts): a thread that
// hashes with them reads ~100 KB instead of generating them (30-45 ms of CPU per fresh thread for
// SHA-256). Files, not strings in the bundles: only the threads that hash read them, and no start
// pays for them. Their SHA-256s go into every bundle (define): a script uses only the bytes of its
// own build, never a stale, cut short or replaced file (which would hash wrong without an error).
const { builtWasmFiles } = await import(pathToFileURL(join(dist, 'block', 'leaf-wasm.js')).href) as typeof import('../src/block/leaf-wasm.js')
const { BUILT_DIR } = await import(pathToFileURL(join(dist, 'util', 'built-bytes.js')).href) as typeof import('../src/util/built-bytes.js')
const wasmFiles = builtWasmFiles()
const BUILT_WASM = { __PETAL_BUILT_WASM__: JSON.stringify(JSON.stringify(Object.fromEntries(Object.entries(wasmFiles).map(([name, bytes]) => [name, createHash('sha256').update(bytes).digest('hex')])))) }
// The builds below do not depend on each other: each starts at once, and all are awaited before
// the seeds are written (esbuild runs them side by side).
const esmBundle = build({
  entryPoints: entries,
  outdir: out,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external,
  // Error classes name themselves after their class (PetalError: this.name = new.target.name).
  keepNames: true,
  define: BUILT_WASM,
  // Commander is CommonJS: its require() of node: modules needs a require in an ES module.
  banner: { js: "import { createRequire as __petalCreateRequire } from 'node:module'; const require = __petalCreateRequire(import.meta.url);" },
  logLevel: 'warning'
})

/** Each command module's file (dist/cli/commands/x.js) and the command names it registers. */
async function commandModules (): Promise<Array<{ names: readonly string[], file: string }>> {
  const index = join(dist, 'cli', 'commands', 'index.js')
  const registry: unknown = await import(pathToFileURL(index).href)
  const listed = typeof registry === 'object' && registry !== null && 'COMMAND_MODULES' in registry && Array.isArray(registry.COMMAND_MODULES) ? registry.COMMAND_MODULES.length : -1
  const found = [...readFileSync(index, 'utf8').matchAll(/names: (\[[^\]]*\]), load: async \(\) => await import\('\.\/([\w-]+)\.js'\)/g)]
    .map(m => ({ names: JSON.parse((m[1] ?? '').replaceAll("'", '"')) as string[], file: `${m[2] ?? ''}.js` }))
  if (found.length !== listed) throw new Error(`found ${found.length} command modules in ${index}, COMMAND_MODULES lists ${listed}`)
  return found
}

/**
 * Command modules that run from the fast bundle unless an option is given: that option's code is
 * a module of its own (in the commands' folder), which the fast bundle leaves out and the router
 * sends to the ES module bundle (`petal verify` is local; `verify --repair` needs the network).
 */
const FAST_UNLESS: Record<string, { option: string, module: string }> = {
  'verify.js': { option: '--repair', module: 'verify-repair.js' }
}
const leftOut = new Set(Object.values(FAST_UNLESS).map(u => join(dist, 'cli', 'commands', u.module)))

/**
 * The packages (not node: modules) each command module's code loads, statically or dynamically
 * (the FAST_UNLESS modules left out), by file name: one build of them all, which parses each
 * module they share once.
 */
async function packagesOf (files: string[]): Promise<Map<string, Set<string>>> {
  const r = await build({ entryPoints: files, outdir: join(dist, 'packages-of'), bundle: true, write: false, format: 'cjs', platform: 'node', external, metafile: true, logLevel: 'silent', plugins: [withoutLeftOut] })
  const found = new Map<string, Set<string>>()
  for (const o of Object.values(r.metafile.outputs)) {
    if (o.entryPoint === undefined) continue
    found.set(basename(o.entryPoint), new Set(o.imports.filter(i => i.external && !i.path.startsWith('node:')).map(i => i.path)))
  }
  return found
}

const fastCommands: Record<string, string> = {}
const fastUnless: Record<string, string> = {}
/** Command modules that load ES-module-only packages: their fast bundles have every package but better-sqlite3 in them. */
const slow = new Set<string>()
// The fast bundle leaves the other command modules out: the router never sends their commands
// here. Nor the FAST_UNLESS modules: the router sends their option to the ES module bundle.
const notHere = (what: string): string => `throw new Error(${JSON.stringify(`${what} is not in this bundle (bin/petal.js routes each command to its own)`)})`
const withoutLeftOut: Plugin = {
  name: 'without-left-out',
  setup (b) {
    b.onResolve({ filter: /^\.\/[\w-]+\.js$/ }, a => leftOut.has(join(dirname(a.importer), a.path)) ? { path: a.path, namespace: 'left-out' } : undefined)
    b.onLoad({ filter: /.*/, namespace: 'left-out' }, a => ({ contents: notHere(a.path), loader: 'js' }))
  }
}
/** A plugin that replaces every command module but those `keep` accepts by a stub that throws. */
function stubbedCommands (keep: (file: string) => boolean): Plugin {
  return {
    name: 'stubbed-commands',
    setup (b) {
      const index = join(dist, 'cli', 'commands', 'index.js')
      b.onResolve({ filter: /^\.\/[\w-]+\.js$/ }, a => a.importer === index && !keep(a.path.slice(2)) ? { path: a.path, namespace: 'stubbed-command' } : undefined)
      b.onLoad({ filter: /.*/, namespace: 'stubbed-command' }, a => ({ contents: notHere(a.path), loader: 'js' }))
    }
  }
}
const withoutSlowCommands = stubbedCommands(f => !slow.has(f))
const modules = await commandModules()
const packages = await packagesOf(modules.map(m => join(dist, 'cli', 'commands', m.file)))
for (const m of modules) {
  const loaded = packages.get(m.file)
  if (loaded === undefined) throw new Error(`no output for the command module ${m.file}`)
  const esm = [...loaded].filter(p => !COMMONJS_PACKAGES.has(p))
  if (esm.length > 0) slow.add(m.file)
  for (const n of m.names) {
    fastCommands[n] = m.file.replace(/\.js$/, '')
    const unless = FAST_UNLESS[m.file]
    if (unless !== undefined) fastUnless[n] = unless.option
  }
}
const sqliteAddon = sqliteAddonPlugin(relative(fastOut, join(dirname(createRequire(import.meta.url).resolve('better-sqlite3/package.json')), 'build', 'Release')))
const fastExternal = [...external.filter(e => !e.startsWith('better-sqlite3')), 'better-sqlite3/package.json']
const program = await import(pathToFileURL(join(dist, 'cli', 'program.js')).href) as typeof import('../src/cli/program.js')
const takesValue = [...program.globalsTakingValue(program.newProgram({ stdout: () => {}, stderr: () => {} }))]

rmSync(fastOut, { recursive: true, force: true })
mkdirSync(join(fastOut, 'cache'), { recursive: true })
// Everything under dist/fast is CommonJS, whatever the package's "type" says.
writeFileSync(join(fastOut, 'package.json'), '{ "type": "commonjs" }\n')
const common = {
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  external: fastExternal,
  keepNames: true,
  // Less source to read and hand to V8 on every start; ASCII so that it is read as Latin-1
  // (src/cli/code-cache.ts), checked below.
  minifyWhitespace: true,
  legalComments: 'none',
  charset: 'ascii',
  define: BUILT_WASM,
  logLevel: 'warning'
} as const
// Node modules that a fast script loads on first use of one of their exports rather than when the
// module importing them initialises (the barrels initialise every module of theirs): `status`
// never starts a worker nor reads a file through promises, yet loaded node:worker_threads, node:os
// and node:fs/promises (with its readline internals) on every start. The rewrite below replaces
// their require() calls in dist/fast/code by __petalLazy(), a proxy that requires the module at
// its first property access; esbuild reads an import's bindings as properties at use
// (import_x.name), so nothing else changes. node:crypto too: `blocks` hashes nothing. And
// node:module, whose createRequire only a worker's start and @noble's fallback call: it loads
// Node's ES module loader with it (module, esm/loader, esm/assert, source_map), ~1 M instructions
// of every command (docs/performance/import.md, "Session 43: the 100-row import").
const LAZY_BUILTINS = /\brequire\("(node:(?:worker_threads|os|fs\/promises|crypto|module))"\)/g
// import.meta.url is the stub's URL, made at its first use (a getter): node:url's URL parser and
// its lazily compiled functions are not on the path of a command that never asks for it.
const FAST_BANNER = "const __petalImportMeta = { get url () { return this.u ??= require('node:url').pathToFileURL(__filename).href } };" +
  'function __petalLazy(n){let m;const l=()=>m??=require(n);return new Proxy({},{get:(_,k)=>l()[k],has:(_,k)=>k in l(),ownKeys:()=>Reflect.ownKeys(l()),' +
  'getOwnPropertyDescriptor:(_,k)=>{const d=Reflect.getOwnPropertyDescriptor(l(),k);if(d!==undefined)d.configurable=true;return d}})}'
// The code: one self-contained file per script (no shared chunks in CommonJS). import.meta.url is
// the URL of the stub that runs it (dist/fast/x.js), whose siblings are the scripts it starts;
// import.meta.dirname is the stub's directory (the module wrapper's __dirname: no URL made).
const fastScripts = build({
  ...common,
  entryPoints: { ...Object.fromEntries(Object.entries(entries).filter(([n]) => n !== 'main')) },
  outdir: join(fastOut, 'code'),
  define: { ...BUILT_WASM, 'import.meta.url': '__petalImportMeta.url', 'import.meta.dirname': '__dirname' },
  banner: { js: FAST_BANNER },
  plugins: [withoutSlowCommands, withoutLeftOut, sqliteAddon, lazyCommanderSpawn, lazySqliteBackup]
})
/** The packages whose code esbuild put into a bundle (its metafile's inputs under node_modules). */
function bundledPackages (r: { metafile: { inputs: Record<string, unknown> } }): string[] {
  const found = new Set<string>()
  for (const input of Object.keys(r.metafile.inputs)) {
    const m = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input)
    if (m?.[1] !== undefined) found.add(m[1])
  }
  return [...found].sort()
}
// One bundle per fast command module (code/cmd-<module>.js), holding only that command's code: the
// router knows the command word before anything loads, and a smaller script reads, compiles and
// deserialises its code cache faster (docs/performance/startup.md, "Start-up of local commands"). The
// network commands' bundles hold their packages too (ES modules converted by esbuild: a top-level
// await would fail the build, and no bundled package reads its own import.meta.url, which would be
// the stub's URL as our code's is).
const fastModules = [...new Set(Object.values(fastCommands))]
const bundled: Record<string, string[]> = {}
const ourModules: Record<string, string[]> = {}
// One build for all of them, so that the modules they share (our code, commander; libp2p for `run`
// and `pull`) are parsed once (25 builds took twice esbuild's CPU). Each entry has its own copy of
// the modules from the entry to the command registry (cli/start.js, cli/program.js,
// cli/commands/index.js), whose copy loads that command's module only and stubs the others; every
// other module is one, shared. Every package but better-sqlite3 is bundled, for every command:
// only the network ones load any. (The registry's copies are loaded by the plugin, so esbuild no
// longer knows them for ES modules of a "type": "module" package: it imports the command module
// without Node's default-export interop, which no command uses: they export `register`.)
const REGISTRY_PATH = new Set(['start.js', 'program.js', join('commands', 'index.js')].map(f => join(dist, 'cli', f)))
const perCommand: Plugin = {
  name: 'per-command',
  setup (b) {
    b.onResolve({ filter: /^fast-main:/ }, a => ({ path: a.path.slice('fast-main:'.length), namespace: 'fast-main' }))
    b.onLoad({ filter: /.*/, namespace: 'fast-main' }, a => ({ contents: `import './polyfills.js'\nimport { start } from './cli/start.js'\nvoid start(() => import.meta.url)\n`, resolveDir: dist, loader: 'js', pluginData: a.path }))
    // The copies know their command (pluginData, from the entry down): their registry path leads
    // to their own copies, and the registry's copy stubs every command module but theirs.
    b.onResolve({ filter: /^\.\.?\/[\w./-]+\.js$/ }, a => {
      const command: unknown = a.pluginData
      if (typeof command !== 'string') return undefined
      const path = join(a.resolveDir, a.path)
      if (REGISTRY_PATH.has(path)) return { path, suffix: `?${command}`, pluginData: command }
      if (a.importer === join(dist, 'cli', 'commands', 'index.js') && dirname(path) === dirname(a.importer) && path !== join(dirname(a.importer), `${command}.js`)) return { path: a.path, namespace: 'stubbed-command' }
      return undefined
    })
    b.onLoad({ filter: /.*/, namespace: 'stubbed-command' }, a => ({ contents: notHere(a.path), loader: 'js' }))
    // The registry's copy imports its own command statically: with no dynamic import left on the
    // way to it, esbuild hoists the command's modules into the bundle's scope instead of wrapping
    // each in a lazy initialiser (__esm), which every command ran anyway; a smaller code cache
    // (status: 350 -> 288 KB) and ~55 fewer fresh pages per start (docs/performance/startup.md,
    // "Session 8: start-up").
    b.onLoad({ filter: /\.js$/ }, a => {
      if (a.namespace !== 'file' || typeof a.pluginData !== 'string' || !REGISTRY_PATH.has(a.path)) return undefined
      let contents = readFileSync(a.path, 'utf8')
      if (a.path === join(dist, 'cli', 'commands', 'index.js')) {
        const own = `import('./${a.pluginData}.js')`
        if (!contents.includes(own)) throw new Error(`dist/cli/commands/index.js does not load its command modules as ${own}: update the per-command plugin of scripts/build-cli.ts`)
        contents = `import * as petalOwnCommand from './${a.pluginData}.js'\n${contents.replace(own, 'Promise.resolve(petalOwnCommand)')}`
      }
      return { contents, loader: 'js', pluginData: a.pluginData }
    })
  }
}
const fastBundles = build({
  ...common,
  metafile: true,
  external: fastExternal.filter(e => e.startsWith('better-sqlite3')),
  entryPoints: Object.fromEntries(fastModules.map(name => [`cmd-${name}`, `fast-main:${name}`])),
  outdir: join(fastOut, 'code'),
  define: { ...BUILT_WASM, 'import.meta.url': '__petalImportMeta.url', 'import.meta.dirname': '__dirname' },
  banner: { js: FAST_BANNER },
  plugins: [withoutLeftOut, perCommand, sqliteAddon, lazyCommanderSpawn, lazySqliteBackup]
}).then(r => {
  for (const [out, o] of Object.entries(r.metafile.outputs)) {
    const name = /cmd-([\w-]+)\.js$/.exec(out)?.[1]
    if (name === undefined) continue
    bundled[name] = bundledPackages({ metafile: o })
    // Our modules of which some code is in it (a module esbuild tree-shook to nothing is not).
    ourModules[name] = Object.entries(o.inputs).filter(([f, i]) => i.bytesInOutput > 0 && f.startsWith('dist/')).map(([f]) => f.slice('dist/'.length).replace(/\?.*$/, '')).sort()
  }
})
// The stubs: the router, and one per child or worker script under the name its caller resolves.
const fast = { commands: fastCommands, unless: fastUnless, takesValue }
const router = build({
  ...common,
  stdin: { contents: `import { startFast } from './cli/fast-start.js'\nstartFast(__dirname, ${JSON.stringify(fast)}, require)\n`, resolveDir: dist, sourcefile: 'fast-router.js' },
  outfile: join(fastOut, 'petal.js')
})
// What the router starts for `query` and `verify` only, loaded by it for those two (fast-start.ts).
const prestartScript = build({
  ...common,
  stdin: { contents: "export { prestart } from './cli/fast-prestart.js'\n", resolveDir: dist, sourcefile: 'fast-prestart.js' },
  outfile: join(fastOut, 'prestart.js')
})
// The child-process and worker stubs hold only the path of a start from the script's own cache
// (fast-script.ts); they have no class, and no name of theirs is read, so esbuild's keepNames
// (a defineProperty per function, at every start) is off for them. The rest of the code cache's
// work is run-cached.js, loaded without an own cache (docs/performance/query.md, "Session 43: petal
// query's first run").
const stubs = Object.keys(entries).filter(n => n !== 'main').map(async name => await build({
  ...common,
  keepNames: false,
  stdin: { contents: `import { startFastScript } from './cli/fast-script.js'\nstartFastScript(__dirname, ${JSON.stringify(name)}, require)\n`, resolveDir: dist, sourcefile: `${name}-stub.js` },
  outfile: join(fastOut, `${name}.js`)
}))
const runCachedScript = build({
  ...common,
  stdin: { contents: "export { runCached } from './cli/code-cache.js'\n", resolveDir: dist, sourcefile: 'run-cached.js' },
  outfile: join(fastOut, 'run-cached.js')
})
await Promise.all([esmBundle, fastScripts, fastBundles, router, prestartScript, runCachedScript, ...stubs])
// The WebAssembly modules' bytes (generated above, their digests in every bundle).
for (const dir of [out, fastOut]) {
  mkdirSync(join(dir, BUILT_DIR), { recursive: true })
  for (const [name, bytes] of Object.entries(wasmFiles)) writeFileSync(join(dir, BUILT_DIR, name), bytes)
}
// What the router does, which packages and which of our modules each command's bundle holds, for tests and readers
// (nothing reads it at run time: the router has its table built in).
writeFileSync(join(fastOut, 'bundles.json'), JSON.stringify({ router: { commands: fastCommands, unless: fastUnless }, network: [...slow].map(f => f.replace(/\.js$/, '')).sort(), packages: Object.fromEntries(Object.entries(bundled).sort()), modules: Object.fromEntries(Object.entries(ourModules).sort()) }, null, 2) + '\n')
// keepNames: esbuild gives every function and class its source name back with __name, which
// defines a `name` property even where the name is already that (every function esbuild did not
// rename, nearly all): each define gives the function a map of its own, ~50 pages of heap per start
// of `status` for nothing. The rewrite defines it only where it differs, with the same result.
// (esbuild renames `value` to `value2` where a bundled module has a global of that name.)
const KEEP_NAMES = /var __name=\(target,(value\d*)\)=>__defProp\(target,"name",\{value(?::\1)?,configurable:true\}\);/
const KEEP_NAMES_IF_DIFFERENT = 'var __name=(target,$1)=>target.name===$1?target:__defProp(target,"name",{value:$1,configurable:true});'
// With __name a no-op where the name is already right, two kinds of its calls do nothing and are
// dropped: `__name(f,"f");` after each function (or class) declaration esbuild kept the name of
// (~340 statements run by the top level of `status`), and a class's `static{__name(this,"X")}`
// where the anonymous class is assigned to X, which names it X already (each such block is a
// function V8 compiles and calls when the class is defined). ~14 KB less code for `status`,
// −0.6 M instructions per start (docs/performance/startup.md, "Session 24: start-up").
const NAME_KEPT = /(?<=^|[;{}\n])__name\(([A-Za-z_$][\w$]*),"([\w$]+)"\);/g
const CLASS_NAMED = /(?<![\w$.])([A-Za-z_$][\w$]*)=class((?: extends [^{]+)?)\{static\{__name\(this,"([\w$]+)"\)\}/g
// And the wrappers of function expressions where JavaScript gives the same name itself
// (unwrap-names.ts): a `status` run defines 31 names instead of 192.
function withoutNoopNames (code: string): string {
  return code
    .replace(NAME_KEPT, (all: string, fn: string, name: string) => fn === name ? '' : all)
    .replace(CLASS_NAMED, (all: string, id: string, heritage: string, name: string) => id === name ? `${id}=class${heritage}{` : all)
}
const { wrapModule } = await import(pathToFileURL(join(dist, 'cli', 'code-cache.js')).href) as typeof import('../src/cli/code-cache.js')
// The code cache reads the code as Latin-1, which is only right for ASCII. Each script is written
// in its module wrapper, as runCached compiles it (wrapModule).
for (const f of readdirSync(join(fastOut, 'code'))) {
  const file = join(fastOut, 'code', f)
  const code = readFileSync(file, 'latin1')
  if (!KEEP_NAMES.test(code)) throw new Error(`dist/fast/code/${f} does not define esbuild's __name as ${String(KEEP_NAMES)}: update KEEP_NAMES in scripts/build-cli.ts`)
  writeFileSync(file, wrapModule(unwrapNames(withoutNoopNames(code.replace(LAZY_BUILTINS, '__petalLazy("$1")').replace(KEEP_NAMES, KEEP_NAMES_IF_DIFFERENT))).code), 'latin1')
  const bytes = readFileSync(file)
  const at = bytes.findIndex(b => b > 0x7f)
  if (at !== -1) throw new Error(`dist/fast/code/${f} has a non-ASCII byte at ${at}; the code cache reads it as Latin-1`)
}

// The seeds of the code caches (src/cli/code-cache.ts, writeSeed), so that the first run of each
// script in a fresh installation does not compile it from source. Written by plain `node`
// processes (this one runs with tsx's options, which name a cache of their own), two at a time,
// the largest scripts first.
const scripts = [
  ...fastModules.map(m => ({ code: join(fastOut, 'code', `cmd-${m}.js`), name: m })),
  ...Object.keys(entries).filter(n => n !== 'main').map(n => ({ code: join(fastOut, 'code', `${n}.js`), name: n }))
].sort((a, b) => statSync(b.code).size - statSync(a.code).size)
const seedDir = join(fastOut, 'seed')
mkdirSync(seedDir, { recursive: true })
const codeCache = pathToFileURL(join(dist, 'cli', 'code-cache.js')).href
await Promise.all([0, 1].map(async half => {
  const jobs = scripts.filter((_, i) => i % 2 === half).map(s => ({ ...s, seedDir }))
  const child = spawn(process.execPath, ['-'], { stdio: ['pipe', 'inherit', 'inherit'] })
  child.stdin.end(`import(${JSON.stringify(codeCache)}).then(m => { for (const j of ${JSON.stringify(jobs)}) m.writeSeed(j) })`)
  const code = await new Promise<number | null>(resolve => child.on('close', resolve))
  if (code !== 0) throw new Error(`writing the code caches' seeds failed (exit ${code})`)
}))
