import { accessSync, closeSync, constants as fsConstants, fstatSync, fsyncSync, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync, writeSync, type Stats } from 'node:fs'
import { dirname, join } from 'node:path'
import { constants, Script } from 'node:vm'
// Past the util barrel: the start-up router carries this file, compiled from source on every
// start, and the barrel's modules that do work when loaded (the error classes' registry) came
// with it (test/unit/imports.test.ts, pastIndex).
import { atomicTempPath, removeStaleTemps } from '../util/stale-temps.js'
import { offerCodeCacheWrite } from '../util/code-cache-slot.js'

/**
 * Running a CommonJS bundle with V8's code cache (docs/performance.md, "Start-up of local
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
 * node:stream's modules, ~9 M instructions on every start; docs/performance.md, "Session 22:
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
export interface CachedRun {
  /** The bundle: CommonJS code, in its module wrapper (`wrapModule`) or without it. */
  code: string
  /** The path it runs as (its `__filename`): the stub that started it, beside its sibling scripts. */
  as: string
  /**
   * The stub's own `require` (that of the module at `as`), given to the bundle. Without it one is
   * made with node:module's createRequire: loading node:module (and the ES module loader's
   * modules it brings) cost ~0.9 M instructions on every start of the query sandbox and on the
   * CLI's path to the sandbox's fork (docs/performance.md, "Session 42: petal query").
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

const WRAP_HEAD = '(function (exports, require, module, __filename, __dirname) { '
const WRAP_TAIL = '\n});'

/**
 * `code` in the module wrapper that runCached compiles. The build writes the fast scripts wrapped
 * (scripts/build-cli.ts), so that V8 compiles the string read from the file: wrapping at run time
 * made a second copy of the whole source (a 300 KB string for `status`, flattened before
 * compiling) in the young generation on every start.
 */
export function wrapModule (code: string): string {
  return WRAP_HEAD + code + WRAP_TAIL
}

function isWrapped (source: string): boolean {
  return source.startsWith(WRAP_HEAD) && source.endsWith(WRAP_TAIL)
}

/**
 * Whether V8 took the script's own cache ('hit'), the build's seed ('seed'), or compiled it from
 * source ('miss'); after a seed or a miss the script's own cache is written.
 */
export type CacheOutcome = 'hit' | 'seed' | 'miss'

export function runCached (r: CachedRun): CacheOutcome {
  const fd = openSync(r.code, 'r')
  let source: string
  let cacheFile: string
  let seedFile: string | undefined
  let own: Buffer | undefined
  let seed: Buffer | undefined
  try {
    const st = fstatSync(fd)
    const file = cacheFileName(r.name, st)
    cacheFile = join(r.cacheDir, file)
    seedFile = r.seedDir === undefined ? undefined : join(r.seedDir, file)
    // The cache is opened (and its size taken from the open file) before the buffer is made: one
    // buffer holds the source and then, once the source is a string, the cache, so a start
    // touches fewer fresh pages of memory than with a buffer for each (~120 fewer for
    // signimportblock).
    const cache = openCache(cacheFile)
    try {
      const scratch = Buffer.allocUnsafeSlow(Math.max(st.size, (cache?.size ?? 0) / 2))
      source = scratch.toString('latin1', 0, readAll(fd, scratch, st.size, 0))
      own = cache === undefined ? undefined : readCache(cache, scratch)
    } finally {
      if (cache !== undefined) closeSync(cache.fd)
    }
  } finally {
    closeSync(fd)
  }
  if (own === undefined && seedFile !== undefined) {
    const cache = openCache(seedFile)
    if (cache !== undefined) {
      try { seed = readCache(cache) } finally { closeSync(cache.fd) }
    }
  }
  const cachedData = own ?? seed
  const script = compile(r.code, source, cachedData)
  const outcome: CacheOutcome = cachedData === undefined || script.cachedDataRejected === true ? 'miss' : own !== undefined ? 'hit' : 'seed'
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
  const wrapper: unknown = script.runInThisContext()
  if (typeof wrapper !== 'function') throw new TypeError(`${r.code} did not compile to a module function`)
  const module = { exports: {} }
  const require = r.require ?? process.getBuiltinModule('node:module').createRequire(r.as)
  Reflect.apply(wrapper, module.exports, [module.exports, require, module, r.as, dirname(r.as)])
  return outcome
}

/**
 * Write the seed of script `code` into `seedDir` (the build does, for each script of dist/fast):
 * for processes started with this process's Node options, as the cache's name says. Throws if
 * V8 would refuse it.
 */
