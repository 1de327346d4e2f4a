import { availableParallelism } from 'node:os'
import { holdsAt, reviveError, throwIfAborted, WorkerPool, workerScript, type WorkerScript } from '../util/index.js'
import type { Chain } from './chain.js'
import { loadCandidate, type Candidate, type SealVerdict } from './validate/index.js'
import type { BlockHead } from '../block/index.js'
import type { LoadReply, LoadRequest, LoadWorkerReply, LoadWorkerRequest } from './load-worker.js'

/** Blocks up to this size are checked in a worker; larger ones on the calling thread, where their progress is counted byte by byte. */
export const POOLED_LOAD_MAX_BYTES = 16 * 1024 * 1024
/** Blocks from this size have their file fsynced and `.sig` written on the load thread (`prepare`). */
export const PREPARE_ON_THREAD_MIN_BYTES = 64 * 1024
/**
 * While every block queued or being checked is at least this large, one thread checks them all:
 * a large block's checks cost a fraction of its receive on the main thread (a 1 MB block ~3 ms
 * against ~5-6), and the 1 MB pull's load threads spent 0.5-0.9 ms a block less CPU with one
 * thread than with two sharing the work, in 6 of 6 pairs (docs/performance/pull.md, "Session 37: the
 * 1 MB pull"). Small blocks (catch-up) need every thread: one was slower (session 16).
 */
export const ONE_THREAD_MIN_BYTES = 256 * 1024

const KEYS_TTL_MS = 250
// The most blocks sent to a thread in one message.
const MAX_BATCH = 8
// Batches a thread may hold while it checks large blocks alone: the next batch is checked while the
// previous one's flushes (prepare) run on libuv's pool (load-worker.ts), so the thread never waits
// for them (with one batch, the only thread idled through each batch's last fsyncs: session 27).
const LARGE_DEPTH = 2

interface Queued { req: LoadRequest, large: boolean, resolve: (r: LoadReply) => void, reject: (e: unknown) => void }
/** One load thread: its own pool of one worker (so that a batch goes to the thread chosen), whether it answered its ping, the batches it holds. */
interface Thread { pool: WorkerPool<LoadWorkerRequest, LoadWorkerReply>, up: boolean, held: number }

/**
 * Worker threads that run the file-only checks of blocks being imported (load-worker.ts), so a
 * node catching up checks several blocks at once on every core while the main thread receives
 * and places; large blocks on one thread (ONE_THREAD_MIN_BYTES). Owned by whoever imports many
 * blocks (the sync loop); close() ends the threads.
 *
 * The threads start at the first load, in the background: until one of them has loaded its
 * modules (a second or more on a loaded machine), blocks are checked on the calling thread, so
 * no block ever waits for a thread to start. While only large blocks come, only the first thread
 * starts (one checks them all): the others start with the first small block, or when the first
 * thread cannot (docs/performance/pull.md, "Session 53: one load thread for large blocks (pull53)").
 */
export class LoadPool {
  private threads: Thread[] | undefined
  private warm = false
  /** Settles once a thread is up, or none can come up (every ping failed). */
  private readonly warmed: Promise<void>
  private onWarm: () => void = () => {}
  private keys: { at: number, keys: Record<string, string> } | undefined
  /** Loads waiting for a thread; how many of them are small, and how many batches held by the threads have a small one. */
  private readonly queue: Queued[] = []
  private queuedSmall = 0
  private heldSmall = 0
  private readonly checked: number[]
  private flushing = false
  private closed = false
  /** Threads whose start failed. */
  private failed = 0

  /** `script`: the worker module (load-worker.ts); tests give one that never comes up. */
  constructor (private readonly size = Math.max(1, availableParallelism()), private readonly script: WorkerScript = workerScript(import.meta.url, './load-worker.js')) {
    this.size = Math.max(1, size)
    this.checked = new Array<number>(this.size).fill(0)
    this.warmed = new Promise(resolve => { this.onWarm = resolve })
  }

  /** Whether a thread is ready (loads go to the threads), for tests and diagnostics. */
  get ready (): boolean { return this.warm }
  /** Threads that answered their ping, for tests and diagnostics. */
  get up (): number { return this.threads?.filter(t => t.up).length ?? 0 }
  /** Threads started (up or starting), for tests and diagnostics. */
  get started (): number { return this.threads?.length ?? 0 }
  /** Blocks each thread was given, by thread, for tests and diagnostics. */
  get checkedBy (): readonly number[] { return this.checked }

