import { systemFailure } from '../storage/index.js'
import { AbortError, failpoint } from '../util/index.js'
import { BUSY, type PendingStore } from './store.js'

interface Waiting<J, R> { job: J, signal?: AbortSignal, resolve: (r: R) => void, reject: (err: unknown) => void, settled?: () => void }
interface Done<J, R> { w: Waiting<J, R>, r: R }
/** One flush's appends: taken from the queue once the write lock is held, then committed or refused. */
interface Group<J, R> { defer: boolean, taken: Array<Waiting<J, R>>, committed: Array<Done<J, R>>, refused: Array<{ w: Waiting<J, R>, err: unknown }> }

/** Settled once: a reaction on it runs as a microtask at the end of the current task. */
const RESOLVED = Promise.resolve()

function resolve<J, R> (w: Waiting<J, R>, r: R): void {
  w.settled?.()
  w.resolve(r)
}

function reject<J, R> (w: Waiting<J, R>, err: unknown): void {
  w.settled?.()
  w.reject(err)
}

/**
 * Group commit for appends. Every append waits for an fsync, and an fsync takes milliseconds.
 * Appends that arrive while a commit is under way, or in the same turn of the event loop, are
 * therefore written in one transaction with one fsync. Each append gets its own savepoint, so one
 * refused append leaves the others whole. No append is acknowledged before the commit that holds
 * it, and a failed commit refuses every append in it. With one client this costs one extra turn
 * of the event loop. With many, the throughput grows with their number instead of staying at one
 * fsync per append.
 *
 * When appends come concurrently, the fsync is not the COMMIT's: the group commits without it
 * and then waits for an fsync of the WAL on libuv's thread pool (PendingStore.syncWal). While it
 * runs, the event loop reads, parses and commits the next group, whose own fsync starts once this
 * one is done; an append is acknowledged only after an fsync that began after its commit. A lone
 * client gains nothing from that (nothing else is waiting) and would pay for two thread hops, so
 * while `concurrent()` says no, a group's COMMIT does its own fsync (synchronous=FULL). After a
 * failed fsync nothing is acknowledged any more (sync()).
 *
 * A lone client does not wait for the event loop's turn to end either: while `concurrent()` says
 * no, no fsync runs and no other commit was made in this turn, an append commits at the end of
 * the task that submitted it (a microtask), so appends submitted together still share one
 * transaction. A second commit in the same turn waits for the turn's end as before, and with it
 * whatever else arrives in that turn (an HTTP server reads each request in its own task, so
 * concurrent clients' requests meet there).
 */
export class GroupCommit<J, R> {
  private queue: Array<Waiting<J, R>> = []
  private running = false
  private scheduled = false
  /** Committed appends waiting for an fsync that starts after their commit. */
  private unsynced: Array<Done<J, R>> = []
  private syncing = false
  /** A failed fsync of the WAL: from then on every append is refused with its error (sync()). */
  private failed: { err: unknown } | undefined
  /** A commit was made at the end of a task in this turn of the event loop (cleared at the turn's end). */
  private loneTurn = false
  /** The flush under way (its transaction's body, `inTransaction`, reads it). */
  private group: Group<J, R> | undefined
  private readonly endTurn = (): void => { this.loneTurn = false }
  private readonly flushNow = (): void => {
    this.scheduled = false
    this.flush()
  }

  /** The body of a group's transaction (PendingStore.writeNow), made once. */
  private readonly inTransaction = (): void => {
    const g = this.group as Group<J, R>
    // Taken once the write lock is held: whatever queued while waiting for it joins too.
    const taken = g.taken = this.queue.splice(0)
    for (const w of taken) {
      if (w.signal?.aborted === true) { g.refused.push({ w, err: new AbortError() }); continue }
      // Alone in its transaction, an append needs no savepoint: its refusal rolls the whole
      // transaction back (flush's catch), which is what refusing it means.
      if (taken.length === 1) { g.committed.push({ w, r: this.run(w.job) }); continue }
      this.store.stmt('SAVEPOINT append').run()
      try {
        const r = this.run(w.job)
        this.store.stmt('RELEASE append').run()
        g.committed.push({ w, r })
      } catch (err) {
        this.store.stmt('ROLLBACK TO append').run()
        this.store.stmt('RELEASE append').run()
        this.store.forgetTables() // a rolled-back append may have changed a table
        g.refused.push({ w, err })
      }
    }
    failpoint('ingest:append-inserted') // crash tests: rows written, COMMIT not yet
  }

  /**
   * `run` does one job inside the shared transaction (synchronously); `after` runs for each
   * job once its commit is durable.
   */
  constructor (
    private readonly store: PendingStore,
    private readonly run: (job: J) => R,
    private readonly after: (result: R) => void = () => {},
    private readonly concurrent: () => boolean = () => true,
    private readonly runAlone?: (job: J) => R | undefined
  ) {}

