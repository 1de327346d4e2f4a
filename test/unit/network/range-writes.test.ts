// A range's large blocks are written synchronously while writes are fast; a slow one sends every
// write of the process through the thread pool for a pause; the bytes are the same either way.
// Pooled writes are copies handed to the pool without waiting (up to a bound in flight); settle()
// waits for them and reports the first that failed.
import { describe, expect, it, vi } from 'vitest'
import { readFileSync } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { RangeWrites } from '../../../src/network/protocols/range-writes.js'
import type { ThreadWait } from '../../../src/network/cpu-wait.js'
import { tmpDir } from '../../helpers/tmp.js'

const parts = (n: number): Uint8Array[] => [Buffer.alloc(n, 1), Buffer.alloc(n, 2), Buffer.alloc(3, 3)]

/** Each write's path is seen by the pool's one entry point, FileHandle.write. */
async function writeAll (w: RangeWrites, rounds: number): Promise<{ path: string, pooledAfter: boolean[], poolWrites: number }> {
  const path = join(tmpDir(), 'block.db')
  const fh = await open(path, 'wx')
  const write = vi.spyOn(fh, 'write')
  const pooledAfter: boolean[] = []
  try {
    let at = 0
    for (let i = 0; i < rounds; i++) {
      const p = parts(1000 + i)
      const n = p.reduce((k, x) => k + x.byteLength, 0)
      await w.write(fh, p, n, at)
      at += n
      pooledAfter.push(w.pooled)
    }
    await w.settle(fh)
  } finally {
    await fh.close()
  }
  return { path, pooledAfter, poolWrites: write.mock.calls.length }
}

const expected = (rounds: number): Buffer => Buffer.concat(Array.from({ length: rounds }, (_, i) => Buffer.concat(parts(1000 + i))))

describe('range writes', () => {
  it('writes synchronously while writes are fast, and the file holds every part in order', async () => {
    const w = new RangeWrites({ slowMs: 60_000 })
    const { path, pooledAfter, poolWrites } = await writeAll(w, 5)
    expect(pooledAfter).toEqual([false, false, false, false, false])
    expect(poolWrites).toBe(0)
    expect(w.slowWriteMs).toBeUndefined()
    expect(readFileSync(path).equals(expected(5))).toBe(true)
  })

  it('sends the writes through the pool for the pause after a slow one, with the same bytes', async () => {
    // Every synchronous write counts as slow: the first is synchronous, the rest go through the pool.
    const w = new RangeWrites({ slowMs: 0, stallMs: 0, pauseMs: 60_000 })
    const { path, pooledAfter, poolWrites } = await writeAll(w, 4)
    expect(pooledAfter).toEqual([true, true, true, true])
    expect(poolWrites).toBe(3)
    expect(w.slowWriteMs).toBeGreaterThanOrEqual(0)
    expect(readFileSync(path).equals(expected(4))).toBe(true)
  })

  it('writes synchronously again once the pause is over', async () => {
    const w = new RangeWrites({ slowMs: 0, stallMs: 0, pauseMs: 0 })
    await writeAll(w, 1)
    expect(w.pooled).toBe(false)
  })

  it('adds up stalled writes over a second: many short stalls pause them as one long one does; fast writes count for nothing', async () => {
    // Every write counts as a stall; five of them reach the budget only together.
    const clock = vi.spyOn(performance, 'now')
    let t = 0
    clock.mockImplementation(() => { t += 1; return t }) // each synchronous write "takes" 1 ms
    // The clock is this test's: the thread's real CPU wait (schedstat, on a loaded machine) must
    // not be taken off its made-up milliseconds.
    const cpuWait: ThreadWait = { now: () => undefined, ownMs: wallMs => wallMs }
    try {
      const w = new RangeWrites({ slowMs: 5, stallMs: 1, pauseMs: 60_000, cpuWait })
      const { pooledAfter } = await writeAll(w, 6)
      expect(pooledAfter).toEqual([false, false, false, false, true, true])
      expect(w.slowWriteMs).toBe(5)
      // The same writes under the stall threshold never add up.
      const fast = new RangeWrites({ slowMs: 5, stallMs: 2, pauseMs: 60_000, cpuWait })
      expect((await writeAll(fast, 8)).pooledAfter.every(p => !p)).toBe(true)
    } finally {
      clock.mockRestore()
    }
  })

  it('a full disk fails the write with ENOSPC on both paths', async () => {
    const sync = new RangeWrites({ slowMs: 60_000 })
    const pooled = new RangeWrites({ slowMs: 0, stallMs: 0, pauseMs: 60_000 })
    await writeAll(pooled, 1) // its one synchronous write pauses them: the next go through the pool
    expect([sync.pooled, pooled.pooled]).toEqual([false, true])
    for (const w of [sync, pooled]) {
      const fh: FileHandle = await open('/dev/full', 'w')
      const write = vi.spyOn(fh, 'write')
      try {
        // Pooled, the failure comes with settle() (the write itself returned at once), and any later write of the file fails with it.
        const first = w.write(fh, parts(4096), 8195, 0)
        if (w === pooled) {
          await first
          await expect(w.settle(fh)).rejects.toMatchObject({ code: 'ENOSPC' })
        } else {
          await expect(first).rejects.toMatchObject({ code: 'ENOSPC' })
        }
        expect(write.mock.calls.length).toBe(w === pooled ? 1 : 0)
      } finally {
        await fh.close()
      }
    }
  })

  it('pooled: a write returns before the pool has written it, at most `inFlight` bytes wait, and the file ends whole', async () => {
    const w = new RangeWrites({ slowMs: 0, stallMs: 0, pauseMs: 60_000, inFlight: 5000 })
    const path = join(tmpDir(), 'pooled.db')
    const fh = await open(path, 'wx')
    const done: number[] = []
    const write = fh.write.bind(fh)
    const spy = vi.spyOn(fh, 'write').mockImplementation((async (buf: Buffer, off: number, len: number, at: number) => {
      const r = await write(buf, off, len, at)
      done.push(at)
      return r
    }) as never)
    try {
      await w.write(fh, parts(1000), 2003, 0) // synchronous: it pauses the writes
      expect(w.pooled).toBe(true)
      const parts2 = parts(1001)
      await w.write(fh, parts2, 2005, 2003)
      // Handed over, not written yet; the caller's buffers are free (the pool writes a copy).
      expect(done).toEqual([])
      for (const p of parts2) p.fill(9)
      // The third puts 4010 bytes in flight, within 5000; the fourth waits until one of them is written.
      await w.write(fh, parts(1002), 2007, 4008)
      expect(done).toEqual([])
      await w.write(fh, parts(1003), 2009, 6015)
      expect(done.length).toBeGreaterThan(0)
      await w.settle(fh)
      expect(spy.mock.calls.length).toBe(3)
    } finally {
      await fh.close()
    }
    expect(readFileSync(path).equals(expected(4))).toBe(true)
  })

  it('fails a short write', async () => {
    const w = new RangeWrites()
    const fh = await open(join(tmpDir(), 'short.db'), 'wx')
    try {
      await expect(w.write(fh, parts(10), 24, 0)).rejects.toThrow('short write: 23 of 24 bytes')
    } finally {
      await fh.close()
    }
  })
})
