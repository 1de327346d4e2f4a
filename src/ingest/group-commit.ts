import { systemFailure } from '../storage/index.js'
import { AbortError, failpoint } from '../util/index.js'
import type { PendingStore } from './store.js'

interface Waiting<J, R> { job: J, signal?: AbortSignal, resolve: (r: R) => void, reject: (err: unknown) => void }
interface Done<J, R> { w: Waiting<J, R>, r: R }

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
  private readonly endTurn = (): void => { this.loneTurn = false }
  private readonly flushNow = (): void => {
    this.scheduled = false
    void this.flush()
  }

  /**
   * `run` does one job inside the shared transaction (synchronously); `after` runs for each
   * job once its commit is durable.
   */
  constructor (
    private readonly store: PendingStore,
    private readonly run: (job: J) => R,
    private readonly after: (result: R) => void = () => {},
    private readonly concurrent: () => boolean = () => true
  ) {}

  /** Not an async function: its caller awaits the promise itself, one hop fewer per append. */
  submit (job: J, signal?: AbortSignal): Promise<R> {
    if (signal?.aborted === true) return Promise.reject(new AbortError())
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ job, signal, resolve, reject })
      this.schedule()
    })
  }

  private schedule (): void {
    if (this.running || this.scheduled || this.queue.length === 0) return
    this.scheduled = true
    if (this.alone()) {
      this.loneTurn = true
      setImmediate(this.endTurn)
      queueMicrotask(this.flushNow)
    } else {
      setImmediate(this.flushNow)
    }
  }

  /** Nothing to share a commit with: no append concurrent lately, no fsync running, no commit made in this turn. */
  private alone (): boolean {
    return !this.loneTurn && !this.syncing && this.failed === undefined && !this.concurrent()
  }

  private async flush (): Promise<void> {
    const failed = this.failed
    if (failed !== undefined) {
      for (const w of this.queue.splice(0)) w.reject(failed.err)
      return
    }
    this.running = true
    const defer = this.syncing || this.concurrent()
    const committed: Array<Done<J, R>> = []
    const refused: Array<{ w: Waiting<J, R>, err: unknown }> = []
    let taken: Array<Waiting<J, R>> = []
    try {
      await this.store.write(() => {
        // Taken once the write lock is held: whatever queued while waiting for it joins too.
        taken = this.queue.splice(0)
        for (const w of taken) {
          if (w.signal?.aborted === true) { refused.push({ w, err: new AbortError() }); continue }
          // Alone in its transaction, an append needs no savepoint: its refusal rolls the whole
          // transaction back (the catch below), which is what refusing it means.
          if (taken.length === 1) { committed.push({ w, r: this.run(w.job) }); continue }
          this.store.stmt('SAVEPOINT append').run()
          try {
            const r = this.run(w.job)
            this.store.stmt('RELEASE append').run()
            committed.push({ w, r })
          } catch (err) {
            this.store.stmt('ROLLBACK TO append').run()
            this.store.stmt('RELEASE append').run()
            this.store.forgetTables() // a rolled-back append may have changed a table
            refused.push({ w, err })
          }
        }
        failpoint('ingest:append-inserted') // crash tests: rows written, COMMIT not yet
      }, undefined, { deferSync: defer })
    } catch (err) {
      // The commit itself failed (or the lock could not be had, or a lone append was refused):
      // nothing of this group is stored.
      this.store.forgetTables()
      for (const w of taken) w.reject(err)
      committed.length = 0
      refused.length = 0
      if (taken.length === 0) for (const w of this.queue.splice(0)) w.reject(err)
    } finally {
      this.running = false
    }
    // A refused append stored nothing: no need to wait for the fsync to say so.
    for (const f of refused) f.w.reject(f.err)
    if (this.failed !== undefined) {
      // An fsync failed while this group waited for the write lock: nothing after it is acknowledged.
      for (const d of committed) d.w.reject(this.failed.err)
    } else if (defer && committed.length > 0) {
      this.unsynced.push(...committed)
      void this.sync()
    } else {
      this.settle(committed) // the COMMIT was fsync'd
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
        for (const d of [...group, ...this.unsynced.splice(0)]) d.w.reject(failure.err)
      }
    } finally {
      this.syncing = false
    }
  }

  private settle (done: Array<Done<J, R>>): void {
    if (done.length > 0) failpoint('ingest:append-durable') // crash tests: durable, not yet acknowledged
    for (const d of done) {
      d.w.resolve(d.r)
      this.after(d.r)
    }
  }
}
