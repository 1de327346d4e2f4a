import { closeSync, constants, open, rm } from 'node:fs'
import type { DataDir } from './layout.js'
import { tmpBlockPath } from './block-files.js'

// Creations in flight at once on libuv's thread pool (four threads, which placement's fsyncs share).
const CREATING = 8
// After a creation failed (tmp/ removed, a full disk), none for this long: the receives create their own files meanwhile, and report the error.
const RETRY_AFTER_MS = 1_000
const EXCL = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL

/**
 * Empty files of this process in the data directory's tmp/, created ahead on libuv's thread pool
 * for a catch-up's range receives, which take them synchronously. Why: this file system (ext4
 * without a journal) scans past every inode freed in the last minutes for each new inode, ~0.25
 * ms a creation after the benches' deletions, and the range receive created each block's file on
 * the pulling main thread (docs/performance.md, "Session 37: catch-up"). Opening a file that exists
 * allocates nothing.
 *
 * A file taken is the taker's: it is a download's file from then on (written, then placed or
 * discarded, as a freshly created one). The pool holds the others: each name is handed out once,
 * and `close` removes those nobody took; a crash leaves them to `cleanTmp`, like any file of a
 * process that is gone. It makes only as many as `keep` says: a download that never asks for
 * ranges creates nothing ahead.
 */
export class TmpFilePool {
  private readonly ready: string[] = []
  /** Creations in flight, each settling once its file is ready (or failed). */
  private readonly creating = new Set<Promise<void>>()
  private target = 0
  private closed = false
  private pausedUntil = -Infinity

  constructor (private readonly dir: DataDir) {}

  /** Files ready to be taken (for tests and diagnostics). */
  get size (): number { return this.ready.length }

  /**
   * Keep `n` files ready or being made from now on (none until told): as many as the next takes
   * will ask for at once, no more than the blocks still to come. Files beyond it are kept (for
   * the next takes, or removed by `close`).
   */
  keep (n: number): void {
    this.target = n
    this.fill()
  }

  /**
   * The path of an empty file created ahead, now the caller's, or undefined when none is ready
   * (the caller then creates its own, O_EXCL, as without the pool). The pool refills toward `keep`.
   */
  take (): string | undefined {
    if (this.closed) return undefined
    const path = this.ready.shift()
    this.fill()
    return path
  }

  /** No more takes; waits for the creations in flight, then removes every file not taken. */
  async close (): Promise<void> {
    this.closed = true
    while (this.creating.size > 0) await Promise.all([...this.creating])
    const left = this.ready.splice(0)
    // One that cannot be removed now is left to the next cleanTmp (a file of a process that is gone).
    await Promise.all(left.map(async p => { await new Promise<void>(resolve => { rm(p, { force: true }, () => { resolve() }) }) }))
  }

  private fill (): void {
    while (!this.closed && this.creating.size < CREATING && this.ready.length + this.creating.size < this.target && performance.now() >= this.pausedUntil) {
      this.createOne()
    }
  }
  private createOne (): void {
    // The name (and tmp/ itself, at most once a second) on this thread; the inode on the pool's.
    let path: string
    try {
      path = tmpBlockPath(this.dir)
    } catch {
      this.pausedUntil = performance.now() + RETRY_AFTER_MS
      return
    }
    const p = new Promise<void>(resolve => {
      open(path, EXCL, 0o644, (err, fd) => {
        if (err !== null) {
          this.pausedUntil = performance.now() + RETRY_AFTER_MS
        } else {
          // Closing an empty file nothing wrote does no I/O: here, not a second trip to the pool.
          try { closeSync(fd) } catch {}
          this.ready.push(path)
        }
        resolve()
      })
    }).finally(() => {
      this.creating.delete(p)
      this.fill()
    })
    this.creating.add(p)
  }
}
