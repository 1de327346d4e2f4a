import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { describe, expect, it } from 'vitest'
import { CLI, petal, petalLogged } from '../helpers/cli.js'
import { tmpDir } from '../helpers/tmp.js'
import { wrapModule } from '../../src/cli/code-cache.js'
import { unwrapNames } from '../../scripts/unwrap-names.js'

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
    }
  })

  it('status, blocks, mykeys and verify load no libp2p, fastify or @noble module, and run from the fast bundle', async () => {
    const dir = join(tmpDir(), 'node')
    const init = await petal(['--dir', dir, 'init'])
    expect(init.code, init.stderr).toBe(0)
    for (const args of [['status'], ['blocks'], ['mykeys'], ['--json', 'status'], ['verify']]) {
      const log = join(tmpDir(), 'imports.log')
      const r = await petalLogged(['--dir', dir, ...args], { log })
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
    const cached = (): string[] => readdirSync(join(ROOT, 'dist', 'fast', 'cache'))
    expect(cached().some(f => /^status-.*\.v8$/.test(f))).toBe(true)
    // The seed the build left for it has the name a plain `petal` looks for (the log above runs
    // with options of its own): a first run without a cache starts from it.
    expect((await petal(['--dir', dir, 'status'])).code).toBe(0)
    const seed = readdirSync(join(ROOT, 'dist', 'fast', 'seed')).filter(f => /^status-.*\.v8$/.test(f))
    expect(seed).toHaveLength(1)
    expect(cached()).toContain(seed[0])
    // NODE_OPTIONS (not in execArgv) names a cache of its own: a V8 flag there makes V8 refuse the
    // plain one, which one name for both would rewrite at every switch.
    const before = cached().filter(f => /^status-.*\.v8$/.test(f))
    expect((await petal(['--dir', dir, 'status'], { env: { NODE_OPTIONS: '--max-old-space-size=3001' } })).code).toBe(0)
    const added = cached().filter(f => /^status-.*\.v8$/.test(f) && !before.includes(f))
    expect(added).toHaveLength(1)
    expect(cached()).toContain(seed[0])
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
    // docs/performance.md, "Session 26: start-up": the context constructed a TableRootPool in every
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
    // docs/performance.md, "Session 23: start-up": the error classes' registry (the util barrel)
    // and the query sandbox's and verify's prestart code were parsed and run by every command.
    const router = readFileSync(join(ROOT, 'dist', 'fast', 'petal.js'), 'latin1')
    expect(router).toContain('function runCached(')
    for (const absent of ['registerErrorClass', 'forkSandbox', 'prestartWorkers', 'createLogger']) expect(router, absent).not.toContain(absent)
    expect(readFileSync(join(ROOT, 'dist', 'fast', 'prestart.js'), 'latin1')).toContain('prestartWorkers')
  })

  it('status, blocks and mykeys make no URL (import.meta.url and the package root are made when asked)', async () => {
    // docs/performance.md, "Session 23: start-up": the fast bundle's import.meta.url, the package
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
    // docs/performance.md, "Session 24: start-up": util/fs.ts, crypto/hash.ts and better-sqlite3's
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

describe('the code cache', () => {
  // Each step is a fresh process, as each start of `petal` is (V8 also caches within a process).
  // One script for every step, so that all run with the same Node options (they name the cache).
  const script = `
    const { runCached, writeSeed } = await import(${JSON.stringify(pathToFileURL(join(ROOT, 'dist', 'cli', 'code-cache.js')).href)})
    const [action, o] = [process.argv[1], JSON.parse(process.argv[2])]
    if (action === 'seed') writeSeed(o)
    else if (action === 'rss') { const outcome = runCached(o); process.stdout.write(outcome + ' ' + process.resourceUsage().maxRSS) }
    else { const outcome = runCached(o); setImmediate(() => { process.stdout.write(outcome + ' ' + globalThis.answer) }) }
  `
  const step = (action: 'run' | 'seed' | 'rss', o: object): string => execFileSync(process.execPath, ['--input-type=module', '-e', script, action, JSON.stringify(o)], { encoding: 'utf8' })
  const runCached = (code: string, cacheDir: string, seedDir?: string): string => step('run', { code, as: join(cacheDir, '..', 'stub.js'), name: 'x', cacheDir, seedDir, writeAt: 'loaded' })
  const writeSeed = (code: string, seedDir: string): string => step('seed', { code, name: 'x', seedDir })

  it('a worker thread writes its cache once it has handled its first message, not at load', () => {
    const dir = tmpDir()
    const code = join(dir, 'worker-code.js')
    const cacheDir = join(dir, 'cache')
    // The code counts the cache files after the turns that follow its load and its first message
    // (runCached's write, when due, is queued before them).
    writeFileSync(code, `const { parentPort } = require("node:worker_threads"); const fs = require("node:fs")
      const files = () => fs.existsSync(${JSON.stringify(cacheDir)}) ? fs.readdirSync(${JSON.stringify(cacheDir)}).filter(f => f.endsWith(".v8")).length : 0
      const later = f => setImmediate(() => setImmediate(f))
      parentPort.on("message", n => { const r = (x => x * 6)(n); later(() => parentPort.postMessage(r + " after-message:" + files())) })
      later(() => parentPort.postMessage("after-load:" + files()))\n`)
    const run = (): string => execFileSync(process.execPath, ['--input-type=module', '-e', `
      import { Worker } from 'node:worker_threads'
      const url = ${JSON.stringify(pathToFileURL(join(ROOT, 'dist', 'cli', 'code-cache.js')).href)}
      const w = new Worker(\`import(\${JSON.stringify(url)}).then(m => { m.runCached({ code: ${JSON.stringify(code)}, as: ${JSON.stringify(join(dir, 'stub.js'))}, name: 'w', cacheDir: ${JSON.stringify(cacheDir)}, writeAt: 'first-message' }) })\`, { eval: true })
      const seen = []
      w.on('message', m => { seen.push(m); if (seen.length === 1) w.postMessage(7); else { process.stdout.write(seen.join(' ')); void w.terminate() } })
    `], { encoding: 'utf8' })
    expect(run()).toBe('after-load:0 42 after-message:1')
    expect(run()).toBe('after-load:1 42 after-message:1')
  })

  it('compiles from source once, then runs from the cache; a damaged or stale cache is never given to V8', () => {
    const dir = tmpDir()
    const code = join(dir, 'code.js')
    const cacheDir = join(dir, 'cache')
    writeFileSync(code, 'globalThis.answer = require("node:path").basename(__filename) + ":" + (() => 6 * 7)()\n')
    expect(runCached(code, cacheDir)).toBe('miss stub.js:42')
    expect(runCached(code, cacheDir)).toBe('hit stub.js:42')
    const [file = ''] = readdirSync(cacheDir)
    expect(file).toMatch(/^x-v\d+\.\d+\.\d+-\w+-[0-9a-f]{8}\.v8$/)
    // V8 checks a cache's header, not its body: a damaged body would crash the process. A file
    // holds the data twice; one byte changed in either copy, or a file cut short, is no cache.
    const whole = readFileSync(join(cacheDir, file))
    for (const at of [whole.length / 4, whole.length * 3 / 4, whole.length - 1]) {
      const flipped = Buffer.from(whole)
      flipped[at] = (flipped[at] ?? 0) ^ 0x10
      writeFileSync(join(cacheDir, file), flipped)
      expect(runCached(code, cacheDir), `a byte changed at ${at} of ${whole.length}`).toBe('miss stub.js:42')
      const again = readFileSync(join(cacheDir, file))
      expect(again.subarray(0, again.length / 2).equals(again.subarray(again.length / 2)), 'the cache written again, whole').toBe(true)
      expect(runCached(code, cacheDir)).toBe('hit stub.js:42')
    }
    writeFileSync(join(cacheDir, file), whole.subarray(0, whole.length - 1))
    expect(runCached(code, cacheDir)).toBe('miss stub.js:42')
    expect(runCached(code, cacheDir)).toBe('hit stub.js:42')
    const bytes = readFileSync(join(cacheDir, file))
    bytes.fill(0x5a, 4 + 40)
    writeFileSync(join(cacheDir, file), bytes)
    expect(runCached(code, cacheDir)).toBe('miss stub.js:42')
    expect(runCached(code, cacheDir)).toBe('hit stub.js:42')
    writeFileSync(join(cacheDir, file), bytes.subarray(0, 100))
    expect(runCached(code, cacheDir)).toBe('miss stub.js:42')
    // A file damaged to a huge size (sparse) is no cache, and is not read: half of it (256 MiB)
    // was read into memory before its copies were compared.
    expect(runCached(code, cacheDir)).toBe('hit stub.js:42')
    truncateSync(join(cacheDir, file), 512 << 20)
    const [outcome, rss] = step('rss', { code, as: join(cacheDir, '..', 'stub.js'), name: 'x', cacheDir, writeAt: 'loaded' }).split(' ')
    expect(outcome).toBe('miss')
    expect(Number(rss), 'peak RSS (KiB)').toBeLessThan(128 * 1024)
    expect(runCached(code, cacheDir)).toBe('hit stub.js:42')
    // A rebuilt bundle gets a cache of its own.
    writeFileSync(code, 'globalThis.answer = "rebuilt"\n')
    expect(runCached(code, cacheDir)).toBe('miss rebuilt')
    expect(runCached(code, cacheDir)).toBe('hit rebuilt')
    // Where the cache cannot be written, every run compiles from source and works.
    const blocked = join(dir, 'not-a-dir')
    writeFileSync(blocked, '')
    expect(runCached(code, join(blocked, 'cache'))).toBe('miss rebuilt')
    expect(runCached(code, join(blocked, 'cache'))).toBe('miss rebuilt')
    // Where the rename fails (a directory in the cache's place), no temporary file is left.
    const [rebuilt = ''] = readdirSync(cacheDir).filter(f => f !== file)
    rmSync(join(cacheDir, rebuilt))
    mkdirSync(join(cacheDir, rebuilt, 'occupied'), { recursive: true })
    expect(runCached(code, cacheDir)).toBe('miss rebuilt')
    expect(runCached(code, cacheDir)).toBe('miss rebuilt')
    expect(readdirSync(cacheDir).filter(f => f.endsWith('.tmp'))).toEqual([])
  })

  it('a named pipe in the place of a cache or a seed is no cache: the start does not wait for a writer', () => {
    const dir = tmpDir()
    const code = join(dir, 'code.js')
    const cacheDir = join(dir, 'cache')
    const seedDir = join(dir, 'seed')
    writeFileSync(code, 'globalThis.answer = require("node:path").basename(__filename) + ":" + (() => 6 * 7)()\n')
    writeSeed(code, seedDir)
    expect(runCached(code, cacheDir, seedDir)).toBe('seed stub.js:42')
    const [file = ''] = readdirSync(cacheDir)
    for (const fifo of [join(cacheDir, file), join(seedDir, file)]) {
      rmSync(fifo)
      expect(spawnSync('mkfifo', [fifo]).status).toBe(0)
    }
    // Opened plainly, the pipe held the process until a writer came (here: the timeout's kill).
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script, 'run', JSON.stringify({ code, as: join(dir, 'stub.js'), name: 'x', cacheDir, seedDir, writeAt: 'loaded' })], { encoding: 'utf8', timeout: 10_000 })
    expect(run.signal).toBeNull()
    expect(run.stdout).toBe('miss stub.js:42')
    // The run wrote its cache in the pipe's place (a rename replaces it).
    expect(runCached(code, cacheDir, seedDir)).toBe('hit stub.js:42')
  })

  it('a temporary cache file a process killed before its rename left is removed by the next write of a cache there', () => {
    const dir = tmpDir()
    const code = join(dir, 'code.js')
    const cacheDir = join(dir, 'cache')
    writeFileSync(code, 'globalThis.answer = require("node:path").basename(__filename) + ":" + (() => 6 * 7)()\n')
    // A real process killed (SIGKILL) between the temporary's write and its rename, as a query
    // sandbox its parent ends at that instant is.
    const killer = join(dir, 'kill-at-rename.cjs')
    writeFileSync(killer, 'const fs = require("node:fs"); const rename = fs.renameSync; fs.renameSync = (a, b) => { if (String(a).endsWith(".tmp")) process.kill(process.pid, "SIGKILL"); return rename(a, b) }; require("node:module").syncBuiltinESMExports()\n')
    const killed = spawnSync(process.execPath, ['-r', killer, '--input-type=module', '-e', script, 'run', JSON.stringify({ code, as: join(dir, 'stub.js'), name: 'x', cacheDir, writeAt: 'loaded' })])
    expect(killed.signal).toBe('SIGKILL')
    const temps = (): string[] => readdirSync(cacheDir).filter(f => f.endsWith('.tmp'))
    expect(temps()).toHaveLength(1)
    expect(readdirSync(cacheDir).filter(f => f.endsWith('.v8'))).toEqual([])
    // The next run, which finds no cache, writes one, and takes the dead writer's temporary away.
    expect(runCached(code, cacheDir)).toBe('miss stub.js:42')
    expect(temps()).toEqual([])
    expect(runCached(code, cacheDir)).toBe('hit stub.js:42')
  })

  it('starts from the build\'s seed where it has no cache of its own, and then writes its own; a damaged seed is never given to V8', () => {
    const dir = tmpDir()
    const code = join(dir, 'code.js')
    const cacheDir = join(dir, 'cache')
    const seedDir = join(dir, 'seed')
    writeFileSync(code, 'globalThis.answer = require("node:path").basename(__filename) + ":" + (() => 6 * 7)()\n')
    writeSeed(code, seedDir)
    expect(runCached(code, cacheDir, seedDir)).toBe('seed stub.js:42')
    expect(runCached(code, cacheDir, seedDir)).toBe('hit stub.js:42')
    const [file = ''] = readdirSync(seedDir)
    expect(readdirSync(cacheDir)).toEqual([file])
    // Without its own cache, a damaged seed counts as none.
    rmSync(cacheDir, { recursive: true })
    const bytes = readFileSync(join(seedDir, file))
    bytes.fill(0x5a, 4 + 40)
    writeFileSync(join(seedDir, file), bytes)
    expect(runCached(code, cacheDir, seedDir)).toBe('miss stub.js:42')
    expect(runCached(code, cacheDir, seedDir)).toBe('hit stub.js:42')
  })

  it('a script the build wrote in its module wrapper runs as itself, not wrapped a second time', () => {
    const dir = tmpDir()
    const code = join(dir, 'code.js')
    const cacheDir = join(dir, 'cache')
    // Wrapped twice, the module function would only be defined, never called: no answer.
    writeFileSync(code, wrapModule('globalThis.answer = require("node:path").basename(__filename) + ":" + (() => 6 * 7)() + ":" + typeof module.exports'))
    expect(runCached(code, cacheDir)).toBe('miss stub.js:42:object')
    expect(runCached(code, cacheDir)).toBe('hit stub.js:42:object')
  })

  it('the build writes every fast script in its module wrapper, its __name defining a name only where it differs and called only where needed', () => {
    const [head = '', tail = ''] = wrapModule('\u0000').split('\u0000')
    for (const f of readdirSync(join(ROOT, 'dist', 'fast', 'code'))) {
      const code = readFileSync(join(ROOT, 'dist', 'fast', 'code', f), 'latin1')
      expect(code.startsWith(head) && code.endsWith(tail), f).toBe(true)
      // esbuild's keepNames helper, as the build rewrote it, behaves as esbuild's own.
      const helper = /var __name=\(target,(\w+)\)=>[^;]*;/.exec(code)?.[0]
      expect(helper, f).toMatch(/target\.name===/)
      const __name = new Function('__defProp', `${helper ?? ''} return __name`)(Object.defineProperty) as (target: object, value: string) => object
      function kept (): void {}
      const before = Object.getOwnPropertyDescriptor(kept, 'name')
      expect(__name(kept, 'kept')).toBe(kept)
      expect(Object.getOwnPropertyDescriptor(kept, 'name')).toEqual(before)
      const Renamed2 = class {}
      expect((__name(Renamed2, 'Renamed') as { name: string }).name).toBe('Renamed')
      expect(Object.getOwnPropertyDescriptor(Renamed2, 'name')).toEqual({ value: 'Renamed', writable: false, enumerable: false, configurable: true })
      expect((__name(() => 1, 'arrow') as { name: string }).name).toBe('arrow')
      // The calls that would do nothing are gone: `__name(f,"f");` after a declaration that kept
      // its name, and the static block naming an anonymous class already assigned to that name.
      const noop = [...code.matchAll(/(?<=^|[;{}\n])__name\(([\w$]+),"([\w$]+)"\);/g)].filter(m => m[1] === m[2]).map(m => m[0])
      expect(noop, f).toEqual([])
      const namedClass = [...code.matchAll(/(?<![\w$.])([\w$]+)=class(?: extends [^{]+)?\{static\{__name\(this,"([\w$]+)"\)\}/g)].filter(m => m[1] === m[2]).map(m => m[0])
      expect(namedClass, f).toEqual([])
      // Nor a wrapper of a function expression where the language gives the same name
      // (scripts/unwrap-names.ts): `load: __name(async () => …, "load")` and the like.
      expect(unwrapNames(code).removed, f).toBe(0)
    }
  })

  it('classes and functions of a fast bundle keep their names (an error\'s class decides its exit status)', async () => {
    const dir = join(tmpDir(), 'node')
    // A UsageError (exit 2) and a StorageError (NOT_INITIALISED, exit 4): each status is found by
    // the class's name (util/error-status.ts), which a class named wrong would turn into 1.
    const bad = await petal(['--dir', dir, 'status', '--log-level', 'nonsense'])
    expect(bad.code, bad.stderr).toBe(2)
    const missing = await petal(['--dir', dir, 'status'])
    expect(missing.code, missing.stderr).toBe(4)
  })

  it('the build left a seed for every script of the fast bundle', () => {
    const seeds = readdirSync(join(ROOT, 'dist', 'fast', 'seed'))
    const scripts = readdirSync(join(ROOT, 'dist', 'fast', 'code')).map(f => f.replace(/^cmd-/, '').replace(/\.js$/, ''))
    expect(scripts.length).toBeGreaterThan(20)
    for (const name of scripts) expect(seeds.filter(f => new RegExp(`^${name}-v\\d+\\.\\d+\\.\\d+-\\w+-[0-9a-f]{8}\\.v8$`).test(f)), name).toHaveLength(1)
  })
})

// A command that is done, with its output written and nothing else pending, leaves at once
// (start.ts, `finished`): Node's usual end would first run V8's scheduled tasks (a scavenge) and
// free the heap. 'beforeExit' is emitted only on the usual way out, so a preload that records it
// tells the two apart.
describe('the end of a command', () => {
  function preload (work: string, extra = ''): { file: string, marks: string } {
    const marks = join(work, 'marks.txt')
    const file = join(work, 'marks.cjs')
    writeFileSync(file, `const fs = require('node:fs'); const mark = m => fs.appendFileSync(${JSON.stringify(marks)}, m + '\\n')
process.on('beforeExit', () => mark('beforeExit')); process.on('exit', code => mark('exit ' + code)); ${extra}\n`)
    return { file, marks }
  }
  const run = (file: string, args: string[], stdout: 'pipe' | number): { code: number | null, stdout: string } => {
    const r = spawnSync(process.execPath, ['--require', file, CLI, ...args], { stdio: ['ignore', stdout, 'pipe'], encoding: 'utf8' })
    return { code: r.status, stdout: r.stdout ?? '' }
  }

  it('leaves as soon as the command is done, its output whole, to a file and to a pipe, with its exit status', async () => {
    const dir = join(tmpDir(), 'node')
    expect((await petal(['--dir', dir, 'init'])).code).toBe(0)
    const expected = (await petal(['--dir', dir, '--json', 'status'])).stdout
    const work = tmpDir()
    const { file, marks } = preload(work)
    const out = join(work, 'out.json')
    const fd = openSync(out, 'w')
    try {
      expect(run(file, ['--dir', dir, '--json', 'status'], fd).code).toBe(0)
    } finally {
      closeSync(fd)
    }
    expect(readFileSync(out, 'utf8')).toBe(expected)
    expect(readFileSync(marks, 'utf8')).toBe('exit 0\n')
    rmSync(marks)
    const piped = run(file, ['--dir', dir, '--json', 'status'], 'pipe')
    expect(piped.code).toBe(0)
    expect(piped.stdout).toBe(expected)
    expect(readFileSync(marks, 'utf8')).toBe('exit 0\n')
    rmSync(marks)
    // A failure too: its message is written, its status kept.
    const r = spawnSync(process.execPath, ['--require', file, CLI, '--dir', join(work, 'none'), 'status'], { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' })
    expect(r.status).toBe(4)
    expect(r.stderr).toMatch(/\[[A-Z_]+\]\n {2}hint: /)
    expect(readFileSync(marks, 'utf8')).toBe('exit 4\n')
  })

  it('ends with 141 when the reader of its output went away before the last write (EPIPE), not with the command\'s status', async () => {
    const dir = join(tmpDir(), 'node')
    expect((await petal(['--dir', dir, 'init'])).code).toBe(0)
    const { file, marks } = preload(tmpDir())
    for (const args of [['status'], ['--json', 'status'], ['blocks']]) {
      // The reading end is closed before the command writes (a reader that is gone: `| true`).
      const child = spawn(process.execPath, ['--require', file, CLI, '--dir', dir, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
      child.stdout.destroy()
      let stderr = ''
      child.stderr.on('data', (b: Buffer) => { stderr += b.toString() })
      const code = await new Promise<number | null>(resolve => { child.once('close', resolve) })
      expect(code, args.join(' ') + stderr).toBe(141)
      expect(stderr).not.toContain('EPIPE')
      expect(readFileSync(marks, 'utf8')).toBe('exit 141\n')
      rmSync(marks)
    }
  })

  it('keeps its status when the reader of its messages went away (stderr closed: EPIPE)', async () => {
    const { file, marks } = preload(tmpDir())
    const child = spawn(process.execPath, ['--require', file, CLI, '--dir', join(tmpDir(), 'none'), 'status'], { stdio: ['ignore', 'pipe', 'pipe'] })
    child.stderr.destroy()
    child.stdout.resume()
    const code = await new Promise<number | null>(resolve => { child.once('close', resolve) })
    expect(code).toBe(4)
    // A stream whose write failed ends the usual way (its error is handled on a later tick).
    expect(readFileSync(marks, 'utf8')).toBe('beforeExit\nexit 4\n')
  })

  // In a terminal, stderr exists before the command runs (stderrIsTTY makes it to ask), and its
  // handle is ours as much as stdout's: the early exit applies there too. `script` gives the
  // command a terminal (util-linux; not on every system).
  it.skipIf(!existsSync('/usr/bin/script'))('leaves as soon as the command is done in a terminal too', async () => {
    const dir = join(tmpDir(), 'node')
    expect((await petal(['--dir', dir, 'init'])).code).toBe(0)
    const { file, marks } = preload(tmpDir())
    const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`
    const command = [process.execPath, '--require', file, CLI, '--dir', dir, 'status'].map(quote).join(' ')
    const r = spawnSync('/usr/bin/script', ['-q', '-e', '-c', command, '/dev/null'], { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' })
    expect(r.status, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/^chain /)
    expect(readFileSync(marks, 'utf8')).toBe('exit 0\n')
  })

  // stdout a pipe of the shell's (a FIFO), written with write(2) directly (src/cli/stdout.ts),
  // read by a reader that waits 0.5 s first, so that 300 KB fill the pipe (64 KiB) many times over.
  const BIG = 'SELECT hex(zeroblob(150000)) AS x'
  const shellPipe = (work: string, pre: string[], args: string[], reader: string): { code: string, stdout: string } => {
    const status = join(work, 'status')
    const r = spawnSync('sh', ['-c', `{ "$@"; echo $? > ${JSON.stringify(status)}; } | ${reader}`, 'sh', process.execPath, ...pre, CLI, ...args], { encoding: 'utf8', maxBuffer: 1 << 24 })
    expect(r.status, r.stderr).toBe(0)
    return { code: readFileSync(status, 'utf8').trim(), stdout: r.stdout }
  }

  it('writes all its output into a full pipe, blocking or not, and stops quietly when the reader goes away', async () => {
    const dir = join(tmpDir(), 'node')
    expect((await petal(['--dir', dir, 'init'])).code).toBe(0)
    const expected = `${JSON.stringify({ x: '00'.repeat(150000) })}\n`
    const work = tmpDir()
    const slow = shellPipe(work, [], ['--dir', dir, 'query', BIG], '{ sleep 0.5; cat; }')
    expect(slow.code).toBe('0')
    expect(slow.stdout).toBe(expected)
    // The pipe made non-blocking (libuv does so where a Node process opens one, and the flag is
    // the pipe's, shared): a write that would block (EAGAIN) hands the rest to Node's stream,
    // which waits for the reader. Without that, the output stopped at 64 KiB and the command failed.
    const nonBlocking = join(work, 'non-blocking.cjs')
    writeFileSync(nonBlocking, "new (require('node:net').Socket)({ fd: 1, readable: false, writable: true })\n")
    const nb = shellPipe(work, ['--require', nonBlocking], ['--dir', dir, 'query', BIG], '{ sleep 0.5; cat; }')
    expect(nb.code).toBe('0')
    expect(nb.stdout).toBe(expected)
    // The reader leaves after 10 bytes: EPIPE ends the command with 141, as SIGPIPE would.
    const head = shellPipe(work, [], ['--dir', dir, 'query', BIG], 'head -c 10')
    expect(head.code).toBe('141')
    expect(head.stdout).toBe(expected.slice(0, 10))
  })

  it('ends the usual way while something else is still pending (a timer here)', async () => {
    const dir = join(tmpDir(), 'node')
    expect((await petal(['--dir', dir, 'init'])).code).toBe(0)
    const { file, marks } = preload(tmpDir(), "setTimeout(() => mark('timer'), 300)")
    const r = run(file, ['--dir', dir, 'status'], 'pipe')
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^chain /)
    expect(readFileSync(marks, 'utf8')).toBe('timer\nbeforeExit\nexit 0\n')
  })
})
