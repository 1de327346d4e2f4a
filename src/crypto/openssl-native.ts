/**
 * The native P-256 ECDSA and SHA-256 (native/openssl.c, built by scripts/build-native.ts into
 * dist/native/petal-openssl.node): the OpenSSL functions Node links and exports, called without
 * node:crypto, whose own JavaScript costs a process that signs and hashes a few things (a
 * `signimportblock`) ~23 M instructions to load and compile (docs/performance/import.md, "Session 23:
 * the 100-row import"). Loaded at first use, in each thread. When it is absent, cannot be loaded,
 * fails its known answers, or PETAL_NATIVE_SHA256=0 (the SHA-256 addon's switch), `nativeOpenssl()`
 * is undefined and keys, signatures and hashes go through node:crypto, with the same results.
 */
import { join } from 'node:path'
import { nativeSwitch } from './sha256-native.js'

/** A private key held by OpenSSL (an EC_KEY, freed and its scalar cleared when collected). */
export type NativeKeyHandle = object & { readonly __nativeKey: unique symbol }
type NativeHasher = object & { readonly __nativeHasher: unique symbol }

export interface NativeOpenssl {
  /** The key of a 32-byte scalar and its point d·G (uncompressed), or undefined for d = 0 or d ≥ n. */
  keyFromScalar: (d: Uint8Array) => { handle: NativeKeyHandle, point: Buffer } | undefined
  /** ECDSA over a 32-byte digest: r ‖ s (IEEE P1363), OpenSSL's random nonce. */
  sign: (key: NativeKeyHandle, digest: Uint8Array) => Buffer
  /** The public key of a 65-byte uncompressed point, or undefined if the point is off the curve. */
  publicKey: (point: Uint8Array) => NativeKeyHandle | undefined
  /** Whether r ‖ s verifies under the key. mode (tests): 0 a per-key table once the key is used often (native/p256-table.c), 1 a table at once (none past the process's 32, never a colder key's), 2 OpenSSL's ECDSA_do_verify, 3 a table at once even past the 32. */
  verify: (key: NativeKeyHandle, digest: Uint8Array, rs: Uint8Array, mode?: 0 | 1 | 2 | 3) => boolean
  /** Two verdicts under one key, each exactly verify's: bit 0 the first's, bit 1 the second's (one s⁻¹ computation for both once the key has a table). */
  verify2: (key: NativeKeyHandle, digest1: Uint8Array, rs1: Uint8Array, digest2: Uint8Array, rs2: Uint8Array, mode?: 0 | 1 | 2 | 3) => number
  /** verify2 of the messages m1, m2 (hashed as UTF-8) and the signatures hex1, hex2 (lower-case hex of strict low-S DER), or -1, nothing counted, for anything else (a message over 1 KiB, a signature not in that form): the caller's JavaScript way then decides (native/verify-text.c). */
  verify2Text?: (key: NativeKeyHandle, m1: string, hex1: string, m2: string, hex2: string) => number
  /** SHA-256 of buf[from…to) into out[0…32). */
  sha256Into: (buf: Uint8Array, from: number, to: number, out: Uint8Array) => void
  /** RFC 6962 root of the leaves buf[ends[i-1]…ends[i]) (each with its 0x00 prefix; at least one) into out. */
  merkleRoot: (buf: Uint8Array, ends: Uint32Array, out: Uint8Array) => void
  hasherNew: () => NativeHasher
  hasherUpdate: (h: NativeHasher, buf: Uint8Array, from: number, to: number) => void
  /** The digest; the hasher starts over. */
  hasherDigest: (h: NativeHasher) => Buffer
  /** A small regular file read whole into buf (opened without following a link, never waiting on a pipe): its length, 0 < n < buf.length, or -1 for anything else (native/read-small.c). */
  readSmall: (path: string, buf: Uint8Array) => number
  /** A move that replaces nothing (renameat2 with RENAME_NOREPLACE): 0 moved, 1 something at `to`, 2 nothing at `from` (or no directory for `to`), -1 for the node:fs way (native/place-files.c). */
  renameNoReplace?: (from: string, to: string) => number
  /** `text` written (UTF-8) to `path`, created or truncated: 0, or -1 for the node:fs way (native/place-files.c). */
  writeSmall?: (path: string, text: string) => number
  /** A new file (O_EXCL) holding `parts` (`size` bytes in all): 0, or -1 with nothing left at `path` by the call, for the node:fs way (native/place-files.c). */
  writeNew?: (path: string, parts: readonly Uint8Array[], size: number) => number
  /** syncfs(2) of `dir`'s file system on libuv's thread pool, `done` called with 0 or the errno: 0 queued, -1 not (then `done` is never called; native/place-files.c). */
  syncfs?: (dir: string, done: (errno: number) => void) => number
  /** The names in `dir` not starting with `prefix`, or the errno of a listing that failed, or -1 for arguments it does not take (native/tmp-files.c). */
  tmpForeign?: (dir: string, prefix: string) => string[] | number
  /** Each path created empty (O_EXCL) on libuv's thread pool, in order, up to the first that fails; `done` gets the number made and that one's errno (0: none failed): 0 queued, -1 not (then `done` is never called; native/tmp-files.c). */
  makeEmpty?: (paths: readonly string[], done: (made: number, errno: number) => void) => number
  /** The key's scalar (a fresh copy: clear it after use). */
  scalar: (key: NativeKeyHandle) => Buffer
  /** ChaCha20-Poly1305 (RFC 8439): parts (in order) encrypted into out[0…n), the tag into out[n…n+16) (native/openssl-aead.c). */
  aeadSeal?: (key: Uint8Array, nonce: Uint8Array, ad: Uint8Array, parts: Uint8Array | Uint8Array[], out: Uint8Array) => void
  /** The parts hold ciphertext ‖ tag; the plaintext into out, or over the ciphertext's own bytes when out is null. Whether the tag verified (if not, every byte written is zeroed). */
  aeadOpen?: (key: Uint8Array, nonce: Uint8Array, ad: Uint8Array, parts: Uint8Array | Uint8Array[], out: Uint8Array | null) => boolean
  /** glibc's malloc serving allocations below mmapAt from its heap and trimming the heap's free top only beyond trimAt (mallopt): true when set, false elsewhere (native/malloc-keep.c). */
  keepFreed?: (mmapAt: number, trimAt: number) => boolean
  /** The heap's free top, and what it grew into since the last call, marked for 2 MiB pages; pad > 0 (once) grows and trims the heap in steps of pad: the bytes newly marked, or -1 where not supported (native/malloc-keep.c). */
  hugeHeap?: (pad: number) => number
  /** Tests: whether per-key P-256 tables can be made here, how many are alive in the process (all threads), whether G's has been made, how many key tables were made and how many of those in a colder key's place (native/p256-cache.c); with a key, whether it has a table now. */
  p256Tables?: (key?: NativeKeyHandle) => { available: boolean, keys: number, generator: boolean, built: number, evicted: number, table?: boolean }
}

