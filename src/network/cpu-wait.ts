import { closeSync, openSync, readSync } from 'node:fs'

/**
 * How long a synchronous file operation held this thread for reasons of its own (the disk, the
 * kernel's page cache, its journal), not counting the time the thread waited for a CPU while it
 * was ready to run. On a busy machine (two cores, a pull's two processes, their load threads and
 * V8's helpers) the kernel preempts a thread in the middle of a 50 µs page-cache read or write
 * now and then for 1-30 ms: timed by the wall clock alone, those reads and writes looked slow, and
 * sent the rest of a served range's reads, or 10 s of a pull's writes, through the thread pool in
 * every pull (docs/performance/pull.md, "Session 14: the 1 MB pull").
 *
 * Nor does the time it spent on its CPU: a page-cache write into fresh pages that the hypervisor
 * faults in took 2-3 ms per 160 KiB on this project's VM, on the CPU, and the thread pool would make
 * that copy dearer, not cheaper; a disk that makes a reader or writer wait puts the thread to sleep.
 * So what is left is the time the thread slept: wall time less the time it waited for a CPU and
 * the time it ran; and none at all if it never left its CPU.
 *
 * All three come from Linux's /proc/thread-self/schedstat: time on a CPU, time runnable on a run
 * queue (ns), and how many times the thread got a CPU (one more after every sleep or preemption).
 * The kernel brings the first two up to date when the thread leaves its CPU or at a scheduler tick
 * (1-10 ms), not when the file is read: the time on a CPU may include up to a tick from before the
 * operation (its sleep counts for that much less) or miss up to a tick at its end (the only way a
 * CPU-bound operation that was preempted can seem to have slept); the count is exact, which is why
 * an operation that never left its CPU counts for nothing. Where the file cannot be read, or says
 * nothing (all zero: the kernel keeps no such counts), nothing is subtracted: the wall clock decides.
 */
export interface ThreadWait {
  /** The thread's counts so far, or undefined where the kernel does not say. */
  now: () => ThreadReading | undefined
  /**
   * The part of `wallMs`, an operation that started when `before` was read, that the thread slept:
   * 0 if it never left its CPU meanwhile, else less the time it waited for a CPU and the time it ran.
   */
  ownMs: (wallMs: number, before: ThreadReading | undefined) => number
}

export interface ThreadReading {
  /** Time spent on a CPU (ms). */
  readonly ranMs: number
  /** Time spent runnable, waiting for a CPU (ms). */
  readonly waitedMs: number
  /** Times the thread got a CPU; undefined where the kernel keeps no count. */
  readonly runs: number | undefined
  /** performance.now() just before the counts were read (absent in readings made by hand). */
  readonly atMs?: number
}

export class CpuWait implements ThreadWait {
  private fd: number | undefined
  private tried = false
  private readonly buf = Buffer.alloc(96)

  /** `path`: the kernel's file for this thread (another only in tests: a missing or odd one, with a clock of their own). */
  constructor (private readonly path = '/proc/thread-self/schedstat', private readonly clock: () => number = () => performance.now()) {}

  /** The thread's counts so far, or undefined where the kernel does not say. */
  now (): ThreadReading | undefined {
    if (!this.tried) {
      this.tried = true
      // thread-self is resolved when opened: each thread (each module instance) opens its own.
      try { this.fd = openSync(this.path, 'r') } catch { this.fd = undefined }
    }
    if (this.fd === undefined) return undefined
    const atMs = this.clock()
    try {
      const n = readSync(this.fd, this.buf, 0, this.buf.byteLength, 0)
      const fields = this.buf.toString('latin1', 0, n).split(' ')
      const ran = Number(fields[0])
      const waited = Number(fields[1])
      if (!Number.isFinite(waited)) return undefined
      // A running thread has got a CPU at least once: 0 (or no count) means the kernel keeps none.
      const runs = fields.length === 3 ? Number(fields[2]) : NaN
      return {
        ranMs: Number.isFinite(ran) ? ran / 1e6 : 0,
        waitedMs: waited / 1e6,
        runs: Number.isFinite(runs) && runs > 0 ? runs : undefined,
        atMs
      }
    } catch {
      this.close()
      return undefined
    }
  }

  /**
   * The part of `wallMs`, an operation that started when `before` was read, that the thread slept
   * (see ThreadWait). The counts cover from `before` to the reading taken here, a little more than
   * the caller's clock: a preemption in either gap is in them, so the wall time taken off is the
   * span between the two readings where that is longer (else such a preemption was subtracted from
   * a wall time that never held it: mend32 saw 100 ms asleep read as 92.5).
   */
  ownMs (wallMs: number, before: ThreadReading | undefined): number {
    if (before === undefined) return wallMs
    const after = this.now()
    if (after === undefined) return wallMs
    if (before.runs !== undefined && after.runs === before.runs) return 0
    const span = before.atMs === undefined ? wallMs : Math.max(wallMs, this.clock() - before.atMs)
    const off = Math.max(0, after.waitedMs - before.waitedMs) + Math.max(0, after.ranMs - before.ranMs)
    return Math.max(0, span - off)
  }

  close (): void {
    if (this.fd !== undefined) closeSync(this.fd)
    this.fd = undefined
  }
}

/** This thread's (each module instance is one thread's). */
export const cpuWait = new CpuWait()
