/**
 * The native batched SHA-256 (native/sha256-batch.c, built by scripts/build-native.ts into
 * dist/native/petal-sha256.node): the same `leaves` and `pairs` as the WebAssembly module
 * (sha256-wasm.ts) over the same framed messages, with OpenSSL's block function, ~2.5× faster on
 * the manifest's leaves with the CPU's SHA-256 instructions (SHA-NI). Loaded at first use, in each
 * thread that hashes; when it is absent, cannot be loaded, the CPU has no SHA-256 instructions
 * (OpenSSL's software code is then slower than WebAssembly), or PETAL_NATIVE_SHA256=0,
 * `nativeSha256()` is undefined and MerkleBatch hashes in WebAssembly: `merkleHasher()` says which
 * and why.
 */
import { join } from 'node:path'
import { CryptoError } from './errors.js'

export interface NativeSha256 {
  /** `n` framed messages at `buf[at…]`; digest i to `buf[out + 32 i…]` (sha256-wasm.ts's `leaves`). */
  leaves: (buf: Uint8Array, at: number, n: number, out: number) => void
  /** RFC 6962 interior nodes of `n` 64-byte pairs at `buf[at…]` to `buf[out…]` (`pairs`; out may be at). */
  pairs: (buf: Uint8Array, at: number, n: number, out: number) => void
}

/**
 * The addon's path. dist/native sits beside dist/<module>/, dist/bundle and dist/fast (the fast
 * bundle's import.meta.dirname is dist/fast), and from src/crypto (tests run the sources)
 * `../../dist/native` is the build's too: one relative path from every place this code runs.
 */
export function nativeSha256Path (): string {
  // A directory joined, not a URL resolved: the fast bundle's import.meta.url is made by
  // pathToFileURL, and URL and fileURLToPath compiled ~16 of node:url's functions in every process
  // that loads an addon (~2.3 M instructions of a 100-row signimportblock; docs/performance/import.md,
  // "Session 24: the 100-row import").
  return join(import.meta.dirname, '../../dist/native/petal-sha256.node')
}

let loaded: { hasher: NativeSha256 | undefined, why: string } | undefined

// SHA-256("abc") framed as one padded block, and its digest; the interior node of the pair of
// bytes 0…63 (SHA-256(0x01 ‖ pair)). Both functions are checked at load, so an addon whose build
// disagrees with this Node's OpenSSL (a context layout, another library), or one that is not this
// source's (a stale or foreign file at the path), is not used: a wrong hasher gives wrong roots.
const ABC = '0100000061626380' + '00'.repeat(59) + '18'
const ABC_DIGEST = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'
const PAIR_DIGEST = '1a378704c17da31e2d05b6d121c2bb2c7d76f6ee6fa8f983e596c2d034963c57'

/** Whether `leaves` and `pairs` give the known digests above. */
function knownAnswers (h: NativeSha256): boolean {
  const probe = Buffer.alloc(128)
  probe.write(ABC, 'hex')
  h.leaves(probe, 0, 1, 96)
  if (probe.toString('hex', 96, 128) !== ABC_DIGEST) return false
  for (let i = 0; i < 64; i++) probe[i] = i
  h.pairs(probe, 0, 1, 64)
  return probe.toString('hex', 64, 96) === PAIR_DIGEST
}

/** The addon at `path` as this thread would use it, or why not (exported for the tests of a foreign addon). */
export function loadNativeSha256 (path = nativeSha256Path()): { hasher: NativeSha256 | undefined, why: string } {
  // accelerated: whether the CPU has SHA-256 instructions (the addon's own CPUID check).
  const m: { exports: Partial<NativeSha256> & { accelerated?: unknown } } = { exports: {} }
  try {
    process.dlopen(m, path)
  } catch (err) {
    const msg = err instanceof Error ? err.message.split('\n')[0] ?? '' : String(err)
    return { hasher: undefined, why: msg.includes('ENOENT') || msg.includes('No such file') ? 'not built (dist/native/build.json says why)' : `not loadable: ${msg}` }
  }
  const { leaves, pairs, accelerated } = m.exports
  if (typeof leaves !== 'function' || typeof pairs !== 'function') return { hasher: undefined, why: 'exports missing' }
  // OpenSSL's software SHA-256 is slower than the WebAssembly four-lane one: only with the CPU's
  // SHA-256 instructions (which OpenSSL uses unless its capability variable masks them) is it faster.
  if (accelerated !== true) return { hasher: undefined, why: 'this CPU has no SHA-256 instructions (OpenSSL\'s software SHA-256 is slower than WebAssembly\'s four lanes)' }
  if (process.env.OPENSSL_ia32cap !== undefined || process.env.OPENSSL_armcap !== undefined) return { hasher: undefined, why: 'OPENSSL_ia32cap or OPENSSL_armcap is set (OpenSSL may not use the SHA-256 instructions)' }
  const hasher = { leaves, pairs }
  try {
    if (!knownAnswers(hasher)) return { hasher: undefined, why: 'wrong digest at load' }
  } catch (err) {
    return { hasher: undefined, why: `not usable: ${err instanceof Error ? err.message : String(err)}` }
  }
  return { hasher, why: 'OpenSSL SHA-256, dist/native/petal-sha256.node' }
}

/**
 * This thread's native hasher, or undefined (then hash in WebAssembly). PETAL_NATIVE_SHA256=0
 * turns it off (read at every call: a test switches it within one process), =1 requires it (an
 * error when it cannot be loaded: how a test checks that a bundle finds it).
 */
export function nativeSha256 (): NativeSha256 | undefined {
  const want = nativeSwitch()
  if (want === '0') return undefined
  loaded ??= loadNativeSha256()
  if (loaded.hasher === undefined && want === '1') throw new CryptoError('NATIVE_SHA256_UNAVAILABLE', `PETAL_NATIVE_SHA256=1, but the native SHA-256 is ${loaded.why}`)
  return loaded.hasher
}

/**
 * PETAL_NATIVE_SHA256: '0' turns off both native addons (this one and openssl-native.ts's keys,
 * signatures and hashes), '1' requires this one. Read here, the one file outside the CLI that
 * reads it (worker threads never run the CLI's code).
 */
export function nativeSwitch (): string | undefined {
  return process.env.PETAL_NATIVE_SHA256
}

/** Which hasher the manifest's Merkle batches use in this thread, and why. */
export function merkleHasher (): { hasher: 'native' | 'wasm', why: string } {
  if (nativeSwitch() === '0') return { hasher: 'wasm', why: 'PETAL_NATIVE_SHA256=0' }
  loaded ??= loadNativeSha256()
  return { hasher: loaded.hasher === undefined ? 'wasm' : 'native', why: loaded.why }
}
