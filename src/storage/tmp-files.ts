import { closeSync, constants, open, rm } from 'node:fs'
import { makeEmptyNative } from '../crypto/index.js'
import type { DataDir } from './layout.js'
import { tmpBlockPath } from './block-files.js'

// Files one request makes, one after another on one thread of libuv's pool, and such requests in
// flight at once (the pool has four threads, which placement's fsyncs share). Until session 41,
// eight requests of one file each, each its own callback and close on the main thread.
const BATCH = 8
const BATCHES = 2
// After a creation failed (tmp/ removed, a full disk), none for this long: the receives create their own files meanwhile, and report the error.
const RETRY_AFTER_MS = 1_000
const EXCL = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL

/**
 * Empty files of this process in the data directory's tmp/, created ahead on libuv's thread pool
 * for a catch-up's range receives, which take them synchronously. Why: this file system (ext4
 * without a journal) scans past every inode freed in the last minutes for each new inode, ~0.25
 * ms a creation after the benches' deletions, and the range receive created each block's file on
 * the pulling main thread (docs/performance/catchup.md, "Session 37: catch-up"). Opening a file that exists
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
  /** Requests in flight, each settling once its files are ready (or failed), and the files they make. */
  private readonly creating = new Set<Promise<void>>()
  private making = 0
  private refilling = false
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
    // A range takes its files in one burst: one refill after it, in requests of BATCH, not one
    // request per take.
    if (!this.refilling) {
      this.refilling = true
      queueMicrotask(() => { this.refilling = false; this.fill() })
    }
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
    while (!this.closed && this.creating.size < BATCHES && this.ready.length + this.making < this.target && performance.now() >= this.pausedUntil) {
      this.createBatch(Math.min(BATCH, this.target - this.ready.length - this.making))
    }
  }

  private createBatch (n: number): void {
    // The names (and tmp/ itself, at most once a second) on this thread; the inodes on the pool's.
    const paths: string[] = []
    try {
      for (let i = 0; i < n; i++) paths.push(tmpBlockPath(this.dir))
    } catch {
      this.pausedUntil = performance.now() + RETRY_AFTER_MS
      return
    }
    this.making += n
    const p = makeEmpty(paths).then(made => {
      for (const [i, path] of paths.entries()) if (made[i] === true) this.ready.push(path)
      if (made.includes(false)) this.pausedUntil = performance.now() + RETRY_AFTER_MS
    }).finally(() => {
      this.making -= n
      this.creating.delete(p)
      this.fill()
    })
    this.creating.add(p)
  }
}

/** Which of `paths` were made, empty (O_EXCL): in one request by the addon where it is built, else each by node:fs. */
async function makeEmpty (paths: readonly string[]): Promise<boolean[]> {
  const native = makeEmptyNative(paths)
  if (native !== undefined) {
    const { made } = await native
    return paths.map((_, i) => i < made)
  }
  return await Promise.all(paths.map(async path => await new Promise<boolean>(resolve => {
    open(path, EXCL, 0o644, (err, fd) => {
      if (err !== null) { resolve(false); return }
      // Closing an empty file nothing wrote does no I/O: here, not a second trip to the pool.
      try { closeSync(fd) } catch {}
      resolve(true)
    })
  })))
}
