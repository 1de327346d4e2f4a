import { HEAP_GROWING_PERCENT, HeapGrowth } from '../util/index.js'

/** Old-generation growth after each full collection while blocks are served (as a pull's sync: node/pull-heap.ts). */
export const UPLOAD_HEAP_GROWING_PERCENT = HEAP_GROWING_PERCENT
/** V8 gets its own choice back this long after the last upload ended (ranges follow each other closely). */
export const UPLOAD_HEAP_IDLE_MS = 10_000

/**
 * While this node serves block uploads, V8's old generation may grow to 4× its live size between
 * full collections; UPLOAD_HEAP_IDLE_MS after the last upload this lets go of it (HeapGrowth: V8
 * chooses again unless a pull of the same process still holds it), so the next full collection
 * (the memory reducer's, on an idle node) sets its limit as before: a node that runs for weeks
 * holds the larger limit only while it serves, and it is bounded by its live heap.
 *
 * Why: a served megabyte allocates ~2 MB of buffers that die young (the chunk read, node:crypto's
 * ciphertext). Scavenges prompted by the chunks' allocations usually free them; but in about half
 * the runs under load, once V8 had set a low limit after a full collection, the serving process
 * marked its whole heap every few megabytes instead (23-98 full collections per 1,000 MB served
 * against 2-4, and 4.5-7.8 ms of CPU per MB against 3.9-4.8), as the pulling side did before session 15
 * (docs/performance/pull.md, "Session 16: the 1 MB pull"). A process started with its own
 * `--heap-growing-percent` keeps it. `growth` and `idleMs` are for tests.
 */
export class UploadHeap {
  private active = 0
  private release: (() => void) | undefined
  private timer: NodeJS.Timeout | undefined

  constructor (private readonly growth: HeapGrowth = new HeapGrowth(), private readonly idleMs = UPLOAD_HEAP_IDLE_MS) {}

  /** An upload starts. */
  enter (): void {
    this.active++
    if (this.timer !== undefined) { clearTimeout(this.timer); this.timer = undefined }
    this.release ??= this.growth.hold()
  }

  /** An upload ended (each `enter` is matched by one `leave`). */
  leave (): void {
    this.active = Math.max(0, this.active - 1)
    if (this.active > 0 || this.release === undefined || this.timer !== undefined) return
    // Unref'd: it never keeps a process alive that has nothing else to do.
    this.timer = setTimeout(() => { this.timer = undefined; this.restore() }, this.idleMs)
    this.timer.unref()
  }

  /** Let go of the raised factor now if no upload runs. */
  restore (): void {
    if (this.timer !== undefined) { clearTimeout(this.timer); this.timer = undefined }
    if (this.release === undefined || this.active > 0) return
    this.release()
    this.release = undefined
  }
}

/** The process's heap growth factor, held by its uploads and by a pull's sync (node/pull-heap.ts). */
export const heapGrowth = new HeapGrowth()

/** The process's uploads (every served stream of every node in it). */
export const uploadHeap = new UploadHeap(heapGrowth)
