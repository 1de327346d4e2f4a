import { availableParallelism } from 'node:os'
import { abortable, WorkerPool, workerScript } from '../util/index.js'
import type { Chain } from './chain.js'
import type { Candidate } from './validate/index.js'
import type { LoadReply, LoadRequest } from './load-worker.js'

/** Blocks up to this size are checked in a worker; larger ones on the calling thread, where their progress is counted byte by byte. */
export const POOLED_LOAD_MAX_BYTES = 16 * 1024 * 1024

/**
 * Worker threads that run the file-only checks of blocks being imported (load-worker.ts), so a
 * node catching up checks several blocks at once on every core while the main thread receives
 * and places. Owned by whoever imports many blocks (the sync loop); its threads start at the
 * first load, and close() ends them.
 */
export class LoadPool {
  private pool: WorkerPool<LoadRequest, LoadReply> | undefined
  private keys: { tip: string, keys: Record<string, string> } | undefined
  private closed = false

  constructor (private readonly size = Math.max(1, availableParallelism())) {}

  async load (chain: Chain, path: string, seal: string, o: { expectedHash?: string, signal?: AbortSignal }): Promise<Candidate> {
    if (this.closed) throw new Error('load pool closed')
    this.pool ??= new WorkerPool<LoadRequest, LoadReply>(workerScript(import.meta.url, './load-worker.js'), this.size)
    const task = this.pool.run({ path, seal, expectedHash: o.expectedHash, maxBytes: chain.params.maxBlockBytes, keys: this.keysAt(chain) })
    // Abandoned on abort (the caller deletes the file; the worker's late failure is of no interest).
    task.catch(() => {})
    const r = await abortable(task, o.signal)
    return { hash: r.hash, seal, file: r.file, verified: r.verified }
  }

  /** The signatories at the tip, to check signatures with ahead of validation (cached per tip). */
  private keysAt (chain: Chain): Record<string, string> {
    const tip = chain.tip()
    if (this.keys?.tip !== tip.hash) {
      this.keys = { tip: tip.hash, keys: Object.fromEntries(chain.keysAt(tip).active().map(k => [k.keyId, k.publicKey.hex])) }
    }
    return this.keys.keys
  }

  async close (): Promise<void> {
    this.closed = true
    await this.pool?.close()
  }
}
