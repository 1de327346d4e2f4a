// A synchronous read or write that was slow only because its thread waited for a CPU (preempted on
// a busy machine) is no sign of a slow disk: the served range keeps reading synchronously, the
// pull keeps writing synchronously. Linux's /proc/thread-self/schedstat says how long the thread waited.
import { describe, expect, it, vi } from 'vitest'
import { open } from 'node:fs/promises'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs'
import type { Stream } from '@libp2p/interface'
import { CpuWait, cpuWait, type ThreadWait } from '../../../src/network/cpu-wait.js'
import { RangeWrites } from '../../../src/network/protocols/range-writes.js'
import { SendBatch } from '../../../src/network/protocols/send-file.js'
import { tmpDir } from '../../helpers/tmp.js'

/** Spin for `ms` of wall time. */
function spin (ms: number): void {
  const end = performance.now() + ms
  while (performance.now() < end) { /* busy */ }
}

describe('CPU wait of a thread', () => {
  it('reads this thread\'s run-queue wait from schedstat: never decreasing, and a busy neighbour per core makes it grow', async () => {
    const w = new CpuWait()
    const a = w.now()
    expect(a).toBeTypeOf('number')
    // Spinning threads, one more than there are cores (in this process, so on the same CPUs), make
    // the kernel share the CPUs: over a second of spinning here, this thread waits on the run queue.
    const { availableParallelism } = await import('node:os')
    const busy = Array.from({ length: availableParallelism() }, () => new Worker('const end = Date.now() + 1500; while (Date.now() < end) {}', { eval: true }))
    try {
      await new Promise(resolve => setTimeout(resolve, 100))
      const before = w.now()
      const start = performance.now()
      spin(1000)
      const wall = performance.now() - start
      // ownMs reads the wait once more itself, between these two readings: on a loaded machine
      // the thread may wait again in between (15 ms seen under the full suite), so its answer is
      // bounded by them rather than equal to either.
      const mid = w.now() ?? 0
      const own = w.ownMs(wall, before)
      const end = w.now() ?? 0
      expect(mid - (before ?? 0)).toBeGreaterThan(0)
      expect(own).toBeGreaterThanOrEqual(0)
      expect(own).toBeLessThan(wall)
      expect(own).toBeLessThanOrEqual(Math.max(0, wall - (mid - (before ?? 0))))
      expect(own).toBeGreaterThanOrEqual(Math.max(0, wall - (end - (before ?? 0))))
    } finally {
      await Promise.all(busy.map(async t => await t.terminate()))
      w.close()
    }
    expect(w.now()).toBeUndefined() // closed: the wall clock decides
    expect(w.ownMs(7, undefined)).toBe(7)
  })
})

describe('a thread that sleeps in the kernel (as on a slow disk) keeps that time as its own', () => {
  it.runIf(process.platform === 'linux')('100 ms asleep (Atomics.wait, not runnable, as a read blocked on the disk) is not taken for CPU wait', () => {
    const w = new CpuWait()
    try {
      const before = w.now()
      expect(before).toBeTypeOf('number')
      const start = performance.now()
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100)
      const wall = performance.now() - start
      // Only the wait for a CPU after waking (a loaded machine) is taken off: the sleep stays.
      expect(w.ownMs(wall, before)).toBeGreaterThanOrEqual(95)
    } finally {
      w.close()
    }
  })
})

