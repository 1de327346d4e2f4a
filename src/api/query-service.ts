import type { Chain } from '../chain/index.js'
import { exportTable, QueryMirror, QuerySandbox, runQuery, type ExportOptions, type ExportResult, type MirrorStop, type QueryOptions, type QueryResult } from '../query/index.js'
import { AbortError, Mutex, type Logger } from '../util/index.js'
import { ApiError } from './errors.js'
import type { ApiLimits } from './options.js'

/**
 * Runs statements for the API: a fixed number of warm sandbox processes (one statement each at a
 * time), a bounded queue in front of them, and the query mirror brought up to the tip before each
 * statement so that a client reads what it has just seen sealed.
 */
export class QueryService {
  private readonly idle: QuerySandbox[] = []
  private readonly all: QuerySandbox[] = []
  private readonly waiting: Array<{ resolve: (s: QuerySandbox) => void, reject: (e: unknown) => void }> = []
  private mirror: QueryMirror | undefined
  private readonly mirrorMutex = new Mutex()
  private closed = false

  /**
   * `syncMirror`: the node's (it syncs in a worker thread). Without it (`petal serve`), the mirror
   * is synced here when the directory is writable, and read as it is otherwise.
   */
  constructor (
    private readonly chain: Chain,
    private readonly limits: ApiLimits,
    private readonly syncMirror: ((signal?: AbortSignal) => Promise<MirrorStop | undefined>) | undefined,
    private readonly writable: boolean,
    private readonly logger: Logger
  ) {}

  /** Statements running or waiting. */
  get load (): number { return this.all.length - this.idle.length + this.waiting.length }

  async run (o: Omit<QueryOptions, 'sandbox' | 'mirror' | 'sync'>): Promise<QueryResult> {
    const sandbox = await this.acquire(o.signal)
    try {
      const mirrorStop = await this.bringMirrorUp(o)
      return await runQuery(this.chain, { ...o, sandbox, sync: false, mirrorStop })
    } finally {
      this.release(sandbox)
    }
  }

  /** Export a table (never decrypting: the API serves every reader alike; docs/confidential.md). */
  async export (o: Omit<ExportOptions, 'sandbox' | 'mirror' | 'sync' | 'decrypt'>): Promise<ExportResult> {
    const sandbox = await this.acquire(o.signal)
    try {
      const mirrorStop = await this.bringMirrorUp(o)
      return await exportTable(this.chain, { ...o, sandbox, sync: false, mirrorStop })
    } finally {
      this.release(sandbox)
    }
  }

  /** Where the mirror stopped below the tip, if it did (a statement's unknown table may be above it). */
  private async bringMirrorUp (o: { perBlock?: boolean, signal?: AbortSignal }): Promise<MirrorStop | undefined> {
    if (o.perBlock === true) return undefined
    if (this.syncMirror !== undefined) return await this.syncMirror(o.signal)
    if (!this.writable) return undefined
    return await this.mirrorMutex.run(async () => {
      this.mirror ??= QueryMirror.open(this.chain, { logger: this.logger })
      return (await this.mirror.sync({ signal: o.signal })).stoppedAt
    })
  }

  private async acquire (signal?: AbortSignal): Promise<QuerySandbox> {
    if (this.closed) throw new ApiError('API_SHUTTING_DOWN', 'the server is shutting down')
    const free = this.idle.pop()
    if (free !== undefined) return free
    if (this.all.length < this.limits.concurrentQueries) {
      const s = new QuerySandbox(this.chain.dir.root, { logger: this.logger })
      this.all.push(s)
      return s
    }
    if (this.waiting.length >= this.limits.queuedQueries) {
      throw new ApiError('API_BUSY', `${this.limits.concurrentQueries} statements are running and ${this.limits.queuedQueries} waiting`, { hint: 'retry in a moment (see Retry-After)' })
    }
    return await new Promise<QuerySandbox>((resolve, reject) => {
      const w = { resolve: (s: QuerySandbox) => { signal?.removeEventListener('abort', onAbort); resolve(s) }, reject }
      const onAbort = (): void => {
        const i = this.waiting.indexOf(w)
        if (i >= 0) this.waiting.splice(i, 1)
        reject(new AbortError())
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.waiting.push(w)
    })
  }

  private release (s: QuerySandbox): void {
    const next = this.waiting.shift()
    if (next !== undefined && !this.closed) { next.resolve(s); return }
    this.idle.push(s)
  }

  /** Stop every sandbox process (and wait until each has exited). */
  async close (): Promise<void> {
    this.closed = true
    for (const w of this.waiting.splice(0)) w.reject(new ApiError('API_SHUTTING_DOWN', 'the server is shutting down'))
    this.idle.length = 0
    await Promise.all(this.all.splice(0).map(async s => { await s.close() }))
    this.mirror?.close()
    this.mirror = undefined
  }
}
