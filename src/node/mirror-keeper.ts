import type { Chain } from '../chain/index.js'
import type { MirrorStop } from '../query/index.js'
import { Mutex, WorkerPool, workerScript, type Logger } from '../util/index.js'
import type { MirrorReply, MirrorRequest } from './mirror-worker.js'

/**
 * Keeps a running node's query mirror (query.db) at the chain's tip, in a worker thread of its
 * own (mirror-worker.ts), started on first use and stopped by close().
 */
export class MirrorKeeper {
  private pool: WorkerPool<MirrorRequest, MirrorReply> | undefined
  private tip: string | undefined
  private run: Promise<void> | undefined
  private readonly mutex = new Mutex()
  /** Where the mirror stopped below the tip (a missing or damaged block file), if it did. */
  stoppedAt: MirrorStop | undefined

  constructor (private readonly chain: Chain, private readonly logger: Logger) {}

  /** Whether the mirror was at the chain's tip when it last synced. */
  get current (): boolean { return this.tip === this.chain.tip().hash }

  /**
   * Bring query.db up to the chain's tip now; resolves after a sync that started after this call
   * (so a query sees every block committed before it asked).
   */
  async sync (): Promise<void> {
    if (this.current) return
    if (this.run !== undefined) await this.run.catch(() => {})
    if (this.current) return
    this.run ??= this.mutex.run(async () => {
      this.pool ??= new WorkerPool<MirrorRequest, MirrorReply>(workerScript(import.meta.url, './mirror-worker.js'), 1)
      const r = await this.pool.run({ dir: this.chain.dir.root })
      this.tip = r.tip
      this.stoppedAt = r.stoppedAt
      if (r.applied + r.rolledBack > 0) this.logger.debug('query mirror updated', { applied: r.applied, rolledBack: r.rolledBack, height: r.height })
      for (const b of r.skipped) this.logger.warn('query mirror leaves out a block it cannot hold; queries cover the other blocks', { ...b })
    }).finally(() => { this.run = undefined })
    await this.run
  }

  /** Wait for a sync under way, then stop the worker thread. */
  async close (): Promise<void> {
    await this.run?.catch(() => {})
    await this.pool?.close()
    this.pool = undefined
  }
}
