import { closeSync, openSync, readSync } from 'node:fs'

/**
 * How long a synchronous file operation held this thread for reasons of its own (the disk, the
 * kernel's page cache, its journal), not counting the time the thread waited for a CPU while it
 * was ready to run. On a busy machine (two cores, a pull's two processes, their load threads and
 * V8's helpers) the kernel preempts a thread in the middle of a 50 µs page-cache read or write
 * now and then for 1-30 ms: timed by the wall clock alone, those reads and writes looked slow, and
 * sent the rest of a served range's reads, or 10 s of a pull's writes, through the thread pool in
 * every pull (docs/performance.md, "Session 14: the 1 MB pull").
 *
 * The waiting time comes from Linux's /proc/thread-self/schedstat (its second field: the time the
 * thread spent runnable on a run queue, in ns, updated when it gets a CPU back). Where that file
 * cannot be read, nothing is subtracted: the wall clock decides, as before.
 */
export interface ThreadWait {
  /** The thread's time spent waiting for a CPU so far (ms), or undefined where the kernel does not say. */
  now: () => number | undefined
  /** `wallMs` of an operation that started when `waitedBefore` was read, less the time the thread waited for a CPU since. */
  ownMs: (wallMs: number, waitedBefore: number | undefined) => number
}

export class CpuWait implements ThreadWait {
  private fd: number | undefined
  private tried = false
  private readonly buf = Buffer.alloc(96)

  /** `path`: the kernel's file for this thread (another only in tests: a missing or odd one). */
  constructor (private readonly path = '/proc/thread-self/schedstat') {}

  /** The thread's time spent waiting for a CPU so far (ms), or undefined where the kernel does not say. */
  now (): number | undefined {
    if (!this.tried) {
      this.tried = true
      // thread-self is resolved when opened: each thread (each module instance) opens its own.
      try { this.fd = openSync(this.path, 'r') } catch { this.fd = undefined }
    }
    if (this.fd === undefined) return undefined
    try {
      const n = readSync(this.fd, this.buf, 0, this.buf.byteLength, 0)
      const fields = this.buf.toString('latin1', 0, n).split(' ')
      const ns = Number(fields[1])
      return Number.isFinite(ns) ? ns / 1e6 : undefined
    } catch {
      this.close()
      return undefined
    }
  }

  /** `wallMs` of an operation that started when `waitedBefore` was read, less the time the thread waited for a CPU since. */
  ownMs (wallMs: number, waitedBefore: number | undefined): number {
    if (waitedBefore === undefined) return wallMs
    const after = this.now()
    if (after === undefined) return wallMs
    return Math.max(0, wallMs - Math.max(0, after - waitedBefore))
  }

  close (): void {
    if (this.fd !== undefined) closeSync(this.fd)
    this.fd = undefined
  }
}

/** This thread's (each module instance is one thread's). */
export const cpuWait = new CpuWait()