/**
 * SHA-256 of buf[from…to) in a new Buffer: a slice of Node's pool (allocUnsafe, every byte then
 * written), about half of node:crypto's one-shot `hash` per call, where a Buffer the addon makes
 * costs more than that hash.
 */
export function nativeDigest (lib: NativeOpenssl, buf: Uint8Array, from = 0, to = buf.length): Buffer {
  const out = Buffer.allocUnsafe(32)
  lib.sha256Into(buf, from, to, out)
  return out
}

/**
 * Same place as the SHA-256 addon (sha256-native.ts says why one relative path fits every
 * bundle, and why a directory joined rather than a URL resolved).
 */
export function nativeOpensslPath (): string {
  return join(import.meta.dirname, '../../dist/native/petal-openssl.node')
}

let loaded: { lib: NativeOpenssl | undefined, why: string } | undefined

const NAMES = ['keyFromScalar', 'sign', 'publicKey', 'verify', 'verify2', 'sha256Into', 'merkleRoot', 'hasherNew', 'hasherUpdate', 'hasherDigest', 'readSmall', 'scalar'] as const

// SHA-256("abc"); the RFC 6962 root of the leaves "a", "b", "c" (an odd last leaf carried up);
// P-256's generator (d = 1 gives G): a library whose curve or hashes are not these (another
// build, a foreign file at the path) is not used.
const ABC_DIGEST = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'
const ABC_ROOT = '36642e73c2540ab121e3a6bf9545b0a24982cd830eb13d3cd19de3ce6c021ec1'
const G = '046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c2964fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5'

