import { createHash, hash } from 'node:crypto'
import { close, closeSync, open, openSync, read, readSync } from 'node:fs'
import { promisify } from 'node:util'
import { toHex, throwIfAborted } from '../util/index.js'
import { nativeDigest, nativeOpenssl, type NativeOpenssl } from './openssl-native.js'

const bytesOf = (p: Uint8Array | string): Uint8Array => typeof p === 'string' ? Buffer.from(p, 'utf8') : p

/** SHA-256 through the native addon (openssl-native.ts): no node:crypto in the process. */
function nativeParts (lib: NativeOpenssl, parts: Array<Uint8Array | string>): Buffer {
  if (parts.length === 1 && parts[0] !== undefined) return nativeDigest(lib, bytesOf(parts[0]))
  const h = lib.hasherNew()
  for (const p of parts) { const b = bytesOf(p); lib.hasherUpdate(h, b, 0, b.length) }
  return lib.hasherDigest(h)
}

/**
 * A streaming SHA-256 (update, then hex digest once): the native addon's, else node:crypto's.
 * The files' hashes below use it, so hashing a small block loads no node:crypto.
 */
function fileHasher (): { update: (b: Uint8Array) => void, hex: () => string } {
  const lib = nativeOpenssl()
  if (lib === undefined) {
    const h = createHash('sha256')
    return { update: b => { h.update(b) }, hex: () => h.digest('hex') }
  }
  const h = lib.hasherNew()
  return { update: b => { lib.hasherUpdate(h, b, 0, b.length) }, hex: () => lib.hasherDigest(h).toString('hex') }
}

export function sha256 (...parts: Array<Uint8Array | string>): Uint8Array {
  const lib = nativeOpenssl()
  // A copy with its own ArrayBuffer, as before (nativeDigest's is a slice of Node's pool).
  if (lib !== undefined) return new Uint8Array(nativeParts(lib, parts))
  const h = createHash('sha256')
  for (const p of parts) h.update(p)
  return new Uint8Array(h.digest())
}

export function sha256Hex (...parts: Array<Uint8Array | string>): string {
  const lib = nativeOpenssl()
  if (lib !== undefined) return nativeParts(lib, parts).toString('hex')
  // One part (a whole small block file in plain verify): node:crypto's one-shot hash, its own
  // hex, no copy. createHash's Hash object, update and digest cost ~9 K instructions more per
  // call and gave each verify worker ~10 M more for TurboFan to compile (docs/performance/verify.md,
  // "Session 15: plain verify").
  if (parts.length === 1 && parts[0] !== undefined) return hash('sha256', parts[0], 'hex')
  return toHex(sha256(...parts))
}

const CHUNK = 1 << 20

// node:fs's callback API on a descriptor, not a node:fs/promises FileHandle: a process that hashes
// one small block (signimportblock) then never loads that module (~70 fresh pages with its readline
// and watcher internals; docs/performance/import.md, "Session 11: the 100-row import and start-up").
// Made at the first file hashed: a command that hashes none (`status`) does not run promisify
// (docs/performance/startup.md, "Session 24: start-up").
const newFileOps = () => ({ openAsync: promisify(open), readAsync: promisify(read), closeAsync: promisify(close) })
let fileOps: ReturnType<typeof newFileOps> | undefined

/** SHA-256 of a whole file, read in 1 MiB chunks; cancellable between chunks; `onBytes` counts them. */
export async function sha256File (path: string, options: { signal?: AbortSignal, onBytes?: (n: number) => void } = {}): Promise<string> {
  const { openAsync, readAsync, closeAsync } = fileOps ??= newFileOps()
  const fd = await openAsync(path, 'r')
  try {
    const h = fileHasher()
    const buf = Buffer.allocUnsafe(CHUNK)
    for (;;) {
      throwIfAborted(options.signal)
      const { bytesRead } = await readAsync(fd, buf, 0, CHUNK, null)
      if (bytesRead === 0) break
      h.update(buf.subarray(0, bytesRead))
      options.onBytes?.(bytesRead)
    }
    return h.hex()
  } finally {
    await closeAsync(fd)
  }
}

// sha256FileSync's read buffer, kept for the thread's next file (the function is synchronous, so
// one per thread is enough). A fresh 1 MiB buffer per file was a malloc that the thread's arena
// grew for, a page per mprotect, and gave back: verify --deep's workers made ~3,000 mprotect calls
// and their page faults each over 41 blocks of 4 MiB (docs/performance/verify.md, "Session 28: verify --deep").
let syncChunk: Buffer | undefined

/**
 * Blocking SHA-256 of a file, for worker threads (where blocking is free and each async read would
 * be a round trip through libuv's shared thread pool).
 */
export function sha256FileSync (path: string, onBytes?: (n: number) => void): string {
  const fd = openSync(path, 'r')
  try {
    const h = fileHasher()
    const buf = syncChunk ??= Buffer.allocUnsafe(CHUNK)
    for (;;) {
      const n = readSync(fd, buf, 0, CHUNK, null)
      if (n === 0) break
      h.update(buf.subarray(0, n))
      onBytes?.(n)
    }
    return h.hex()
  } finally {
    closeSync(fd)
  }
}