  /**
   * Not an async function: its caller awaits the promise itself, one hop fewer per append.
   * `settled` runs when the append is acknowledged or refused, just before its promise settles
   * (the caller's bookkeeping, without a promise of its own).
   */
  submit (job: J, signal?: AbortSignal, settled?: () => void): Promise<R> {
    if (signal?.aborted === true) {
      settled?.()
      return Promise.reject(new AbortError())
    }
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ job, signal, resolve, reject, settled })
      this.schedule()
    })
  }

  private schedule (): void {
    if (this.running || this.scheduled || this.queue.length === 0) return
    this.scheduled = true
    if (this.alone()) {
      this.loneTurn = true
      setImmediate(this.endTurn)
      // A microtask, without queueMicrotask's AsyncResource and bound function per call.
      void RESOLVED.then(this.flushNow)
    } else {
      setImmediate(this.flushNow)
    }
  }

  /** Nothing to share a commit with: no append concurrent lately, no fsync running, no commit made in this turn. */
  private alone (): boolean {
    return !this.loneTurn && !this.syncing && this.failed === undefined && !this.concurrent()
  }

  /**
   * Commit what is queued in one transaction. Synchronous while the write lock is free (the
   * usual case: a lone append costs no promise for it); while another process holds it, the
   * transaction is retried from a timer (flushLater), never blocking the event loop.
   */
  private flush (): void {
    const failed = this.failed
    if (failed !== undefined) {
      for (const w of this.queue.splice(0)) reject(w, failed.err)
      return
    }
    this.running = true
    const g: Group<J, R> = { defer: this.syncing || this.concurrent(), taken: [], committed: [], refused: [] }
    this.group = g
    try {
      if ((g.defer || !this.alone1(g)) && this.store.writeNow(this.inTransaction, g.defer) === BUSY) {
        void this.flushLater(g)
        return
      }
    } catch (err) {
      this.refuseGroup(g, err)
    }
    this.finish(g)
  }

  /**
   * A lone append committed by `runAlone` itself, one statement with its own fsync'd commit and no
   * transaction around it: true when done. False (nothing stored) when `runAlone` cannot take it;
   * a throw refuses it (the caller's catch: it is still the queue's only append).
   */
  private alone1 (g: Group<J, R>): boolean {
    const w = this.queue[0]
    if (this.runAlone === undefined || w === undefined || this.queue.length !== 1 || w.signal?.aborted === true) return false
    const r = this.runAlone(w.job)
    if (r === undefined) return false
    g.taken = this.queue.splice(0)
    g.committed.push({ w, r })
    return true
  }

  /** flush() once another process has released the write lock (PendingStore.write's retries). */
  private async flushLater (g: Group<J, R>): Promise<void> {
    try {
      await this.store.write(() => {
        this.group = g
        this.inTransaction()
      }, undefined, { deferSync: g.defer })
    } catch (err) {
      this.refuseGroup(g, err)
    }
    this.finish(g)
  }

  /** The commit itself failed (or the lock could not be had, or a lone append was refused): nothing of the group is stored. */
  private refuseGroup (g: Group<J, R>, err: unknown): void {
    this.store.forgetTables()
    for (const w of g.taken) reject(w, err)
    g.committed.length = 0
    g.refused.length = 0
    if (g.taken.length === 0) for (const w of this.queue.splice(0)) reject(w, err)
  }

  private finish (g: Group<J, R>): void {
    this.running = false
    this.group = undefined
    // A refused append stored nothing: no need to wait for the fsync to say so.
    for (const f of g.refused) reject(f.w, f.err)
    if (this.failed !== undefined) {
      // An fsync failed while this group waited for the write lock: nothing after it is acknowledged.
      for (const d of g.committed) reject(d.w, this.failed.err)
    } else if (g.defer && g.committed.length > 0) {
      this.unsynced.push(...g.committed)
      void this.sync()
    } else {
      this.settle(g.committed) // the COMMIT was fsync'd
    }
    this.schedule()
  }

  /** One fsync at a time; each covers every group committed before it began. */
  private async sync (): Promise<void> {
    if (this.syncing) return
    this.syncing = true
    try {
      while (this.unsynced.length > 0) {
        const group = this.unsynced.splice(0)
        let failure: { err: unknown } | undefined
        try {
          await this.store.syncWal()
        } catch (err) {
          failure = { err: systemFailure(err) ?? err } // EIO: IO_ERROR, with its hint
        }
        if (failure === undefined) { this.settle(group); continue }
        // Once an fsync has failed, a later one can succeed although the pages it could not write
        // are gone (Linux reports a writeback error once per descriptor), and WAL frames chain
        // their checksums: recovery drops every commit after a lost frame. So no append is
        // acknowledged any more, until pending.db is opened again (a restart of the node).
        this.failed = failure
        for (const d of [...group, ...this.unsynced.splice(0)]) reject(d.w, failure.err)
      }
    } finally {
      this.syncing = false
    }
  }

  private settle (done: Array<Done<J, R>>): void {
    if (done.length > 0) failpoint('ingest:append-durable') // crash tests: durable, not yet acknowledged
    for (const d of done) {
      resolve(d.w, d.r)
      this.after(d.r)
    }
  }
}