/** Whether the library gives the known answers above (exported for tests); it may throw. */
export function knownAnswers (lib: NativeOpenssl): boolean {
  const one = new Uint8Array(32)
  one[31] = 1
  const leaves = Buffer.from('\0a\0b\0c', 'latin1')
  const root = Buffer.alloc(32)
  lib.merkleRoot(leaves, new Uint32Array([2, 4, 6]), root)
  return nativeDigest(lib, Buffer.from('abc')).toString('hex') === ABC_DIGEST && root.toString('hex') === ABC_ROOT &&
    lib.keyFromScalar(one)?.point.toString('hex') === G
}

/** The addon at `path` as this thread would use it, or why not (exported for tests). */
export function loadNativeOpenssl (path = nativeOpensslPath()): { lib: NativeOpenssl | undefined, why: string } {
  const m: { exports: Partial<Record<typeof NAMES[number], unknown>> } = { exports: {} }
  try {
    process.dlopen(m, path)
  } catch (err) {
    const msg = err instanceof Error ? err.message.split('\n')[0] ?? '' : String(err)
    return { lib: undefined, why: msg.includes('ENOENT') || msg.includes('No such file') ? 'not built (dist/native/build.json says why)' : `not loadable: ${msg}` }
  }
  if (NAMES.some(n => typeof m.exports[n] !== 'function')) return { lib: undefined, why: 'exports missing' }
  const lib = m.exports as NativeOpenssl
  try {
    if (!knownAnswers(lib)) return { lib: undefined, why: 'wrong answer at load' }
  } catch (err) {
    return { lib: undefined, why: `not usable: ${err instanceof Error ? err.message : String(err)}` }
  }
  return { lib, why: 'OpenSSL via dist/native/petal-openssl.node' }
}

function decide (): { lib: NativeOpenssl | undefined, why: string } {
  return nativeSwitch() === '0' ? { lib: undefined, why: 'PETAL_NATIVE_SHA256=0' } : loadNativeOpenssl()
}

/**
 * This thread's native OpenSSL functions, or undefined (then node:crypto). Decided at the first
 * call in a thread (PETAL_NATIVE_SHA256=0 turns them off), not at every call: row hashing calls
 * this per row, and reading process.env is a call into Node each time.
 */
export function nativeOpenssl (): NativeOpenssl | undefined {
  return (loaded ??= decide()).lib
}

/**
 * The native functions if this thread has already loaded them, else undefined; never loads them.
 * For work that has a JavaScript way too (a key id): a command that lists keys (`status`,
 * `mykeys`) then loads no addon, and one that has loaded it for signing hashes there.
 */
export function loadedNativeOpenssl (): NativeOpenssl | undefined {
  return loaded?.lib
}

/**
 * A small regular file read whole into `buf` in one native call (open without following a link,
 * fstat, pread, close: native/read-small.c) when this thread has already loaded the addon (a
 * process that only reads a seal does not load it for that): the file's length, 0 < n <
 * buf.length. Else -1, nothing read: the caller takes its node:fs way, which gives the errors it
 * always gave (a missing file, a link, a pipe, a directory, an empty or too large file). Plain
 * verify's workers read a block and its seal per block this way (docs/performance/verify.md, "Session
 * 29: plain verify").
 */
export function readSmallFileNative (path: string, buf: Uint8Array): number {
  return loaded?.lib?.readSmall(path, buf) ?? -1
}

