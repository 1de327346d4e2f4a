import { accessSync, closeSync, constants as fsConstants, fstatSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { Script } from 'node:vm'
import { cacheFileName, compile, openCache, readCache, readScript, runScript, type CacheRead } from './code-cache-read.js'
// Past the util barrel: the start-up router carries this file, compiled from source on every
// start, and the barrel's modules that do work when loaded (the error classes' registry) came
// with it (test/unit/imports.test.ts, pastIndex).
import { atomicTempPath, removeStaleTemps } from '../util/stale-temps.js'
import { offerCodeCacheWrite } from '../util/code-cache-slot.js'

/**
 * Running a CommonJS bundle with V8's code cache (docs/performance/startup.md, "Start-up of local
 * commands"). Node 20 compiles every module from source on every start (it has no compile cache
 * before Node 22); a script compiled through `vm.Script` can be given the bytecode V8 produced on
 * an earlier run (`cachedData`) and skips parsing and compiling what that run compiled.
 *
 * The cache files live in the installation (dist/fast/cache), beside the code they are compiled
 * from, so whoever can write them could as well write the code: nothing is trusted that the code
 * itself does not already trust. A cache is written once, after a run that had none (or whose
 * cache V8 refused), and only if that directory is writable; it is named after the Node version,
 * the V8 flags of the process, and the bundle's size and time, and V8 refuses any cache that does
 * not fit its own version, flags or the source's length, so a stale one is never used. V8 does
 * not check the rest (a damaged cache crashes the process), so each file holds the cache data
 * twice, one copy after the other, and a run gives V8 the first copy only if the second is the
 * same, byte for byte: a torn, truncated or damaged file counts as no cache. (The threat is a torn
 * write or a damaged disk, not a forger, who could as well edit the code. The copy costs disk, not
 * start-up: comparing it is a few reads and memcmp, where a CRC-32 needed node:zlib, which loads
 * node:stream's modules, ~9 M instructions on every start; docs/performance/startup.md, "Session 22:
 * start-up". Damage alike in both copies would have to repeat at an offset of half the file.)
 * (The copy V8 gets is at the start of a buffer: V8 copies cache data that does not start at an
 * 8-byte boundary, ~85 fresh pages of memory on every start of `status`.)
 *
 * The bundle is ASCII (the build checks it), so it is read as Latin-1: V8 then makes a one-byte
 * string without decoding UTF-8.
 *
 * The build leaves a seed for each script (`writeSeed`, in dist/fast/seed): the cache of its
 * compilation alone, without what a run compiles. A run that finds no cache of its own starts
 * from the seed (about half of what a cache saves, on a node's start) and still writes its own
 * cache afterwards, so a fresh installation's first runs do not all compile from source.
 */
export { wrapModule } from './code-cache-read.js'

export interface CachedRun extends CacheRead {
  /** The bundle: CommonJS code, in its module wrapper (`wrapModule`) or without it. */
  code: string
  /** The path it runs as (its `__filename`): the stub that started it, beside its sibling scripts. */
  as: string
  /**
   * The stub's own `require` (that of the module at `as`), given to the bundle. Without it one is
   * made with node:module's createRequire: loading node:module (and the ES module loader's
   * modules it brings) cost ~0.9 M instructions on every start of the query sandbox and on the
   * CLI's path to the sandbox's fork (docs/performance/query.md, "Session 42: petal query").
   */
  require?: NodeJS.Require
  /** The cache's name: one per command, each holding what its own run compiled. */
  name: string
  cacheDir: string
  /** Where the build's seeds are (`writeSeed`): used when `cacheDir` has no cache for the script. */
  seedDir?: string
  /**
   * When a missing cache is written: at exit after a successful run (a command: it then holds
   * what the command's work compiled too), or as soon as the top level has run (a child process,
   * which its parent may kill), or once a worker thread has handled its first message, before
   * its parent can be done with it (`first-message`: the cache then holds the functions that work
   * compiled; written at load, it held only the top level, and every verify worker compiled its
   * per-block code from source again). Outside a worker thread, `first-message` is `loaded`.
   * `offered`: left to the script (util/code-cache-slot.ts), if the cache's directory can be
   * written: the query sandbox, a process its parent kills once it has answered, writes it after
   * its first statement while its parent waits.
   */
  writeAt: 'exit' | 'loaded' | 'first-message' | 'offered'
}

/**
 * Whether V8 took the script's own cache ('hit'), the build's seed ('seed'), or compiled it from
 * source ('miss'); after a seed or a miss the script's own cache is written.
 */
export type CacheOutcome = 'hit' | 'seed' | 'miss'

/**
 * `refused`: the script as V8 compiled it from source after refusing its own cache (runOwnCache,
 * in a stub that tried that first): it is run, and its cache written, as after any refusal.
 */
export function runCached (r: CachedRun, refused?: Script): CacheOutcome {
  const { source, file, own } = refused === undefined ? readScript(r) : { source: '', file: cacheFileName(r.name, statSync(r.code)), own: undefined }
  const cacheFile = join(r.cacheDir, file)
  const seedFile = r.seedDir === undefined ? undefined : join(r.seedDir, file)
  let seed: Buffer | undefined
  if (refused === undefined && own === undefined && seedFile !== undefined) {
    const cache = openCache(seedFile)
    if (cache !== undefined) {
      try { seed = readCache(cache) } finally { closeSync(cache.fd) }
    }
  }
  const cachedData = own ?? seed
  const script = refused ?? compile(r.code, source, cachedData)
  const outcome: CacheOutcome = refused !== undefined || cachedData === undefined || script.cachedDataRejected === true ? 'miss' : own !== undefined ? 'hit' : 'seed'
  if (outcome !== 'hit') {
    const write = (): void => { writeCache(cacheFile, script) }
    // Loaded only here: the command router must stay small (docs/performance.md).
    const port = r.writeAt === 'first-message' ? process.getBuiltinModule('node:worker_threads').parentPort : null
    if (r.writeAt === 'exit') process.once('exit', code => { if (code === 0) write() })
    // Registered before the script's own listener: the write comes after the synchronous part of
    // the message's work (all of plain verify's).
    else if (port !== null) port.once('message', () => { setImmediate(write) })
    else if (r.writeAt !== 'offered') setImmediate(write)
    else if (writableDir(r.cacheDir)) offerCodeCacheWrite(write)
  }
  runScript(script, r)
  return outcome
}

/**
 * Write the seed of script `code` into `seedDir` (the build does, for each script of dist/fast):
 * for processes started with this process's Node options, as the cache's name says. Throws if
 * V8 would refuse it.
 */
export function writeSeed (r: { code: string, name: string, seedDir: string }): void {
  const { source, file } = readSource(r.code, r.name)
  writeCache(join(r.seedDir, file), compile(r.code, source, undefined), { bestEffort: false })
  const cache = openCache(join(r.seedDir, file))
  let data: Buffer | undefined
  try { data = cache === undefined ? undefined : readCache(cache) } finally { if (cache !== undefined) closeSync(cache.fd) }
  const check = compile(r.code, source, data)
  if (check.cachedDataRejected !== false) throw new Error(`V8 refuses the seed of ${r.code}`)
}

/** The script's source, and the name of its cache. */
function readSource (code: string, name: string): { source: string, file: string } {
  const fd = openSync(code, 'r')
  try {
    const st = fstatSync(fd)
    return { source: readFileSync(fd, 'latin1'), file: cacheFileName(name, st) }
  } finally {
    closeSync(fd)
  }
}

/**
 * Whether this process may create files in `dir` (or, where it is missing, make it in its parent,
 * as writeCache does): a read-only installation is offered no write that could only fail.
 */
function writableDir (dir: string): boolean {
  for (const d of [dir, dirname(dir)]) {
    try {
      accessSync(d, fsConstants.W_OK)
      return true
    } catch (err) {
      if (!(err instanceof Error && 'code' in err && err.code === 'ENOENT')) return false
    }
  }
  return false
}

/**
 * Write the code cache atomically (concurrent first runs each write a whole file); best effort
 * unless told. The temporary is named as writeFileAtomic's are, so that removeStaleTemps takes
 * one a process killed before its rename left (a query sandbox its parent ended): each write,
 * rare, removes those first (a run that finds its cache writes nothing, and lists nothing).
 */
export function writeCache (file: string, script: Script, o: { bestEffort: boolean } = { bestEffort: true }): void {
  // A read-only installation: one access() instead of a listing, the cache's serialisation and an
  // open that could only fail, at the exit of every command it runs (review44).
  if (o.bestEffort && !writableDir(dirname(file))) return
  const tmp = atomicTempPath(file)
  try {
    mkdirSync(dirname(file), { recursive: true })
    removeStaleTemps(dirname(file))
    const data = script.createCachedData()
    // Synced before the rename: after a crash the name holds a whole file or none.
    const fd = openSync(tmp, 'w')
    try {
      writeFullySync(fd, data)
      writeFullySync(fd, data)
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    renameSync(tmp, file)
  } catch (err) {
    // A full disk or a failed rename: no temporary file left behind at every run.
    try { rmSync(tmp, { force: true }) } catch { /* no directory to leave it in */ }
    // A read-only installation: every run compiles from source, as without the cache.
    if (!o.bestEffort) throw err
  }
}

function writeFullySync (fd: number, data: Uint8Array): void {
  for (let at = 0; at < data.length;) at += writeSync(fd, data, at, data.length - at)
}
