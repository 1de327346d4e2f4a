// A range's large blocks are written synchronously while writes are fast; a slow one sends every
// write of the process through the thread pool for a pause; the bytes are the same either way.
import { describe, expect, it, vi } from 'vitest'
import { readFileSync } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { RangeWrites } from '../../../src/network/protocols/range-writes.js'
import { tmpDir } from '../../helpers/tmp.js'

const parts = (n: number): Uint8Array[] => [Buffer.alloc(n, 1), Buffer.alloc(n, 2), Buffer.alloc(3, 3)]

/** Each write's path is seen by the pool's one entry point, FileHandle.writev. */
async function writeAll (w: RangeWrites, rounds: number): Promise<{ path: string, pooledAfter: boolean[], poolWrites: number }> {
  const path = join(tmpDir(), 'block.db')
  const fh = await open(path, 'wx')
  const writev = vi.spyOn(fh, 'writev')
  const pooledAfter: boolean[] = []
  try {
    for (let i = 0; i < rounds; i++) {
      const p = parts(1000 + i)
      await w.write(fh, p, p.reduce((n, x) => n + x.byteLength, 0))
      pooledAfter.push(w.pooled)
    }
  } finally {
    await fh.close()
  }
  return { path, pooledAfter, poolWrites: writev.mock.calls.length }
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
    try {
      const w = new RangeWrites({ slowMs: 5, stallMs: 1, pauseMs: 60_000 })
      const { pooledAfter } = await writeAll(w, 6)
      expect(pooledAfter).toEqual([false, false, false, false, true, true])
      expect(w.slowWriteMs).toBe(5)
      // The same writes under the stall threshold never add up.
      const fast = new RangeWrites({ slowMs: 5, stallMs: 2, pauseMs: 60_000 })
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
      const writev = vi.spyOn(fh, 'writev')
      try {
        await expect(w.write(fh, parts(4096), 8195)).rejects.toMatchObject({ code: 'ENOSPC' })
        expect(writev.mock.calls.length).toBe(w === pooled ? 1 : 0)
      } finally {
        await fh.close()
      }
    }
  })

  it('fails a short write', async () => {
    const w = new RangeWrites()
    const fh = await open(join(tmpDir(), 'short.db'), 'wx')
    try {
      await expect(w.write(fh, parts(10), 24)).rejects.toThrow('short write: 23 of 24 bytes')
    } finally {
      await fh.close()
    }
  })
})