/**
 * Move `from` to `to` only if nothing is at `to`, in one renameat2(RENAME_NOREPLACE) when this
 * thread has already loaded the addon (native/place-files.c): 0 moved, 1 something at `to`, 2
 * nothing at `from` (or `to`'s directory missing); nothing moved in the last two. Else -1, nothing
 * moved: the caller takes its node:fs way (an existence check and a rename), which gives the errors
 * it always gave. A catch-up's placement moves two files a block this way (docs/performance/catchup.md,
 * "Session 30: catch-up").
 */
export function renameNoReplaceNative (from: string, to: string): number {
  return loaded?.lib?.renameNoReplace?.(from, to) ?? -1
}

/**
 * `text` written to `path` (created or truncated, as writeFileSync) in one native call when this
 * thread has already loaded the addon: 0. Else -1 (not loaded, any failure): the caller writes it
 * the node:fs way, which gives the errors it always gave.
 */
export function writeSmallFileNative (path: string, text: string): number {
  return loaded?.lib?.writeSmall?.(path, text) ?? -1
}

/**
 * `path` created (it must not exist: O_EXCL) holding `parts` (`size` bytes in all) in one native
 * call (open, writev, close) when this thread has already loaded the addon: 0. Else -1, and
 * nothing is left at `path` by this call (not loaded, arguments it does not take, a path that may
 * be cut, any failure, after which the file it created is removed): the caller takes its node:fs
 * way (util/fs.ts's writeNewFileSync), which gives the errors it always gave. A catch-up's range
 * receive writes each small block this way (docs/performance/catchup.md, "Session 31: catch-up").
 */
export function writeNewFileNative (path: string, parts: readonly Uint8Array[], size: number): number {
  return loaded?.lib?.writeNew?.(path, parts, size) ?? -1
}

/**
 * syncfs(2) of the file system holding `dir`, run on libuv's thread pool by the addon (loaded
 * here if this thread has not yet): resolves 0 or the errno of the directory's open or of the
 * syncfs. Undefined when the addon is absent or would not queue it: the caller takes its other
 * way. A catch-up's placement flushes a group this way (docs/performance/catchup.md, "Session 39: catch-up").
 */
export function syncfsNative (dir: string): Promise<number> | undefined {
  const lib = nativeOpenssl()
  if (lib?.syncfs === undefined) return undefined
  let queued = -1
  const done = new Promise<number>(resolve => { queued = (lib.syncfs as NonNullable<NativeOpenssl['syncfs']>)(dir, resolve) })
  return queued === 0 ? done : undefined
}

// Buffers up to 4 MiB from the heap (a block transfer's are 1 MiB), larger ones mapped and unmapped
// as glibc does at first; the heap's free top trimmed once it passes 16 MiB (down to hugeHeap's pad,
// 64 MiB, where that is set: HUGE_PAD below).
const KEEP_MMAP_AT = 4 * 1024 * 1024
const KEEP_TRIM_AT = 16 * 1024 * 1024
let kept: boolean | undefined
// The heap grows and is trimmed in steps of 64 MiB: a pull's receive grew it by ~47 MiB over 400
// blocks of 1 MB (buffers freed only by V8's collections).
const HUGE_PAD = 64 * 1024 * 1024
let huge: NativeOpenssl['hugeHeap']

/**
 * Have glibc's malloc keep the memory a process frees for its next allocations (the addon's
 * keepFreed, once a process): buffers below 4 MiB from its heap, whose free top goes back to the
 * kernel only beyond 16 MiB. glibc's own thresholds start at 128 KiB and 2× that, and follow the
 * largest chunk freed so far: with the 1 MiB buffers of a block transfer (a socket's read pool, a
 * range's message and its sealed copy), each allocated and freed within a block, the heap's top
 * went back to the kernel whenever more than ~2 MiB of it was free, and the next buffers faulted
 * their pages in again, zeroed: ~50 minor faults a block in a serving process and ~15 in a pulling
 * one, several microseconds each on a hypervisor (docs/performance/pull.md, "Session 41: the 1 MB
 * pull"). Then the heap's top on 2 MiB pages, grown and trimmed in steps of 64 MiB (hugeHeap, see
 * adviseHugeHeap). The cost: up to 64 MiB of freed memory kept
 * resident by the heap after a burst (16 MiB without hugeHeap), and
 * buffers above 4 MiB always mapped afresh (glibc's own threshold would have followed a freed one
 * up to 32 MiB; a node's transfers have none). For processes that run a node; false (nothing
 * changed) without the addon or with another C library.
 */
