import { heapGrowth } from '../network/index.js'
import { HEAP_GROWING_PERCENT, type HeapGrowth } from '../util/index.js'

/** Old-generation growth after each full collection during a pull's sync: limit = live × (1 + PERCENT/100). */
export const PULL_HEAP_GROWING_PERCENT = HEAP_GROWING_PERCENT

/**
 * Run a pull's sync with V8's old generation allowed to grow to 4× its live size between full
 * collections, then let go of it (V8 chooses again unless this process's uploads still hold it:
 * the pull's node serves peers too, network/upload-heap.ts). A pull receives ~2 MB of ArrayBuffers
 * per MB (the socket's reads, the decrypted plaintext) that die young; V8 counts them against the old
 * generation's slack until a collection frees them, and its own limit leaves a slack of ~24 MB
 * once the process allocates few long-lived objects (as a pull does). Then a full marking of the
 * whole heap started every ~8 MB received (one every ~8 blocks of 1 MB: ~120 per 1,000 blocks,
 * 3-5 ms of CPU per block) where scavenges would free them for a fraction of that
 * (docs/performance/pull.md, "Session 15: the 1 MB pull"). A process started with its own
 * `--heap-growing-percent` keeps it. `growth` is for tests.
 */
export async function withPullHeap<T> (fn: () => Promise<T>, growth: HeapGrowth = heapGrowth): Promise<T> {
  const release = growth.hold()
  try {
    return await fn()
  } finally {
    release()
  }
}
