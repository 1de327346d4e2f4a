import { availableParallelism } from 'node:os'
import { reviveError, throwIfAborted, WorkerPool, workerScript, type WorkerScript } from '../util/index.js'
import type { Chain } from './chain.js'
import { loadCandidate, type Candidate, type SealVerdict } from './validate/index.js'
import type { BlockHead } from '../block/index.js'
import type { LoadReply, LoadRequest, LoadWorkerReply, LoadWorkerRequest } from './load-worker.js'

/** Blocks up to this size are checked in a worker; larger ones on the calling thread, where their progress is counted byte by byte. */
export const POOLED_LOAD_MAX_BYTES = 16 * 1024 * 1024
/** Blocks from this size have their file fsynced and `.sig` written on the load thread (`prepare`). */
export const PREPARE_ON_THREAD_MIN_BYTES = 64 * 1024

const KEYS_TTL_MS = 250
// The most blocks sent to a thread in one message.
const MAX_BATCH = 8

/**
 * Worker threads that run the file-only checks of blocks being imported (load-worker.ts), so a
 * node catching up checks several blocks at once on every core while the main thread receives
 * and places. Owned by whoever imports many blocks (the sync loop); close() ends the threads.
 *
 * The threads start at the first load, in the background: until one of them has loaded its
 * modules (a second or more on a loaded machine), blocks are checked on the calling thread, so
 * no block ever waits for a thread to start.
 */
export class LoadPool {
  private pool: WorkerPool<LoadWorkerRequest, LoadWorkerReply> | undefined
  private warm = false
  private keys: { at: number, keys: Record<string, string> } | undefined
  /** Loads waiting for a thread, and the batches the threads hold (one each at most). */
  private readonly queue: Array<{ req: LoadRequest, resolve: (r: LoadReply) => void, reject: (e: unknown) => void }> = []
  private batches = 0
  private flushing = false
  private closed = false

  /** `script`: the worker module (load-worker.ts); tests give one that never comes up. */
  constructor (private readonly size = Math.max(1, availableParallelism()), private readonly script: WorkerScript = workerScript(import.meta.url, './load-worker.js')) {}

  /** Whether a thread is ready (loads go to the threads), for tests and diagnostics. */
  get ready (): boolean { return this.warm }

  /**
   * Check a block file. `prepare`: a block checked on a thread also has its file fsynced and its
   * `.sig` written beside it there (`prepared`), sparing the main thread placement's per-file flushes.
   * `writeSeal` (without `prepare`): its `.sig` is written there, unflushed (`sealWritten`).
   */
  async load (chain: Chain, path: string, seal: string, o: { expectedHash?: string, knownHash?: string, head?: BlockHead, ownDownload?: boolean, sealChecked?: SealVerdict, signal?: AbortSignal, prepare?: boolean, writeSeal?: boolean }): Promise<{ candidate: Candidate, prepared: boolean, sealWritten: boolean }> {
    if (this.closed) throw new Error('load pool closed')
    this.start()
    if (!this.warm) return { candidate: await loadCandidate(path, seal, { maxBytes: chain.params.maxBlockBytes, expectedHash: o.expectedHash, knownHash: o.knownHash, head: o.head, ownDownload: o.ownDownload, pool: chain.hashPool, signal: o.signal }), prepared: false, sealWritten: false }
    // Before queueing: a queued task is always awaited below, so its failure is never unhandled.
    throwIfAborted(o.signal)
    const task = new Promise<LoadReply>((resolve, reject) => {
      this.queue.push({ req: { path, seal, expectedHash: o.expectedHash, knownHash: o.knownHash, head: o.head, ownDownload: o.ownDownload, maxBytes: chain.params.maxBlockBytes, keys: this.keysAt(chain), sealChecked: o.sealChecked, prepare: o.prepare, writeSeal: o.writeSeal }, resolve, reject })
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

  /** Give each thread without a batch an equal share of the queue, at most MAX_BATCH blocks. */
  private flush (): void {
    const pool = this.pool
    if (pool === undefined) return
    while (!this.closed && this.batches < this.size && this.queue.length > 0) {
      const n = Math.min(MAX_BATCH, Math.ceil(this.queue.length / (this.size - this.batches)))
      const batch = this.queue.splice(0, n)
      this.batches++
      pool.run({ loads: batch.map(t => t.req) }).then(r => {
        if (!('outcomes' in r) || r.outcomes.length !== batch.length) throw new Error('load worker answered a batch with something else')
        for (const [i, t] of batch.entries()) {
          const out = r.outcomes[i]
          if (out !== undefined && 'loaded' in out) t.resolve(out.loaded)
          else t.reject(out === undefined ? new Error('no outcome') : reviveError(out.failed))
        }
      }).catch((err: unknown) => { for (const t of batch) t.reject(err) }).finally(() => {
        this.batches--
        this.flush()
      })
    }
  }

  /** Start the threads if they are not; the pool is warm once any of them answers a ping. */
  private start (): WorkerPool<LoadWorkerRequest, LoadWorkerReply> {
    if (this.pool !== undefined) return this.pool
    const pool = this.pool = new WorkerPool<LoadWorkerRequest, LoadWorkerReply>(this.script, this.size)
    for (let i = 0; i < this.size; i++) {
      // A thread that cannot start leaves the pool cold: loads stay on the calling thread.
      pool.run({ ping: true }).then(() => { this.warm = true }, () => {})
    }
    return pool
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
    for (const t of this.queue.splice(0)) t.reject(new Error('load pool closed'))
    await this.pool?.close()
  }
}
