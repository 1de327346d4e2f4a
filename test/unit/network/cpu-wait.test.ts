// A synchronous read or write that was slow only because its thread waited for a CPU (preempted on
// a busy machine) is no sign of a slow disk: the served range keeps reading synchronously, the
// pull keeps writing synchronously. Linux's /proc/thread-self/schedstat says how long the thread waited.
import { describe, expect, it, vi } from 'vitest'
import { open } from 'node:fs/promises'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs'
import type { Stream } from '@libp2p/interface'
import { CpuWait, cpuWait, type ThreadReading } from '../../../src/network/cpu-wait.js'
import { RangeWrites } from '../../../src/network/protocols/range-writes.js'
import { SendBatch } from '../../../src/network/protocols/send-file.js'
import { tmpDir } from '../../helpers/tmp.js'

/** A clock that stands still, for counts written by hand: the wall time is the caller's alone. */
const STOPPED = (): number => 0

/** Spin for `ms` of wall time. */
function spin (ms: number): void {
  const end = performance.now() + ms
  while (performance.now() < end) { /* busy */ }
}

describe('CPU wait of a thread', () => {
  it('reads this thread\'s run-queue wait from schedstat: never decreasing, and a busy neighbour per core makes it grow', async () => {
    const w = new CpuWait()
    const a = w.now()
    expect(a?.waitedMs).toBeTypeOf('number')
    expect(a?.runs).toBeGreaterThan(0)
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
      const mid = w.now()?.waitedMs ?? 0
      const own = w.ownMs(wall, before)
      const end = w.now()?.waitedMs ?? 0
      const from = before?.waitedMs ?? 0
      expect(mid - from).toBeGreaterThan(0)
      expect(own).toBeGreaterThanOrEqual(0)
      expect(own).toBeLessThan(wall)
      expect(own).toBeLessThanOrEqual(Math.max(0, wall - (mid - from)))
      // It never slept: what it did not wait for a CPU it ran. The kernel's counts lag by a tick, and
      // on a VM the hypervisor's steal time is in neither count (105 ms of 1,000 seen under the full
      // suite at a load of 12 on 2 cores), so the bound is half the spin: a thread that slept would
      // keep nearly all of it.
      expect(own).toBeLessThan(wall / 2)
      expect(end).toBeGreaterThanOrEqual(mid)
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
      expect(before?.waitedMs).toBeTypeOf('number')
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

describe('CPU wait counted outside the caller\'s clock', () => {
  it('a preemption between the first reading and the operation\'s clock is taken off the readings\' span, not off the operation\'s wall time', () => {
    const f = join(tmpDir(), 'schedstat')
    writeFileSync(f, '100 5000000 7\n')
    const w = new CpuWait(f)
    try {
      const before = w.now()
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 30) // preempted for 30 ms before the clock starts
      const start = performance.now()
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50) // the operation: 50 ms asleep
      const wall = performance.now() - start
      writeFileSync(f, '100 35000000 9\n') // the 30 ms waiting for a CPU are in the counts
      // It read wall − 30 = ~20 ms: a sleep of 50 taken for little more than a preemption.
      expect(w.ownMs(wall, before)).toBeGreaterThanOrEqual(wall - 2)
    } finally {
      w.close()
    }
  })
})

describe('CPU wait where the kernel does not say, or says something odd', () => {
  const schedstat = (text: string): string => { const f = join(tmpDir(), 'schedstat'); writeFileSync(f, text); return f }

  it('a missing file (not Linux, a container without /proc) or one that cannot be read: nothing is subtracted', () => {
    for (const path of [join(tmpDir(), 'none'), tmpDir()]) { // absent; a directory opens, but its read fails
      const w = new CpuWait(path, STOPPED)
      expect(w.now()).toBeUndefined()
      expect(w.now()).toBeUndefined() // tried once: no retry per read
      expect(w.ownMs(12, undefined)).toBe(12)
      expect(w.ownMs(12, { ranMs: 1, waitedMs: 3, runs: 5 })).toBe(12)
      w.close()
    }
  })

  it('content that is not three counts gives no reading: nothing is subtracted', () => {
    for (const text of ['', '\n', '123', '123\n', '1 abc 3\n', '1 1e999 3\n', 'garbage']) {
      const w = new CpuWait(schedstat(text), STOPPED)
      expect(w.now(), JSON.stringify(text)).toBeUndefined()
      expect(w.ownMs(9, w.now())).toBe(9)
      w.close()
    }
  })

  it('a count that goes backwards subtracts nothing; one that grows by more than the wall time leaves 0, never less; the largest counts parse', () => {
    const f = schedstat('100 5000000 7\n') // 5 ms waited
    const w = new CpuWait(f, STOPPED)
    try {
      const before = w.now()
      expect(before).toEqual({ ranMs: 0.0001, waitedMs: 5, runs: 7, atMs: 0 })
      writeFileSync(f, '100 2000000 8\n') // 2 ms: backwards
      expect(w.ownMs(10, before)).toBe(10)
      writeFileSync(f, '100 50000000 8\n') // 50 ms waited during a 10 ms operation
      expect(w.ownMs(10, before)).toBe(0)
      writeFileSync(f, '100 8000000 8\n') // 3 ms of 10 waiting for a CPU
      expect(w.ownMs(10, before)).toBeCloseTo(7, 9)
      writeFileSync(f, '18446744073709551615 18446744073709551615 18446744073709551615\n')
      expect(w.now()?.waitedMs).toBeCloseTo(18446744073709.551615, 0)
    } finally {
      w.close()
    }
  })
})

describe('the time a thread ran during an operation', () => {
  const schedstat = (text: string): string => { const f = join(tmpDir(), 'schedstat'); writeFileSync(f, text); return f }

  it('is not the disk\'s: an operation that never left its CPU counts for nothing, however long; one that did, for what it neither ran nor waited; where the kernel keeps no counts (all zero) the wall clock decides', () => {
    const f = schedstat('100 5000000 7\n')
    const w = new CpuWait(f, STOPPED)
    try {
      const before = w.now()
      writeFileSync(f, '9000100 5000000 7\n') // 9 ms on the CPU, never given it anew
      expect(w.ownMs(9, before)).toBe(0)
      writeFileSync(f, '100 5000000 7\n') // the same, the kernel's time on a CPU not yet brought up to date
      expect(w.ownMs(9, before)).toBe(0)
      writeFileSync(f, '100 5000000 8\n') // given a CPU anew without waiting for one nor running: it slept
      expect(w.ownMs(9, before)).toBe(9)
      writeFileSync(f, '4000100 6000000 8\n') // 4 ms on a CPU, 1 waiting for one: 4 asleep
      expect(w.ownMs(9, before)).toBeCloseTo(4, 9)
    } finally {
      w.close()
    }
    const none = schedstat('0 0 0\n')
    const z = new CpuWait(none, STOPPED)
    try {
      const before = z.now()
      expect(before).toEqual({ ranMs: 0, waitedMs: 0, runs: undefined, atMs: 0 })
      expect(z.ownMs(9, before)).toBe(9)
    } finally {
      z.close()
    }
  })

  it.runIf(process.platform === 'linux')('this thread\'s run count grows when it sleeps', () => {
    const w = new CpuWait()
    try {
      const before = w.now()
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20)
      const after = w.now()
      expect(after?.runs).toBeGreaterThan(before?.runs ?? Infinity)
    } finally {
      w.close()
    }
  })
})

describe('range writes and CPU wait', () => {
  /**
   * A clock where every synchronous write "takes" 5 ms, and a schedstat (read by the real CpuWait)
   * that moves by `waitMs` waited for a CPU, `ranMs` on one and `runs` times given a CPU per
   * write; `waitMs` undefined: no schedstat.
   */
  async function writes (waitMs: number | undefined, runs = 1, ranMs = 0): Promise<{ pooled: boolean[], bytes: Buffer }> {
    const stat = join(tmpDir(), 'schedstat')
    let n = 0
    const text = (): string => `${n * ranMs * 1e6} ${n * (waitMs ?? 0) * 1e6} ${7 + n * runs}\n`
    if (waitMs !== undefined) writeFileSync(stat, text())
    // The thread's counts move while the write runs: after it, before its own time is asked for.
    class Scripted extends CpuWait {
      override ownMs (wallMs: number, before: ThreadReading | undefined): number {
        n++
        if (waitMs !== undefined) writeFileSync(stat, text())
        return super.ownMs(wallMs, before)
      }
    }
    const wait = new Scripted(waitMs === undefined ? join(tmpDir(), 'none') : stat, STOPPED) // the writer's clock alone is the wall time
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
      wait.close()
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

  it('a write slow on its CPU (page-cache pages the hypervisor faults in), preempted or not, is no stall; one that slept is', async () => {
    // 5 ms each, no wait for a CPU, and the thread never given a CPU anew: CPU work, never paused
    // (the thread pool would do the same copy, dearer).
    const onCpu = await writes(0, 0, 5)
    expect(onCpu.pooled).toEqual([false, false, false, false])
    expect(onCpu.bytes.equals(Buffer.concat([0, 1, 2, 3].map(i => Buffer.alloc(100, i))))).toBe(true)
    // 3 ms on the CPU and, preempted, 2 waiting for it: no stall either (counted by the wait alone: 3 ms each, paused at the fourth).
    expect((await writes(2, 1, 3)).pooled).toEqual([false, false, false, false])
    // The same 5 ms with the thread put to sleep once each (a disk that makes it wait): 5, 10 ≥ 10.
    expect((await writes(0, 1)).pooled).toEqual([false, true, true, true])
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
