import { closeSync, constants as fsConstants, fstatSync, openSync, readSync, type Stats } from 'node:fs'
import { dirname, join } from 'node:path'
import { constants, Script } from 'node:vm'

/**
 * The reading half of the code cache (code-cache.ts): the cache's name and file layout, and
 * `runOwnCache`, the path of a start that finds its script's own cache. The stubs of the fast
 * bundle's child-process and worker scripts (dist/fast/child.js, …-worker.js) are compiled from
 * source on every start, so they carry this file alone: the rest (the build's seed, a compile from
 * source, the write and its temporary files) is dist/fast/run-cached.js, loaded when there is no
 * own cache to take (docs/performance/query.md, "Session 43: petal query's first run").
 * This file loads no module of ours.
 */
export interface CacheRead {
  /** The bundle (see CachedRun in code-cache.ts). */
  code: string
  /** The path it runs as (its `__filename`). */
  as: string
  /** The stub's own `require`, given to the bundle; without it one is made with node:module's createRequire. */
  require?: NodeJS.Require
  /** The cache's name. */
  name: string
  cacheDir: string
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
 * Run the script from its own cache, if it has one that V8 takes: 'ran' once it has run.
 * Undefined, having run nothing, when it has none (or a damaged one); the script V8 compiled from
 * source, not run, when V8 refused the cache (compiling the same source again would be answered
 * from V8's in-memory cache, which says nothing of a refusal). The caller then goes the whole way,
 * code-cache.ts's runCached, which reads the seed or compiles from source and writes the cache.
 */
export function runOwnCache (r: CacheRead): 'ran' | Script | undefined {
  const read = readScript(r)
  if (read.own === undefined) return undefined
  const script = compile(r.code, read.source, read.own)
  if (script.cachedDataRejected === true) return script
  runScript(script, r)
  return 'ran'
}

/** A script's source, its cache's file name, and its own cache's data (undefined: none, or damaged). */
export function readScript (r: { code: string, name: string, cacheDir: string }): { source: string, file: string, own: Buffer | undefined } {
  const fd = openSync(r.code, 'r')
  try {
    const st = fstatSync(fd)
    const file = cacheFileName(r.name, st)
    // The cache is opened (and its size taken from the open file) before the buffer is made: one
    // buffer holds the source and then, once the source is a string, the cache, so a start
    // touches fewer fresh pages of memory than with a buffer for each (~120 fewer for
    // signimportblock).
    const cache = openCache(join(r.cacheDir, file))
    try {
      const scratch = Buffer.allocUnsafeSlow(Math.max(st.size, (cache?.size ?? 0) / 2))
      const source = scratch.toString('latin1', 0, readAll(fd, scratch, st.size, 0))
      return { source, file, own: cache === undefined ? undefined : readCache(cache, scratch) }
    } finally {
      if (cache !== undefined) closeSync(cache.fd)
    }
  } finally {
    closeSync(fd)
  }
}

/** Run a compiled bundle as the module at `r.as`. */
export function runScript (script: Script, r: CacheRead): void {
  const wrapper: unknown = script.runInThisContext()
  if (typeof wrapper !== 'function') throw new TypeError(`${r.code} did not compile to a module function`)
  const module = { exports: {} }
  const require = r.require ?? process.getBuiltinModule('node:module').createRequire(r.as)
  Reflect.apply(wrapper, module.exports, [module.exports, require, module, r.as, dirname(r.as)])
}

/**
 * The name of a script's cache: Node version, architecture, options (the command line's and
 * NODE_OPTIONS', which execArgv does not show: a V8 flag in either makes V8 refuse a cache made
 * without it, and one name for both rewrote the cache at every switch), the script file's size and time.
 */
export function cacheFileName (name: string, st: Stats): string {
  const tag = cacheTag(`${CACHE_LAYOUT}\u0000${process.execArgv.join('\u0000')}\u0000${process.env.NODE_OPTIONS ?? ''}\u0000${st.size}\u0000${st.mtimeMs}`)
  return `${name}-${process.version}-${process.arch}-${tag}.v8`
}

/**
 * `file` open for reading, and its size; undefined if it cannot be, is not a regular file, or is
 * larger than any cache (then there is no cache there). Opened without waiting: a named pipe in
 * the cache's place (opened plainly, it held every start of `petal` until a writer came) is no cache.
 */
export function openCache (file: string): { fd: number, size: number } | undefined {
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

export function compile (code: string, source: string, cachedData: Buffer | undefined): Script {
  return new Script(isWrapped(source) ? source : wrapModule(source), { filename: code, cachedData, importModuleDynamically: constants.USE_MAIN_CONTEXT_DEFAULT_LOADER })
}

/**
 * The V8 cache data in the open cache file (its first half), if the second half is the same; read
 * into the start of `scratch` when it fits.
 */
export function readCache (cache: { fd: number, size: number }, scratch?: Buffer): Buffer | undefined {
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

/** FNV-1a of `s` in hex: a file name tag. */
function cacheTag (s: string): string {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0
  return h.toString(16).padStart(8, '0')
}
