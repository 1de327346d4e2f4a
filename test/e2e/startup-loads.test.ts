import { execFileSync, spawnSync } from 'node:child_process'
import { closeSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { CLI, petal, petalLogged } from '../helpers/cli.js'
import { installationCopy } from '../helpers/install.js'
import { tmpDir } from '../helpers/tmp.js'

const ROOT = join(import.meta.dirname, '..', '..')

/**
 * What the build wrote about dist/fast (bundles.json): the router's table (command word → module),
 * the modules with ES-module-only packages, and the packages and our modules (paths under dist/)
 * bundled into each module's bundle.
 */
function bundles (): { commands: Record<string, string>, network: string[], packages: Record<string, string[]>, modules: Record<string, string[]> } {
  const b = JSON.parse(readFileSync(join(ROOT, 'dist', 'fast', 'bundles.json'), 'utf8')) as { router: { commands: Record<string, string> }, network: string[], packages: Record<string, string[]>, modules: Record<string, string[]> }
  return { commands: b.router.commands, network: b.network, packages: b.packages, modules: b.modules }
}
const NETWORK_PACKAGE = /^(libp2p|@libp2p\/.*|@chainsafe\/.*|fastify|@noble\/.*)$/

// Commands that read the data directory must start fast: they load neither the network stack,
// nor the HTTP server, nor the v1 signature library, and they run from the CommonJS fast bundle
// without the ES module bundle (docs/performance.md). A module list, not a timing: a static
// import that drags one of them in again fails here.
describe('what a local command loads', () => {
  it('a command whose stderr is a pipe it never writes to does not create the stream (net, pipe_wrap)', async () => {
    const dir = join(tmpDir(), 'node')
    expect((await petal(['--dir', dir, 'init'])).code).toBe(0)
    // Node's own module list, written at exit: the stream would load these builtins internally,
    // where the import log above does not see them. stdout goes to a file (a pipe would load net).
    const work = tmpDir()
    const list = join(work, 'modules.txt')
    writeFileSync(join(work, 'list.cjs'), `process.on('exit', () => { require('node:fs').writeFileSync(${JSON.stringify(list)}, process.moduleLoadList.join('\\n')) })\n`)
    for (const args of [['status'], ['blocks'], ['mykeys']]) {
      const out = join(work, 'out.txt')
      const fd = openSync(out, 'w')
      try {
        execFileSync(process.execPath, ['--require', join(work, 'list.cjs'), CLI, '--dir', dir, ...args], { stdio: ['ignore', fd, 'pipe'] })
      } finally {
        closeSync(fd)
      }
      expect(readFileSync(out, 'utf8'), args.join(' ')).not.toBe('')
      const loaded = readFileSync(list, 'utf8').split('\n')
      expect(loaded, args.join(' ')).toContain('NativeModule fs')
      expect(loaded, `${args.join(' ')} leaves process.stderr uncreated`).not.toContain('NativeModule net')
      expect(loaded, args.join(' ')).not.toContain('Internal Binding pipe_wrap')
      // Nor node:stream: the code cache is checked without node:zlib, stdout written directly.
      expect(loaded, `${args.join(' ')} loads neither zlib nor streams`).not.toContain('NativeModule zlib')
      expect(loaded, `${args.join(' ')} loads neither zlib nor streams`).not.toContain('NativeModule stream')
      // Nor an AbortController: the command's signal is made when a command asks for it.
      expect(loaded, `${args.join(' ')} makes no AbortController`).not.toContain('NativeModule internal/abort_controller')
      // Nor node:module, which loads Node's ES module loader with it: required only where used.
      expect(loaded, `${args.join(' ')} loads no node:module`).not.toContain('NativeModule module')
      expect(loaded, `${args.join(' ')} loads no node:module`).not.toContain('NativeModule internal/modules/esm/loader')
    }
  })

  it('status, blocks, mykeys and verify load no libp2p, fastify or @noble module, and run from the fast bundle', async () => {
    const dir = join(tmpDir(), 'node')
    const init = await petal(['--dir', dir, 'init'])
    expect(init.code, init.stderr).toBe(0)
    // The caches live in the installation: a copy of it without them, so that what follows sees
    // what this test's commands write, not what an earlier run or another test file's commands
    // wrote (the build's are shared with the files running beside this one, and one of their
    // status runs rewrote the plain cache between this test's read and its check).
    const { cli, cacheDir } = installationCopy()
    const statusCaches = (): string[] => readdirSync(cacheDir).filter(f => /^status-.*\.v8$/.test(f))
    for (const args of [['status'], ['blocks'], ['mykeys'], ['--json', 'status'], ['verify']]) {
      const log = join(tmpDir(), 'imports.log')
      const r = await petalLogged(['--dir', dir, ...args], { log, cli })
      expect(r.code, r.stderr).toBe(0)
      const loaded = readFileSync(log, 'utf8')
      // The log does record packages: the command's own SQLite addon is in it.
      expect(loaded, args.join(' ')).toContain('/node_modules/better-sqlite3/')
      expect(loaded, `${args.join(' ')} loads no network, HTTP or v1-signature code`).not.toMatch(/libp2p|@chainsafe|gossipsub|fastify|@noble\//)
      expect(loaded, args.join(' ')).toContain('/dist/fast/petal.js')
      expect(loaded, `${args.join(' ')} does not load the ES module bundle`).not.toContain('/dist/bundle/')
      // What the router starts alongside `verify` (its workers) is a script only `verify` and `query` load.
      if (args[0] === 'verify') expect(loaded).toContain('/dist/fast/prestart.js')
      else expect(loaded, args.join(' ')).not.toContain('/dist/fast/prestart.js')
      // Listing keys hashes 91-byte SPKIs in JavaScript: node:crypto is for the commands that sign or hash files.
      if (args[0] !== 'verify') expect(loaded, `${args.join(' ')} does not load node:crypto`).not.toMatch(/^(node:)?crypto$/m)
    }
    // The first successful run of a command leaves its code cache for the next ones.
    const cached = (): string[] => readdirSync(cacheDir)
    expect(statusCaches()).not.toEqual([])
    // The seed the build left for it has the name a plain `petal` looks for (the log above runs
    // with options of its own): a first run without a cache starts from it.
    expect((await petal(['--dir', dir, 'status'], { cli })).code).toBe(0)
    const seed = readdirSync(join(cacheDir, '..', 'seed')).filter(f => /^status-.*\.v8$/.test(f))
    expect(seed).toHaveLength(1)
    expect(cached()).toContain(seed[0])
    // NODE_OPTIONS (not in execArgv) names a cache of its own: a V8 flag there makes V8 refuse the
    // plain one, which one name for both would rewrite at every switch.
    const before = statusCaches()
    const plain = readFileSync(join(cacheDir, seed[0] ?? ''))
    expect((await petal(['--dir', dir, 'status'], { cli, env: { NODE_OPTIONS: '--max-old-space-size=3001' } })).code).toBe(0)
    const added = statusCaches().filter(f => !before.includes(f))
    expect(added).toHaveLength(1)
    expect(readFileSync(join(cacheDir, seed[0] ?? '')).equals(plain), 'the plain cache is not rewritten').toBe(true)
    // A bundle's code is compiled from its file, not required, so the log above cannot see the
    // packages bundled into it: the build's record of each bundle must show none of them.
    const { commands, packages } = bundles()
    for (const word of ['status', 'blocks', 'mykeys', 'verify']) {
      const name = commands[word] ?? ''
      expect(packages[name], word).toContain('commander')
      expect(packages[name]?.filter(p => NETWORK_PACKAGE.test(p)), word).toEqual([])
    }
  })

  it('mykeys\'s bundle holds no table hashing, worker pool, WebAssembly or Daisy indexer (cli/hashing.ts has them)', () => {
    // docs/performance/startup.md, "Session 26: start-up": the context constructed a TableRootPool in every
    // openChain and indexed a Daisy directory itself, so every command's bundle carried them.
    const { commands, modules } = bundles()
    const keys = modules[commands.mykeys ?? ''] ?? []
    expect(keys).toContain('cli/context.js')
    expect(keys).toContain('chain/chain.js')
    const hashing = ['cli/hashing.js', 'block/fast-rows.js', 'crypto/sha256-wasm-four.js', 'util/worker-pool.js', 'chain/daisy-state.js']
    expect(keys.filter(m => hashing.includes(m))).toEqual([])
    // Of some modules only top-level constants stay (a member read or a layout check at load, which
    // esbuild keeps): their code must not.
    const code = (word: string): string => readFileSync(join(ROOT, 'dist', 'fast', 'code', `cmd-${commands[word] ?? ''}.js`), 'latin1')
    const functions = ['TableRootPool=class', 'function tableRootParallel', 'function updateDaisyState', 'function checkDaisyChain', 'MerkleBatch=class']
    for (const f of functions) expect(code('mykeys'), f).not.toContain(f)
    // A command that reads a Daisy directory still has them, through its module's refreshDaisy.
    expect(modules[commands.status ?? '']).toEqual(expect.arrayContaining(hashing))
    for (const f of functions) expect(code('status'), f).toContain(f)
  })

  it('the router, compiled from source on every start, holds only what every command needs', () => {
    // docs/performance/startup.md, "Session 23: start-up": the error classes' registry (the util barrel)
    // and the query sandbox's and verify's prestart code were parsed and run by every command.
    const router = readFileSync(join(ROOT, 'dist', 'fast', 'petal.js'), 'latin1')
    expect(router).toContain('function runCached(')
    for (const absent of ['registerErrorClass', 'forkSandbox', 'prestartWorkers', 'createLogger']) expect(router, absent).not.toContain(absent)
    expect(readFileSync(join(ROOT, 'dist', 'fast', 'prestart.js'), 'latin1')).toContain('prestartWorkers')
  })

  it('status, blocks and mykeys make no URL (import.meta.url and the package root are made when asked)', async () => {
    // docs/performance/startup.md, "Session 23: start-up": the fast bundle's import.meta.url, the package
    // root and the native hasher's path were URLs made and parsed on every start, and each start
    // compiled node:url's functions for them. A preload counts what the command's code makes.
    const dir = join(tmpDir(), 'node')
    expect((await petal(['--dir', dir, 'init'])).code).toBe(0)
    const work = tmpDir()
    const count = join(work, 'urls.txt')
    writeFileSync(join(work, 'count.cjs'), `const url = require('node:url'); let n = 0
const toURL = url.pathToFileURL; url.pathToFileURL = (...a) => { n++; return toURL(...a) }
const Parsed = globalThis.URL; globalThis.URL = class extends Parsed { constructor (...a) { n++; super(...a) } }
process.on('exit', () => { require('node:fs').writeFileSync(${JSON.stringify(count)}, String(n)) })\n`)
    for (const args of [['status'], ['blocks'], ['mykeys']]) {
      const r = spawnSync(process.execPath, ['--require', join(work, 'count.cjs'), CLI, '--dir', dir, ...args], { encoding: 'utf8' })
      expect(r.status, r.stderr).toBe(0)
      expect(r.stdout, args.join(' ')).not.toBe('')
      expect(readFileSync(count, 'utf8'), `${args.join(' ')} makes no URL`).toBe('0')
    }
    // `init` asks for the package root (its default template), and finds it.
    const other = join(tmpDir(), 'other')
    expect((await petal(['--dir', other, 'init'])).code).toBe(0)
  })

  it('status, blocks and mykeys promisify nothing and fill no buffer when they load (made when a command flushes, hashes or backs up)', async () => {
    // docs/performance/startup.md, "Session 24: start-up": util/fs.ts, crypto/hash.ts and better-sqlite3's
    // backup promisified node:fs functions when loaded, and crypto/merkle.ts filled a buffer: each
    // start compiled node:util's promisify and node:buffer's fill path for code it never ran.
    const dir = join(tmpDir(), 'node')
    expect((await petal(['--dir', dir, 'init'])).code).toBe(0)
    const work = tmpDir()
    const count = join(work, 'calls.txt')
    writeFileSync(join(work, 'count.cjs'), `const util = require('node:util'); const calls = []
const promisify = util.promisify; util.promisify = (...a) => { calls.push('promisify ' + a[0]?.name); return promisify(...a) }
const alloc = Buffer.alloc; Buffer.alloc = function (size, fill, enc) { if (fill !== undefined) calls.push('fill ' + size); return alloc.apply(this, arguments) }
process.on('exit', () => { require('node:fs').writeFileSync(${JSON.stringify(count)}, calls.join(',')) })\n`)
    for (const args of [['status'], ['blocks'], ['mykeys']]) {
      const r = spawnSync(process.execPath, ['--require', join(work, 'count.cjs'), CLI, '--dir', dir, ...args], { encoding: 'utf8' })
      expect(r.status, r.stderr).toBe(0)
      expect(r.stdout, args.join(' ')).not.toBe('')
      expect(readFileSync(count, 'utf8'), `${args.join(' ')} promisifies and fills nothing`).toBe('')
    }
  })

  it('the network commands run from their fast bundles, with libp2p and fastify bundled in', async () => {
    const { commands, network, packages } = bundles()
    for (const word of ['run', 'pull']) {
      expect(network, word).toContain(commands[word])
      expect(packages[commands[word] ?? ''], word).toEqual(expect.arrayContaining(['libp2p', '@libp2p/kad-dht', '@libp2p/noise']))
    }
    expect(packages[commands.serve ?? ''], 'serve').toContain('fastify')
    const log = join(tmpDir(), 'imports.log')
    const r = await petalLogged(['pull', '--help'], { log })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain('pull')
    const loaded = readFileSync(log, 'utf8')
    expect(loaded).toContain('/dist/fast/petal.js')
    expect(loaded, 'pull does not load the ES module bundle').not.toContain('/dist/bundle/')
    expect(loaded, 'nor libp2p from node_modules').not.toMatch(/node_modules\/(libp2p|@libp2p|@chainsafe|fastify)\//)
  })

  it('help, --version and verify --repair run from the ES module bundle', async () => {
    // verify --repair fetches from peers: its code is not in the fast bundle (FAST_UNLESS in scripts/build-cli.ts).
    for (const args of [['--version'], ['--help'], ['verify', '--repair', '--help']]) {
      const log = join(tmpDir(), 'imports.log')
      const r = await petalLogged(args, { log })
      expect(r.code, r.stderr).toBe(0)
      expect(readFileSync(log, 'utf8'), args.join(' ')).toContain('/dist/bundle/main.js')
    }
  })
})