export function keepFreedMemory (): boolean {
  if (kept === undefined) {
    const lib = nativeOpenssl()
    kept = lib?.keepFreed?.(KEEP_MMAP_AT, KEEP_TRIM_AT) ?? false
    if (kept && lib?.hugeHeap !== undefined) huge = lib.hugeHeap(HUGE_PAD) >= 0 ? lib.hugeHeap : undefined
  }
  return kept
}

/**
 * Mark what the heap has grown into since keepFreedMemory (or the last call) for 2 MiB pages: a
 * sbrk(0) and, when the heap grew, one madvise (native/malloc-keep.c's hugeHeap). Called where a
 * transfer takes a 1 MiB buffer (a socket's large read pool, a sealed send), so that a heap grown
 * past its pad is backed by huge pages too. On this VM each 4 KiB page a process touches first
 * traps to the hypervisor (~6-12 µs): the heap's growth under a 1 MB pull was ~30 such faults a
 * block on the pulling main thread and as many on the serving one, ~5 with the heap on 2 MiB pages
 * (docs/performance/pull.md, "Session 55: the heap on 2 MiB pages (pipe55)"). Nothing where
 * keepFreedMemory did not set it up (no addon, an addon without hugeHeap, not glibc on Linux).
 */
export function adviseHugeHeap (): void {
  if (huge !== undefined) huge(0)
}

/** Whether keepFreedMemory has set the thresholds in this module's life; undefined before it was called (tests). */
export function freedMemoryKept (): boolean | undefined { return kept }

/**
 * The names in `dir` that do not start with `prefix`, listed by the addon where this thread has
 * already loaded it (native/tmp-files.c): a catch-up's cleanTmp passes over its own ~500-700 files
 * in tmp/ without a string for each (docs/performance/catchup.md, "Session 41: catch-up"). A number (the
 * errno of a listing that failed, -1 for anything else) when not: the caller lists the node:fs way.
 */
export function tmpForeignNative (dir: string, prefix: string): string[] | number {
  return loaded?.lib?.tmpForeign?.(dir, prefix) ?? -1
}

/**
 * Empty files made at `paths` (O_EXCL) in one request to libuv's thread pool, one after another up
 * to the first that fails, by the addon (loaded here if this thread has not yet): resolves the
 * number made (the first that many paths) and the failed one's errno (0 if none). Undefined when
 * the addon is absent or would not queue it: the caller makes them its node:fs way.
 */
export function makeEmptyNative (paths: readonly string[]): Promise<{ made: number, errno: number }> | undefined {
  const lib = nativeOpenssl()
  if (lib?.makeEmpty === undefined) return undefined
  let queued = -1
  const done = new Promise<{ made: number, errno: number }>(resolve => { queued = (lib.makeEmpty as NonNullable<NativeOpenssl['makeEmpty']>)(paths, (made, errno) => { resolve({ made, errno }) }) })
  return queued === 0 ? done : undefined
}

/** Which path keys, signatures and hashes take in this thread, and why. */
export function opensslPath (): { path: 'native' | 'node:crypto', why: string } {
  loaded ??= decide()
  return { path: loaded.lib === undefined ? 'node:crypto' : 'native', why: loaded.why }
}

/**
 * Decide again at the next call (tests switch PETAL_NATIVE_SHA256 within one process), and so does
 * keepFreedMemory where it had set nothing: a node made with the addon off left `kept` false for
 * every later test file in the same process. Once true it stays: glibc's thresholds are set for
 * the process and nothing unsets them.
 */
export function resetNativeOpenssl (): void {
  loaded = undefined
  if (kept === false) kept = undefined
}
