// A range's large blocks are written synchronously while writes are fast; a slow one sends every
// write of the process through the thread pool for a pause; the bytes are the same either way.
import { describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { join } from 'node:path'
import { RangeWrites } from '../../../src/network/protocols/range-writes.js'
import { tmpDir } from '../../helpers/tmp.js'

const parts = (n: number): Uint8Array[] => [Buffer.alloc(n, 1), Buffer.alloc(n, 2), Buffer.alloc(3, 3)]

async function writeAll (w: RangeWrites, rounds: number): Promise<{ path: string, pooledAfter: boolean[] }> {
  const path = join(tmpDir(), 'block.db')
  const fh = await open(path, 'wx')
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
  return { path, pooledAfter }
}

const expected = (rounds: number): Buffer => Buffer.concat(Array.from({ length: rounds }, (_, i) => Buffer.concat(parts(1000 + i))))

describe('range writes', () => {
  it('writes synchronously while writes are fast, and the file holds every part in order', async () => {
    const w = new RangeWrites({ slowMs: 60_000 })
    const { path, pooledAfter } = await writeAll(w, 5)
    expect(pooledAfter).toEqual([false, false, false, false, false])
    expect(w.slowWriteMs).toBeUndefined()
    expect(readFileSync(path).equals(expected(5))).toBe(true)
  })

  it('sends the writes through the pool for the pause after a slow one, with the same bytes', async () => {
    // Every synchronous write counts as slow: the first is synchronous, the rest go through the pool.
    const w = new RangeWrites({ slowMs: 0, pauseMs: 60_000 })
    const { path, pooledAfter } = await writeAll(w, 4)
    expect(pooledAfter).toEqual([true, true, true, true])
    expect(w.slowWriteMs).toBeGreaterThanOrEqual(0)
    expect(readFileSync(path).equals(expected(4))).toBe(true)
  })

  it('writes synchronously again once the pause is over', async () => {
    const w = new RangeWrites({ slowMs: 0, pauseMs: 0 })
    await writeAll(w, 1)
    expect(w.pooled).toBe(false)
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
