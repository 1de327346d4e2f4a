// One block of a range received into its file (receiveRangeBlock): the rate floor and the block's
// budget are the peer's deadlines, and time spent on this node's own disk is not held against it.
// The stream is a stand-in that hands out the block's bytes read by read, as a real one does when
// nothing is buffered ahead (so that an aborted signal is seen at the next read); files are real.
import { describe, expect, it } from 'vitest'
import { createHook } from 'node:async_hooks'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { ByteStream } from '@libp2p/utils'
import type { Stream } from '@libp2p/interface'
import { NetworkError } from '../../../src/network/index.js'
import { receiveRangeBlock } from '../../../src/network/protocols/block.js'
import { RangeWrites as Writes, rangeWrites, type RangeWrites } from '../../../src/network/protocols/range-writes.js'
import { Watchdog } from '../../../src/util/index.js'
import { tmpDir } from '../../helpers/tmp.js'

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/** A stream whose every read takes `readMs` and fails once `signal` has aborted. */
function pacedStream (data: Uint8Array, readMs: number): ByteStream<Stream> {
  let at = 0
  const read = async ({ bytes, signal }: { bytes: number, signal?: AbortSignal }): Promise<Uint8Array[]> => {
    if (readMs > 0) await sleep(readMs)
    if (signal?.aborted === true) throw signal.reason
    const part = data.subarray(at, at + bytes)
    at += bytes
    return [part]
  }
  return { read } as unknown as ByteStream<Stream>
}

/** RangeWrites whose every write first waits `ms` (a disk the pool waits on). */
function slowDisk (ms: number): RangeWrites {
  return {
    open: async (path: string) => await rangeWrites.open(path),
    write: async (...args: Parameters<RangeWrites['write']>) => { await sleep(ms); await rangeWrites.write(...args) },
    settle: async (fh: Parameters<RangeWrites['settle']>[0]) => { await rangeWrites.settle(fh) }
  } as unknown as RangeWrites
}