  /**
   * Check a block file. `prepare`: a block checked on a thread also has its file fsynced and its
   * `.sig` written beside it there (`prepared`), sparing the main thread placement's per-file flushes.
   * `writeSeal` (without `prepare`): its `.sig` is written there, unflushed (`sealWritten`).
   * `size`: the file's, which decides whether one thread may check it with the others (ONE_THREAD_MIN_BYTES).
   */
  async load (chain: Chain, path: string, seal: string, o: { expectedHash?: string, knownHash?: string, head?: BlockHead, ownDownload?: boolean, sealChecked?: SealVerdict, signal?: AbortSignal, prepare?: boolean, writeSeal?: boolean, size?: number }): Promise<{ candidate: Candidate, prepared: boolean, sealWritten: boolean }> {
    if (this.closed) throw new Error('load pool closed')
    const large = o.size !== undefined && o.size >= ONE_THREAD_MIN_BYTES
    this.start(large ? 1 : this.size)
    // Tests hold a cold pool's loads until a thread is up (PETAL_PAUSE=load:warm): a catch-up
    // shorter than the threads' start then still has its blocks checked (and `.sig`s written) there.
    if (!this.warm && holdsAt('load:warm')) {
      await this.warmed
      if (this.closed) throw new Error('load pool closed')
    }
    if (!this.warm) return { candidate: await loadCandidate(path, seal, { maxBytes: chain.params.maxBlockBytes, expectedHash: o.expectedHash, knownHash: o.knownHash, head: o.head, ownDownload: o.ownDownload, pool: chain.hashPool, signal: o.signal }), prepared: false, sealWritten: false }
    // Before queueing: a queued task is always awaited below, so its failure is never unhandled.
    throwIfAborted(o.signal)
    const task = new Promise<LoadReply>((resolve, reject) => {
      if (!large) this.queuedSmall++
      this.queue.push({ large, req: { path, seal, expectedHash: o.expectedHash, knownHash: o.knownHash, head: o.head, ownDownload: o.ownDownload, maxBytes: chain.params.maxBlockBytes, keys: this.keysAt(chain), sealChecked: o.sealChecked, prepare: o.prepare, writeSeal: o.writeSeal }, resolve, reject })
      this.scheduleFlush()
    })
    // Not raced against the signal: up to 16 loads wait at once, and a listener each on the
    // caller's one signal set off Node's MaxListenersExceededWarning. A batch is a few blocks
    // of at most POOLED_LOAD_MAX_BYTES, so an abort waits for it at most briefly.
    const r = await task
    throwIfAborted(o.signal)
    return { candidate: { hash: r.hash, seal, file: r.file, verified: r.verified }, prepared: r.prepared === true, sealWritten: r.sealWritten === true }
  }

  /** Send the queued loads once the caller's current pass has queued all it has (one batch per free thread). */
  private scheduleFlush (): void {
    if (this.flushing) return
    this.flushing = true
    queueMicrotask(() => { this.flushing = false; this.flush() })
  }

  /**
   * Give out the queue: while every load queued or held is of a large block, to the first thread
   * up alone (up to LARGE_DEPTH batches); otherwise to each thread up without a batch, an equal
   * share each, at most MAX_BATCH blocks a batch.
   */
  private flush (): void {
    const threads = this.threads
    if (threads === undefined) return
    while (!this.closed && this.queue.length > 0) {
      const up = threads.filter(t => t.up)
      let t: Thread | undefined
      let n: number
      if (this.queuedSmall === 0 && this.heldSmall === 0) {
        t = up[0]
        if (t === undefined || t.held >= LARGE_DEPTH) return
        n = Math.min(MAX_BATCH, this.queue.length)
      } else {
        const free = up.filter(x => x.held === 0)
        t = free[0]
        if (t === undefined) return
        n = Math.min(MAX_BATCH, Math.ceil(this.queue.length / free.length))
      }
      this.give(t, threads.indexOf(t), this.queue.splice(0, n))
    }
  }

  private give (t: Thread, i: number, batch: Queued[]): void {
    const small = batch.filter(q => !q.large).length
    this.queuedSmall -= small
    if (small > 0) this.heldSmall++
    t.held++
    this.checked[i] = (this.checked[i] ?? 0) + batch.length
    t.pool.run({ loads: batch.map(q => q.req) }).then(r => {
      if (!('outcomes' in r) || r.outcomes.length !== batch.length) throw new Error('load worker answered a batch with something else')
      for (const [j, q] of batch.entries()) {
        const out = r.outcomes[j]
        if (out !== undefined && 'loaded' in out) q.resolve(out.loaded)
        else q.reject(out === undefined ? new Error('no outcome') : reviveError(out.failed))
      }
    }).catch((err: unknown) => { for (const q of batch) q.reject(err) }).finally(() => {
      t.held--
      if (small > 0) this.heldSmall--
      this.flush()
    })
  }

  /**
   * Start threads until `want` are started (at most the pool's size); the pool is warm once any of
   * them answers a ping. A thread that cannot start starts the rest: the pool stays cold (loads on
   * the calling thread) only once every thread failed.
   */
  private start (want: number): void {
    const threads = this.threads ??= []
    while (threads.length < Math.min(want, this.size) && !this.closed) {
      const t: Thread = { pool: new WorkerPool<LoadWorkerRequest, LoadWorkerReply>(this.script, 1, { depth: LARGE_DEPTH }), up: false, held: 0 }
      threads.push(t)
      // A thread that cannot start is never given loads.
      t.pool.run({ ping: true }).then(() => { t.up = true; this.warm = true; this.onWarm(); this.flush() }, () => {
        if (++this.failed === this.size) this.onWarm()
        else this.start(this.size)
      })
    }
  }

  /**
   * The signatories at the tip, to check signatures with ahead of validation, read at most every
   * KEYS_TTL_MS (reading the tip for every block of a catch-up cost more than the rest of its
   * dispatch). Stale keys are harmless: a verdict counts only if it was made with the very key
   * the block's parent has (check-signatures.ts); otherwise the signature is checked in order.
   */
  private keysAt (chain: Chain): Record<string, string> {
    const now = performance.now()
    if (this.keys === undefined || now - this.keys.at > KEYS_TTL_MS) {
      this.keys = { at: now, keys: Object.fromEntries(chain.keysAt(chain.tip()).active().map(k => [k.keyId, k.publicKey.hex])) }
    }
    return this.keys.keys
  }

  async close (): Promise<void> {
    this.closed = true
    this.onWarm()
    for (const t of this.queue.splice(0)) t.reject(new Error('load pool closed'))
    this.queuedSmall = 0
    await Promise.all((this.threads ?? []).map(async t => { await t.pool.close() }))
  }
}
