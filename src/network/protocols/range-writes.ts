import { writevSync } from 'node:fs'
import type { FileHandle } from 'node:fs/promises'
import { SLOW_SYNC_WRITE_MS, SYNC_WRITE_STALL_MS, SYNC_WRITES_PAUSE_MS } from '../constants.js'

/**
 * How a range receive writes a large block's bytes into its new file in tmp/ (the page cache;
 * placement fsyncs it later): synchronously while such writes are fast, through libuv's thread pool
 * for a while after one was slow.
 *
 * Why synchronously: with every received megabyte hashed and written through the pool (FileHandle
 * or callback writes alike, the chunks copied first or not), V8 ran 47-98 full collections per
 * 1,000 MB in the pulling process, each marking the node's whole heap, against 2 with the same
 * writes made synchronously (docs/performance.md, "Session 11: the 1 MB pull").
 *
 * Why not always: the kernel makes a writer wait when dirty pages pile up (a pull of gigabytes to a
 * slow disk), and a synchronous write then holds the node's event loop. Writes that stall (each
 * taking `stallMs` or more: a page-cache write of 160 KiB takes ~50 µs) are added up over each
 * second; once they reach `slowMs` in a second (one long stall, or many short ones: ext4's journal
 * makes a writer wait 4-14 ms while other processes fsync), the writes of every range of this
 * process go through the pool for `pauseMs`. So a throttled disk holds the event loop for about
 * `slowMs`, plus the write that crosses it, per pause; a disk that hangs outright holds it for the
 * one write that finds out.
 */
export class RangeWrites {
  private pooledUntil = -Infinity
  private slow: number | undefined
  private secondStart = -Infinity
  private stalledMs = 0
  private readonly slowMs: number
  private readonly stallMs: number
  private readonly pauseMs: number

  constructor (o: { slowMs?: number, stallMs?: number, pauseMs?: number } = {}) {
    this.slowMs = o.slowMs ?? SLOW_SYNC_WRITE_MS
    this.stallMs = o.stallMs ?? SYNC_WRITE_STALL_MS
    this.pauseMs = o.pauseMs ?? SYNC_WRITES_PAUSE_MS
  }

  /** Whether writes go through the pool now (a synchronous one was slow less than `pauseMs` ago). */
  get pooled (): boolean { return performance.now() < this.pooledUntil }

  /** The stalled synchronous writes' time (ms) in the second that paused them, the last time one did. */
  get slowWriteMs (): number | undefined { return this.slow }

  /** Write `parts` (`want` bytes in all) at the file's current position; a short write fails. */
  async write (fh: FileHandle, parts: Uint8Array[], want: number): Promise<void> {
    let written: number
    if (this.pooled) {
      written = (await fh.writev(parts)).bytesWritten
    } else {
      const start = performance.now()
      written = writevSync(fh.fd, parts)
      const ms = performance.now() - start
      if (ms >= this.stallMs) {
        if (start - this.secondStart >= 1000) {
          this.secondStart = start
          this.stalledMs = 0
        }
        this.stalledMs += ms
        if (this.stalledMs >= this.slowMs) {
          this.slow = this.stalledMs
          this.stalledMs = 0
          this.pooledUntil = start + ms + this.pauseMs
        }
      }
    }
    if (written !== want) throw new Error(`short write: ${written} of ${want} bytes`)
  }
}

/** The process's writes: a throttled disk is the whole process's, not one stream's. */
export const rangeWrites = new RangeWrites()