describe('receiving one block of a range', () => {
  // 100,000 bytes/s over 50 ms windows: each read asks for 5,000 bytes, so 30,000 bytes take six.
  const minRate = { bytesPerSecond: 100_000, windowMs: 50 }
  const data = randomBytes(30_000)
  const hash = createHash('sha256').update(data).digest('hex')

  it('does not count writes that outlast the rate floor\'s window, or the block\'s budget, against the peer', async () => {
    const dest = join(tmpDir(), 'b.db')
    const w = new Watchdog()
    try {
      // Each write takes three windows, the six of them more than twice the block's budget.
      await receiveRangeBlock(pacedStream(data, 0), dest, { size: data.length, hash, watchdog: w, budgetMs: 400, minRate, writes: slowDisk(150) })
      expect(w.timedOut()).toBe(false)
      expect(readFileSync(dest).equals(data)).toBe(true)
    } finally {
      w.dispose()
    }
  })

  it('still cuts a peer slower than the floor', async () => {
    const w = new Watchdog()
    try {
      const err = await receiveRangeBlock(pacedStream(data, 150), join(tmpDir(), 'b.db'), { size: data.length, hash, watchdog: w, budgetMs: 10_000, minRate, writes: rangeWrites }).then(() => undefined, (e: unknown) => e)
      expect(err).toBeInstanceOf(NetworkError)
      expect(err).toMatchObject({ code: 'TOO_SLOW' })
    } finally {
      w.dispose()
    }
  })

  /** The thread-pool file operations (promise requests, FileHandles) begun while `op` runs. */
  async function poolOps (op: () => Promise<unknown>): Promise<string[]> {
    const seen: string[] = []
    const hook = createHook({ init: (_id, type) => { if (type === 'FSREQPROMISE' || type === 'FILEHANDLE' || type === 'FSREQCALLBACK') seen.push(type) } })
    hook.enable()
    try {
      await op()
    } finally {
      hook.disable()
    }
    return seen
  }

  it('reports the file\'s first 4,096 bytes, gathered over reads shorter than that and their parts', async () => {
    // 20,000 bytes/s over 50 ms windows: reads of 1,000 bytes, each handed out in two parts.
    const slowRate = { bytesPerSecond: 20_000, windowMs: 50 }
    let at = 0
    const split = { read: async ({ bytes }: { bytes: number }): Promise<Uint8Array[]> => { const p = data.subarray(at, at + bytes); at += bytes; return [p.subarray(0, 300), p.subarray(300)] } } as unknown as ByteStream<Stream>
    for (const [bs, rate] of [[split, slowRate], [pacedStream(data, 0), minRate]] as const) {
      at = 0
      const dest = join(tmpDir(), 'b.db')
      const w = new Watchdog()
      try {
        const head = await receiveRangeBlock(bs, dest, { size: data.length, hash, watchdog: w, budgetMs: 10_000, minRate: rate, writes: rangeWrites })
        expect(Buffer.from(head).equals(data.subarray(0, 4096))).toBe(true)
        // A buffer of its own: a view into a read's chunk would be posted to the load thread whole.
        expect(head.buffer.byteLength).toBe(4096)
        expect(readFileSync(dest).equals(data)).toBe(true)
      } finally {
        w.dispose()
      }
    }
  })

  it('reports a small block up to 16 KiB whole (its checks read it there, not in its file), a larger one\'s first 4,096 bytes', async () => {
    // One read for the whole block (the small block's path): the floor's quota is 500,000 bytes.
    const fast = { bytesPerSecond: 10_000_000, windowMs: 50 }
    for (const [size, want] of [[7_168, 7_168], [16_384, 16_384], [20_000, 4_096]] as const) {
      const block = data.subarray(0, size)
      const dest = join(tmpDir(), `whole-${size}.db`)
      const w = new Watchdog()
      try {
        const head = await receiveRangeBlock(pacedStream(block, 0), dest, { size, hash: createHash('sha256').update(block).digest('hex'), watchdog: w, budgetMs: 10_000, minRate: fast, writes: rangeWrites })
        expect(Buffer.from(head).equals(block.subarray(0, want))).toBe(true)
        expect(head.buffer.byteLength).toBe(want)
        expect(readFileSync(dest).equals(block)).toBe(true)
      } finally {
        w.dispose()
      }
    }
  })

  it('opens, writes and closes a large block\'s file without the thread pool while writes are fast; through it while they are paused', async () => {
    // Above the small-block path (128 KiB), read 5,000 bytes at a time by the floor below.
    const big = randomBytes(200_000)
    const bigHash = createHash('sha256').update(big).digest('hex')
    const rate = { bytesPerSecond: 1_000_000, windowMs: 1000 }
    const fast = new Writes({ slowMs: 60_000 })
    // Every synchronous write counts as slow: one pauses the writes to the pool for a minute.
    const paused = new Writes({ slowMs: 0, stallMs: 0, pauseMs: 60_000 })
    const first = await paused.open(join(tmpDir(), 'first.db'))
    await paused.write(first, [Buffer.alloc(10)], 10, 0)
    await first.close()
    expect(paused.pooled).toBe(true)
    for (const writes of [fast, paused]) {
      const dest = join(tmpDir(), 'big.db')
      const w = new Watchdog()
      try {
        const ops = await poolOps(async () => await receiveRangeBlock(pacedStream(big, 0), dest, { size: big.length, hash: bigHash, watchdog: w, budgetMs: 10_000, minRate: rate, writes }))
        if (writes === fast) expect(ops).toEqual([])
        else expect(ops).toContain('FILEHANDLE')
        expect(readFileSync(dest).equals(big)).toBe(true)
      } finally {
        w.dispose()
      }
    }
  })

  // A catch-up's range receive writes into empty files created ahead (storage/tmp-files.ts), each
  // opened without O_CREAT: one that is gone is an error, never a new file, and a file that is not
  // `made` is still created with O_EXCL.
  it('writes a block into its file created ahead (`made`), small or large, synchronous or pooled; a made file that is gone is not created again', async () => {
    const big = randomBytes(200_000)
    const bigHash = createHash('sha256').update(big).digest('hex')
    const paused = new Writes({ slowMs: 0, stallMs: 0, pauseMs: 60_000 })
    const first = await paused.open(join(tmpDir(), 'first.db'))
    await paused.write(first, [Buffer.alloc(10)], 10, 0)
    await first.close()
    const cases = [{ bytes: data, h: hash, writes: rangeWrites }, { bytes: big, h: bigHash, writes: rangeWrites }, { bytes: big, h: bigHash, writes: paused }]
    for (const { bytes, h, writes } of cases) {
      const receive = async (dest: string, made: boolean): Promise<unknown> => {
        const w = new Watchdog()
        try {
          return await receiveRangeBlock(pacedStream(bytes, 0), dest, { size: bytes.length, hash: h, made, watchdog: w, budgetMs: 10_000, minRate: { bytesPerSecond: 1_000_000, windowMs: 1000 }, writes }).catch((err: unknown) => err)
        } finally {
          w.dispose()
        }
      }
      const dest = join(tmpDir(), 'made.db')
      writeFileSync(dest, '')
      expect(await receive(dest, true)).toBeInstanceOf(Uint8Array)
      expect(readFileSync(dest).equals(bytes)).toBe(true)
      const gone = join(tmpDir(), 'gone.db')
      expect(await receive(gone, true)).toMatchObject({ code: 'ENOENT' })
      expect(existsSync(gone)).toBe(false)
      // Not made: the file must be new.
      const there = join(tmpDir(), 'there.db')
      writeFileSync(there, '')
      expect(await receive(there, false)).toMatchObject({ code: 'PATH_CONFLICT' }) // EEXIST, coded
      expect(statSync(there).size).toBe(0)
    }
  })
})