describe('CPU wait where the kernel does not say, or says something odd', () => {
  const schedstat = (text: string): string => { const f = join(tmpDir(), 'schedstat'); writeFileSync(f, text); return f }

  it('a missing file (not Linux, a container without /proc) or one that cannot be read: nothing is subtracted', () => {
    for (const path of [join(tmpDir(), 'none'), tmpDir()]) { // absent; a directory opens, but its read fails
      const w = new CpuWait(path)
      expect(w.now()).toBeUndefined()
      expect(w.now()).toBeUndefined() // tried once: no retry per read
      expect(w.ownMs(12, undefined)).toBe(12)
      expect(w.ownMs(12, 3)).toBe(12)
      w.close()
    }
  })

  it('content that is not three counts gives no reading: nothing is subtracted', () => {
    for (const text of ['', '\n', '123', '123\n', '1 abc 3\n', '1 1e999 3\n', 'garbage']) {
      const w = new CpuWait(schedstat(text))
      expect(w.now(), JSON.stringify(text)).toBeUndefined()
      expect(w.ownMs(9, w.now())).toBe(9)
      w.close()
    }
  })

  it('a count that goes backwards subtracts nothing; one that grows by more than the wall time leaves 0, never less; the largest counts parse', () => {
    const f = schedstat('100 5000000 7\n') // 5 ms waited
    const w = new CpuWait(f)
    try {
      const before = w.now()
      expect(before).toBe(5)
      writeFileSync(f, '100 2000000 7\n') // 2 ms: backwards
      expect(w.ownMs(10, before)).toBe(10)
      writeFileSync(f, '100 50000000 7\n') // 50 ms waited during a 10 ms operation
      expect(w.ownMs(10, before)).toBe(0)
      writeFileSync(f, '100 8000000 7\n') // 3 ms of 10 waiting for a CPU
      expect(w.ownMs(10, before)).toBeCloseTo(7, 9)
      writeFileSync(f, '18446744073709551615 18446744073709551615 18446744073709551615\n')
      expect(w.now()).toBeCloseTo(18446744073709.551615, 0)
    } finally {
      w.close()
    }
  })
})

describe('range writes and CPU wait', () => {
  /** A clock where every synchronous write "takes" 5 ms, of which `waitMs` were spent waiting for a CPU. */
  async function writes (waitMs: number | undefined): Promise<{ pooled: boolean[], bytes: Buffer }> {
    let waited = 0
    const wait: ThreadWait = {
      now: () => waitMs === undefined ? undefined : waited,
      ownMs: (wall, before) => { if (before === undefined) return wall; waited += waitMs ?? 0; return Math.max(0, wall - (waited - before)) }
    }
    const clock = vi.spyOn(performance, 'now')
    let t = 0
    clock.mockImplementation(() => { t += 5; return t }) // from one reading to the next: 5 ms
    const path = join(tmpDir(), 'block.db')
    const fh = await open(path, 'wx')
    const pooled: boolean[] = []
    try {
      const w = new RangeWrites({ slowMs: 10, stallMs: 2, pauseMs: 60_000, cpuWait: wait })
      for (let i = 0; i < 4; i++) {
        await w.write(fh, [Buffer.alloc(100, i)], 100, i * 100)
        pooled.push(w.pooled)
      }
      await w.settle(fh)
    } finally {
      clock.mockRestore()
      await fh.close()
    }
    return { pooled, bytes: readFileSync(path) }
  }

  it('a write slow only while its thread waited for a CPU is no stall; the disk\'s own slowness still pauses the writes', async () => {
    const expected = Buffer.concat([0, 1, 2, 3].map(i => Buffer.alloc(100, i)))
    // 5 ms each, all of it waiting for a CPU: never a stall, always synchronous.
    const preempted = await writes(5)
    expect(preempted.pooled).toEqual([false, false, false, false])
    expect(preempted.bytes.equals(expected)).toBe(true)
    // 5 ms each, 1 of it waiting: 4 ms of the disk's own, twice makes 8, three times 12 ≥ 10: paused.
    const slow = await writes(1)
    expect(slow.pooled).toEqual([false, false, true, true])
    expect(slow.bytes.equals(expected)).toBe(true)
    // Where the kernel does not say, the wall clock decides, as before: 5, 10 ≥ 10.
    const unknown = await writes(undefined)
    expect(unknown.pooled).toEqual([false, true, true, true])
  })
})

describe('a served range\'s reads and CPU wait', () => {
  it('a read slow only while its thread waited for a CPU keeps the range reading synchronously; one slow of its own switches it to the pool', async () => {
    const path = join(tmpDir(), 'block.db')
    writeFileSync(path, Buffer.alloc(4096, 7))
    const fd = openSync(path, 'r')
    const own = vi.spyOn(cpuWait, 'ownMs')
    try {
      for (const [ownMs, pooled] of [[0, false], [5, true]] as const) {
        own.mockReturnValue(ownMs)
        // Every read takes longer than this on the wall clock.
        const batch = new SendBatch({} as unknown as Stream, new AbortController().signal, { slowSyncReadMs: 1e-9 })
        const into = Buffer.alloc(4096)
        expect(await batch.read(fd, into, 0)).toBe(4096)
        expect(into.every(b => b === 7)).toBe(true)
        expect(batch.pooled).toBe(pooled)
      }
    } finally {
      own.mockRestore()
      closeSync(fd)
    }
  })
})