export function writeSeed (r: { code: string, name: string, seedDir: string }): void {
  const { source, file } = readScript(r.code, r.name)
  writeCache(join(r.seedDir, file), compile(r.code, source, undefined), { bestEffort: false })
  const cache = openCache(join(r.seedDir, file))
  let data: Buffer | undefined
  try { data = cache === undefined ? undefined : readCache(cache) } finally { if (cache !== undefined) closeSync(cache.fd) }
  const check = compile(r.code, source, data)
  if (check.cachedDataRejected !== false) throw new Error(`V8 refuses the seed of ${r.code}`)
}

/** The script's source, and the name of its cache. */
function readScript (code: string, name: string): { source: string, file: string } {
  const fd = openSync(code, 'r')
  try {
    const st = fstatSync(fd)
    return { source: readFileSync(fd, 'latin1'), file: cacheFileName(name, st) }
  } finally {
    closeSync(fd)
  }
}

/**
 * The name of a script's cache: Node version, architecture, options (the command line's and
 * NODE_OPTIONS', which execArgv does not show: a V8 flag in either makes V8 refuse a cache made
 * without it, and one name for both rewrote the cache at every switch), the script file's size and time.
 */
function cacheFileName (name: string, st: Stats): string {
  const tag = cacheTag(`${CACHE_LAYOUT}\u0000${process.execArgv.join('\u0000')}\u0000${process.env.NODE_OPTIONS ?? ''}\u0000${st.size}\u0000${st.mtimeMs}`)
  return `${name}-${process.version}-${process.arch}-${tag}.v8`
}

/**
 * `file` open for reading, and its size; undefined if it cannot be, is not a regular file, or is
 * larger than any cache (then there is no cache there). Opened without waiting: a named pipe in
 * the cache's place (opened plainly, it held every start of `petal` until a writer came) is no cache.
 */
function openCache (file: string): { fd: number, size: number } | undefined {
  let fd: number
  try {
    fd = openSync(file, NO_WAIT)
  } catch {
    return undefined
  }
  try {
    const st = fstatSync(fd)
    if (st.isFile() && st.size <= CACHE_FILE_MAX_BYTES) return { fd, size: st.size }
  } catch {}
  closeSync(fd)
  return undefined
}

/** O_NONBLOCK: a regular file's reads ignore it; the open of a named pipe returns at once. */
const NO_WAIT = fsConstants.O_RDONLY | fsConstants.O_NONBLOCK

/**
 * Far above any cache (the largest, `run`'s, is ~1.1 MiB): a file damaged to a larger size (a
 * sparse gigabyte) is no cache, not half its size read into memory on every start before its
 * copies are compared.
 */
const CACHE_FILE_MAX_BYTES = 64 << 20

function compile (code: string, source: string, cachedData: Buffer | undefined): Script {
  return new Script(isWrapped(source) ? source : wrapModule(source), { filename: code, cachedData, importModuleDynamically: constants.USE_MAIN_CONTEXT_DEFAULT_LOADER })
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
function writeCache (file: string, script: Script, o: { bestEffort: boolean } = { bestEffort: true }): void {
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

/**
 * The V8 cache data in the open cache file (its first half), if the second half is the same; read
 * into the start of `scratch` when it fits.
 */
function readCache (cache: { fd: number, size: number }, scratch?: Buffer): Buffer | undefined {
  try {
    const { fd, size } = cache
    const half = size / 2
    if (size === 0 || !Number.isInteger(half)) return undefined
    const into = scratch !== undefined && scratch.length >= half ? scratch.subarray(0, half) : Buffer.allocUnsafeSlow(half)
    if (readAll(fd, into, half, 0) !== half) return undefined
    const chunk = Buffer.allocUnsafeSlow(Math.min(half, MIRROR_CHUNK))
    for (let at = 0; at < half; at += chunk.length) {
      const n = Math.min(chunk.length, half - at)
      if (readAll(fd, chunk, n, half + at) !== n || !chunk.subarray(0, n).equals(into.subarray(at, at + n))) return undefined
    }
    return into
  } catch {
    return undefined
  }
}

/** Read `len` bytes at `pos` into `buf` (fewer at the end of the file); the number read. */
function readAll (fd: number, buf: Uint8Array, len: number, pos: number): number {
  let got = 0
  for (let n = -1; n !== 0 && got < len; got += n) n = readSync(fd, buf, got, len - got, pos + got)
  return got
}

/** The second copy is compared in pieces of this size: fewer fresh pages than reading it whole. */
const MIRROR_CHUNK = 64 * 1024
/** In every cache's name: a file of an earlier layout (a CRC-32 after the data) is never read as this one. */
const CACHE_LAYOUT = 'mirror'

function writeFullySync (fd: number, data: Uint8Array): void {
  for (let at = 0; at < data.length;) at += writeSync(fd, data, at, data.length - at)
}

/** FNV-1a of `s` in hex: a file name tag. */
function cacheTag (s: string): string {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0
  return h.toString(16).padStart(8, '0')
}
