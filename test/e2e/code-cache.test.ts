import { execFileSync, spawnSync } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { describe, expect, it } from 'vitest'
import { petal } from '../helpers/cli.js'
import { tmpDir } from '../helpers/tmp.js'
import { wrapModule } from '../../src/cli/code-cache.js'
import { unwrapNames } from '../../scripts/unwrap-names.js'

const ROOT = join(import.meta.dirname, '..', '..')

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

  // A read-only bind mount in a mount namespace of the child's own (root: this machine's CI runs as root).
  const roMount = spawnSync('unshare', ['--mount', 'sh', '-c', 'd=$(mktemp -d) && mount --bind -o ro "$d" "$d"; s=$?; umount "$d" 2>/dev/null; rmdir "$d"; exit $s']).status === 0

  it.runIf(roMount)('in a read-only cache directory a run serialises and writes nothing: no cache is built only to fail', () => {
    const dir = tmpDir()
    const code = join(dir, 'code.js')
    const cacheDir = join(dir, 'cache')
    mkdirSync(cacheDir)
    writeFileSync(code, 'globalThis.answer = require("node:path").basename(__filename) + ":" + (() => 6 * 7)()\n')
    // Counts V8's serialisations of a cache (a read-only installation's every command made one at
    // its exit, then failed to open the temporary: review44's strace).
    const counter = join(dir, 'count.cjs')
    writeFileSync(counter, 'const { Script } = require("node:vm"); const own = Script.prototype.createCachedData; let n = 0; Script.prototype.createCachedData = function () { n++; return own.call(this) }; process.on("exit", () => process.stderr.write("serialised:" + n))\n')
    const inner = [process.execPath, '-r', counter, '--input-type=module', '-e', script, 'run', JSON.stringify({ code, as: join(dir, 'stub.js'), name: 'x', cacheDir, writeAt: 'loaded' })]
    const quoted = inner.map(a => `'${a.replaceAll("'", "'\\''")}'`).join(' ')
    const run = spawnSync('unshare', ['--mount', 'sh', '-c', `mount --bind -o ro '${cacheDir}' '${cacheDir}' && exec ${quoted}`], { encoding: 'utf8' })
    expect(run.stdout).toBe('miss stub.js:42')
    expect(run.stderr).toBe('serialised:0')
    expect(readdirSync(cacheDir)).toEqual([])
    // Writable again (outside that namespace), the same run writes its cache.
    expect(runCached(code, cacheDir)).toBe('miss stub.js:42')
    expect(runCached(code, cacheDir)).toBe('hit stub.js:42')
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
