import { setFlagsFromString } from 'node:v8'

/** Old-generation growth after each full collection during a pull's sync: limit = live × (1 + PERCENT/100). */
export const PULL_HEAP_GROWING_PERCENT = 300

/**
 * Run a pull's sync with V8's old generation allowed to grow to 4× its live size between full
 * collections, then give the choice back to V8. A pull receives ~2 MB of ArrayBuffers per MB (the
 * socket's reads, the decrypted plaintext) that die young; V8 counts them against the old
 * generation's slack until a collection frees them, and its own limit leaves a slack of ~24 MB
 * once the process allocates few long-lived objects (as a pull does). Then a full marking of the
 * whole heap started every ~8 MB received (one every ~8 blocks of 1 MB: ~120 per 1,000 blocks,
 * 3-5 ms of CPU per block) where scavenges would free them for a fraction of that
 * (docs/performance.md, "Session 15: the 1 MB pull"). A process started with its own
 * `--heap-growing-percent` keeps it. `setFlags` is for tests.
 */
export async function withPullHeap<T> (fn: () => Promise<T>, setFlags: (flags: string) => void = setFlagsFromString, execArgv: readonly string[] = process.execArgv): Promise<T> {
  // (NODE_OPTIONS cannot carry this V8 flag: only the command line can.)
  if (execArgv.some(a => /heap[-_]growing[-_]percent/.test(a))) return await fn()
  setFlags(`--heap-growing-percent=${PULL_HEAP_GROWING_PERCENT}`)
  try {
    return await fn()
  } finally {
    // V8's default (0: its own factor from the collector's and the program's speeds).
    setFlags('--heap-growing-percent=0')
  }
}
