import { closeSync, constants, openSync, write as writeFd, writevSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { promisify } from 'node:util'
import { writeNewFileNative } from '../../crypto/index.js'
import { writeNewFileSync } from '../../util/index.js'
import { POOLED_WRITES_IN_FLIGHT, SLOW_SYNC_WRITE_MS, SYNC_WRITE_STALL_MS, SYNC_WRITES_PAUSE_MS } from '../constants.js'
import { cpuWait, type ThreadWait } from '../cpu-wait.js'

const writeAt = promisify(writeFd)

/**
 * How a block's file is opened: `made`, an empty file this process created ahead for it
 * (storage/tmp-files.ts: the inode's allocation, ~0.25 ms on this VM after many deletions, ran on
 * libuv's thread pool), is opened without O_CREAT, so a file that is gone fails (ENOENT) rather
 * than being created again; else the file is created, and must not exist (O_EXCL).
 */
function flagsFor (made: boolean): number {
  return made ? constants.O_WRONLY : constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL
}

/**
 * A small block's `parts` (`size` bytes) into its file in one synchronous open, write and close
 * (into the page cache; placement fsyncs it). A new file in one native call where this thread has
 * loaded the addon (session 31), else through node:fs.
 */
export function writeSmallBlock (dest: string, parts: readonly Uint8Array[], size: number, made = false): void {
  if (!made) {
    if (writeNewFileNative(dest, parts, size) !== 0) writeNewFileSync(dest, parts, size)
    return
  }
  const fd = openSync(dest, flagsFor(true))
  try {
    const n = writevSync(fd, parts)
    if (n !== size) throw shortWrite(n, size)
  } finally {
    closeSync(fd)
  }
}

/**
 * A file being received: its descriptor, a positional write through the pool, and its close (a
 * FileHandle's, or for a descriptor opened synchronously fs.write and a synchronous close: a file
 * nothing fsynced yet closes without I/O).
 */
export interface RangeFile {
  readonly fd: number
  write: (buf: Buffer, off: number, len: number, at: number) => Promise<{ bytesWritten: number }>
  close: () => Promise<void>
}

/**
 * How a range receive writes a large block's bytes into its new file in tmp/ (the page cache;
 * placement fsyncs it later): synchronously while such writes are fast, through libuv's thread pool
 * for a while after one was slow. Every write is positional (`at`), so writes of one file may be in
 * flight together; `settle(fh)` waits for a file's writes (and fails with the first that failed):
 * the receive calls it before its hash check and before it closes the file.
 *
 * Why synchronously: with every received megabyte hashed and written through the pool (FileHandle
 * or callback writes alike, the chunks copied first or not), V8 ran 47-98 full collections per
 * 1,000 MB in the pulling process, each marking the node's whole heap, against 2 with the same
 * writes made synchronously (docs/performance/pull.md, "Session 11: the 1 MB pull").
 *
 * Why not always: the kernel makes a writer wait when dirty pages pile up (a pull of gigabytes to a
 * slow disk), and a synchronous write then holds the node's event loop. Writes that stall (each
 * sleeping `stallMs` or more: the time its thread waited for a CPU or ran on one is not counted
 * (cpu-wait.ts): a page-cache write of 160 KiB takes ~50 µs, a preempted one looked like a stall
 * (session 14), and one into pages the hypervisor faults in ran 2-3 ms on the CPU (session 24))
 * are added up over each second; once they reach `slowMs` in a second (one long stall, or many short ones: ext4's journal
 * makes a writer wait 4-14 ms while other processes fsync), the writes of every range of this
 * process go through the pool for `pauseMs`. So a throttled disk holds the event loop for about
 * `slowMs`, plus the write that crosses it, per pause; a disk that hangs outright holds it for the
 * one write that finds out.
 *
 * While pooled, a write copies the received parts into a buffer of its own, reused from write to
 * write, and returns without waiting for the pool unless `inFlight` bytes of the process are
 * already being written: the receive reads on at once, and what the peer sent dies young. Awaiting
 * each pool write instead left the next bytes waiting in the stream's buffers across V8's young
 * collections (and behind placement's fsyncs on the same four pool threads), and what survived
 * them ended in the old generation, whose external memory set off a full collection every few
 * blocks (docs/performance/pull.md, "Session 12: the 1 MB pull").
 */
export class RangeWrites {
  private pooledUntil = -Infinity
  private slow: number | undefined
  private secondStart = -Infinity
  private stalledMs = 0
  private readonly slowMs: number
  private readonly stallMs: number
  private readonly pauseMs: number
  private readonly inFlight: number
  private readonly cpuWait: ThreadWait
  /** Copies of received bytes being written through the pool, in issue order, by file. */
  private readonly writing = new Map<RangeFile, Array<Promise<void>>>()
  private writingBytes = 0
  /** Each file's first failed write, until `settle` reports it. */
  private readonly failed = new Map<RangeFile, unknown>()
  /** Buffers of finished pooled writes, for the next ones (bounded by `inFlight`). */
  private readonly spare: Buffer[] = []

  /** `cpuWait`: what tells a write's own time from the time its thread waited for a CPU (cpu-wait.ts). */
  constructor (o: { slowMs?: number, stallMs?: number, pauseMs?: number, inFlight?: number, cpuWait?: ThreadWait } = {}) {
    this.slowMs = o.slowMs ?? SLOW_SYNC_WRITE_MS
    this.stallMs = o.stallMs ?? SYNC_WRITE_STALL_MS
    this.pauseMs = o.pauseMs ?? SYNC_WRITES_PAUSE_MS
    this.inFlight = o.inFlight ?? POOLED_WRITES_IN_FLIGHT
    this.cpuWait = o.cpuWait ?? cpuWait
  }

  /** Whether writes go through the pool now (a synchronous one was slow less than `pauseMs` ago). */
  get pooled (): boolean { return performance.now() < this.pooledUntil }

  /** The stalled synchronous writes' time (ms) in the second that paused them, the last time one did. */
  get slowWriteMs (): number | undefined { return this.slow }

  /**
   * Open the block's file (flagsFor: created, or `made` ahead): synchronously while writes are
   * fast, as the writes are. Through the pool, the open and the close cost a 1 MB block's receive
   * ~0.2 ms more CPU than the same calls made synchronously (two round trips, two promises, a
   * FileHandle to collect; docs/performance/pull.md, "Session 23: the 1 MB pull"). A slow disk (writes
   * paused to the pool) opens through the pool, so that it does not hold the event loop.
   */
  async open (path: string, made = false): Promise<RangeFile> {
    if (this.pooled) return await open(path, flagsFor(made), 0o644)
    const fd = openSync(path, flagsFor(made), 0o644)
    return {
      fd,
      write: async (buf, off, len, at) => await writeAt(fd, buf, off, len, at),
      close: async () => { closeSync(fd) }
    }
  }

  /**
   * Write `parts` (`want` bytes in all) at offset `at` of the file. Synchronously, or handed to the
   * pool (then `settle` reports its outcome). A short write fails.
   */
  async write (fh: RangeFile, parts: Uint8Array[], want: number, at: number): Promise<void> {
    const earlier = this.failed.get(fh)
    if (earlier !== undefined) throw earlier
    if (this.pooled) {
      this.toPool(fh, parts, want, at)
      while (this.writingBytes > this.inFlight) await this.oldest()
      return
    }
    const waited = this.cpuWait.now()
    const start = performance.now()
    const written = writevSync(fh.fd, parts, at)
    const wall = performance.now() - start
    // A write that took long only because the thread waited for a CPU is no stall of the disk.
    const ms = wall >= this.stallMs ? this.cpuWait.ownMs(wall, waited) : wall
    if (ms >= this.stallMs) {
      if (start - this.secondStart >= 1000) {
        this.secondStart = start
        this.stalledMs = 0
      }
      this.stalledMs += ms
      if (this.stalledMs >= this.slowMs) {
        this.slow = this.stalledMs
        this.stalledMs = 0
        this.pooledUntil = start + wall + this.pauseMs
      }
    }
    if (written !== want) throw shortWrite(written, want)
  }

  /** Wait for every write of `fh` handed to the pool; fails with the first that failed. */
  async settle (fh: RangeFile): Promise<void> {
    for (;;) {
      const pending = this.writing.get(fh)
      if (pending === undefined || pending.length === 0) break
      await pending[pending.length - 1]
    }
    this.writing.delete(fh)
    const err = this.failed.get(fh)
    this.failed.delete(fh)
    if (err !== undefined) throw err
  }

  private toPool (fh: RangeFile, parts: Uint8Array[], want: number, at: number): void {
    let buf = this.spare.pop()
    if (buf === undefined || buf.byteLength < want) buf = Buffer.allocUnsafeSlow(Math.max(want, buf?.byteLength ?? 0))
    let n = 0
    for (const p of parts) { buf.set(p, n); n += p.byteLength }
    // Fewer bytes than `want` would write a reused buffer's old bytes into the file.
    if (n !== want) throw shortWrite(n, want)
    const own = buf
    const queue = this.writing.get(fh) ?? []
    this.writing.set(fh, queue)
    this.writingBytes += want
    const p: Promise<void> = fh.write(own, 0, want, at).then(
      ({ bytesWritten }) => { if (bytesWritten !== want) throw shortWrite(bytesWritten, want) }
    ).catch((err: unknown) => {
      if (!this.failed.has(fh)) this.failed.set(fh, err)
    }).finally(() => {
      this.writingBytes -= want
      queue.splice(queue.indexOf(p), 1)
      if (this.spare.length * own.byteLength < this.inFlight) this.spare.push(own)
    })
    queue.push(p)
  }

  /** Wait for the oldest pooled write of the process to finish (any file's). */
  private async oldest (): Promise<void> {
    const first = [...this.writing.values()].find(q => q.length > 0)?.[0]
    if (first !== undefined) await first
  }
}

function shortWrite (written: number, want: number): Error {
  return new Error(`short write: ${written} of ${want} bytes`)
}

/** The process's writes: a throttled disk is the whole process's, not one stream's. */
export const rangeWrites = new RangeWrites()
