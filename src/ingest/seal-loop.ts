import { errorCode, errorMessage, hintOf, isPetalError, nullLogger, runLoop, type Logger } from '../util/index.js'
import { systemFailure } from '../storage/index.js'
import type { Ingest, SealPolicy } from './service.js'
import type { SealedBlock } from './sealer.js'

export interface SealLoopOptions extends SealPolicy {
  /** How often pending.db and the tip are looked at when nothing wakes the loop (default 250 ms). */
  pollMs?: number
  /** Seal only while this says so (the node: not while catching up with peers). */
  ready?: () => boolean
}

export const DEFAULT_SEAL_EVERY_MS = 5_000
export const DEFAULT_SEAL_POLL_MS = 250
/**
 * The longest wait between passes refused PERMISSION_DENIED: a pass refused late (by an ACL the
 * checks before the build do not see) built its block first, and a fix is taken up within this.
 */
export const REFUSED_WAIT_MAX_MS = 2_000

/**
 * The node's seal loop: seals pending rows when the policy says so, and follows reorgs (rows of
 * an orphaned block go back to pending and are sealed again). Appends in this process wake it at
 * once; appends by other processes (`petal append`) are seen at the next poll. An error is logged
 * and the loop goes on after a back-off: a node must not stop sealing silently.
 */
export class SealLoop {
  private readonly controller = new AbortController()
  private loop: Promise<void> | undefined
  private wakeUp: (() => void) | undefined
  private readonly logger: Logger
  private unsubscribe: (() => void) | undefined
  /** The refusal the log has said (sealDue), until a pass goes well. */
  private refused: string | undefined
  /** Passes refused in a row (sealDue): each waits longer, up to REFUSED_WAIT_MAX_MS. */
  private refusedPasses = 0
  /** Completed passes (looked at the pending rows and the tip, sealed if due): for observers and tests. */
  passes = 0

  constructor (private readonly ingest: Ingest, private readonly options: SealLoopOptions, logger?: Logger) {
    this.logger = logger ?? nullLogger
  }

  /** The policy it seals by (`petal status`, GET /status: when the next seal is due). */
  get policy (): SealPolicy { return { everyMs: this.options.everyMs, rows: this.options.rows, bytes: this.options.bytes } }

  start (): void {
    if (this.loop !== undefined) return
    // An append can make rows due at once only under a row or byte threshold, or when rows fall
    // due sooner than the poll interval; otherwise the next poll sees them as early as a wake
    // would, and a pass per append (16 clients: hundreds a second) only takes the HTTP path's time.
    const poll = this.options.pollMs ?? DEFAULT_SEAL_POLL_MS
    if (this.options.everyMs < poll || this.options.rows !== undefined || this.options.bytes !== undefined) {
      this.unsubscribe = this.ingest.on('appended', () => { this.wake() })
    }
    // One pass per run of the body; a failing pass is logged and retried with backoff (runLoop).
    this.loop = runLoop('sealing pending rows', { signal: this.controller.signal, logger: this.logger }, async signal => {
      const sealed = this.options.ready?.() !== false ? await this.sealDue(signal) : []
      this.passes++
      await this.pause(this.nextWaitMs(sealed.length > 0), signal)
    })
  }

  /**
   * One pass. A refusal this user can only fix by hand (PERMISSION_DENIED: seal.lock or pending.db
   * left another user's by a `sudo petal …`, a block directory or tmp/ this user may not write) is
   * logged once, with its hint, and the next passes look again quietly, at the poll interval and
   * then less often (nextWaitMs, up to REFUSED_WAIT_MAX_MS): logged at every pass's backoff (1 s,
   * doubling to a minute), it filled the log, and the backoff kept the rows waiting up to a minute
   * after the fix (sessions 53 and 54's left). An operating system's or SQLite's refusal is coded
   * first (systemFailure): a shard directory's EACCES at the rename was logged raw. Said again when
   * it changes, or comes back after a pass that went well.
   */
  private async sealDue (signal: AbortSignal): Promise<SealedBlock[]> {
    try {
      const sealed = await this.ingest.sealDue(this.options, signal)
      this.refused = undefined
      this.refusedPasses = 0
      return sealed
    } catch (thrown) {
      const err = isPetalError(thrown) ? thrown : systemFailure(thrown) ?? thrown
      if (!refusedByPermissions(err) || signal.aborted) throw err
      const message = errorMessage(err)
      if (this.refused !== message) {
        this.logger.warn(`cannot seal pending rows: ${message}; looking again quietly until it can`, { code: 'PERMISSION_DENIED', hint: isPetalError(err) ? hintOf(err) : undefined })
      }
      this.refused = message
      this.refusedPasses++
      return []
    }
  }

  /** Look again now (rows were appended, the tip changed). */
  wake (): void {
    this.wakeUp?.()
  }

  /** Start no seal from now on, and stop one under way at its next check (stop() waits for it). */
  abort (): void {
    this.controller.abort()
    this.unsubscribe?.()
    this.wake()
  }

  /** abort(), then wait until a seal under way has settled: its block sealed, or its rows pending again and its files removed. */
  async stop (): Promise<void> {
    this.abort()
    await this.loop
  }

  /**
   * Until the oldest pending row falls due, but at most a poll interval. Rows that are due but
   * were not sealed (not a signatory now, another process sealing) are looked at again after a
   * poll interval, not in a busy loop.
   */
  private nextWaitMs (sealedSome: boolean): number {
    const poll = this.options.pollMs ?? DEFAULT_SEAL_POLL_MS
    if (this.refusedPasses > 0) return Math.max(poll, Math.min(poll * 2 ** (this.refusedPasses - 1), REFUSED_WAIT_MAX_MS))
    const oldest = this.ingest.oldestPendingMs()
    if (oldest === undefined) return poll
    const untilDue = this.options.everyMs - oldest
    if (untilDue <= 0) return sealedSome ? 0 : poll
    return Math.min(poll, untilDue)
  }

  private async pause (ms: number, signal: AbortSignal): Promise<void> {
    await new Promise<void>(resolve => {
      const done = (): void => { clearTimeout(t); signal.removeEventListener('abort', done); this.wakeUp = undefined; resolve() }
      const t = setTimeout(done, ms)
      signal.addEventListener('abort', done, { once: true })
      this.wakeUp = done
    })
  }
}

/**
 * A refusal only a change of owner or mode fixes: PERMISSION_DENIED, but not from SQLite's open
 * codes, which a full or failing disk ends in too (SQLITE_CANTOPEN when the disk refuses to create
 * the block in tmp/, SQLITE_READONLY when it refuses a read-write open: io-faults-seal.test.ts). A
 * disk's failure keeps the loop's logged retries with backoff; cc2b1c42's quiet looks took it for
 * a permission and logged it once.
 */
function refusedByPermissions (err: unknown): boolean {
  if (errorCode(err) !== 'PERMISSION_DENIED') return false
  const details = (err as { details?: { systemCode?: unknown } }).details
  const sys = typeof details?.systemCode === 'string' ? details.systemCode : undefined
  return sys === undefined || !(sys === 'SQLITE_CANTOPEN' || sys === 'SQLITE_PERM' || sys.startsWith('SQLITE_READONLY'))
}
