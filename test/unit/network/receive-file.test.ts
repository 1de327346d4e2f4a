import { afterEach, describe, expect, it, vi } from 'vitest'
import { createHash, randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { receiveToFile } from '../../../src/network/protocols/receive-file.js'
import { tmpDir } from '../../helpers/tmp.js'

/**
 * A stand-in for a libp2p stream with the same read semantics: data waits in a buffer while the
 * stream is paused or nobody listens, and is delivered on resume.
 */
class FakeStream extends EventTarget {
  readStatus: 'readable' | 'paused' = 'readable'
  pauses = 0
  private buffered: Uint8Array[] = []
  private listeners = 0
  private ended = false
  override addEventListener (...args: Parameters<EventTarget['addEventListener']>): void {
    const [type] = args
    super.addEventListener(...args)
    if (type === 'message') { this.listeners++; queueMicrotask(() => { this.flush() }) }
  }
  pause (): void { this.readStatus = 'paused'; this.pauses++ }
  resume (): void { this.readStatus = 'readable'; this.flush() }
  push (data: Uint8Array): void { this.buffered.push(data); this.flush() }
  end (): void { this.ended = true; this.flush() }
  private flush (): void {
    while (this.readStatus === 'readable' && this.listeners > 0 && this.buffered.length > 0) {
      this.dispatchEvent(Object.assign(new Event('message'), { data: this.buffered.shift() }))
    }
    if (this.ended && this.buffered.length === 0 && this.listeners > 0) this.dispatchEvent(new Event('end'))
  }
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

describe('receiveToFile', () => {
  it('writes exactly the announced bytes, pausing the stream while the disk catches up', async () => {
    const data = randomBytes(6 * 1024 * 1024)
    const s = new FakeStream()
    const dest = join(tmpDir(), 'b.db')
    const done = receiveToFile(s as never, dest, { size: data.length, hash: sha(data), signal: new AbortController().signal, idleMs: 5_000 })
    for (let off = 0; off < data.length; off += 256 * 1024) s.push(data.subarray(off, off + 256 * 1024))
    await done
    expect(s.pauses).toBeGreaterThan(0)
    expect(readFileSync(dest).equals(data)).toBe(true)
  })

  it('counts the bytes as they arrive, for progress', async () => {
    const data = randomBytes(3 * 1024 * 1024)
    const s = new FakeStream()
    const counts: number[] = []
    const done = receiveToFile(s as never, join(tmpDir(), 'c.db'), { size: data.length, hash: sha(data), signal: new AbortController().signal, idleMs: 5_000, onBytes: n => { counts.push(n) } })
    for (let off = 0; off < data.length; off += 64 * 1024) s.push(data.subarray(off, off + 64 * 1024))
    await done
    expect(counts.length).toBe(48)
    expect(counts.reduce((a, b) => a + b, 0)).toBe(data.length)
  })

  it('fails on a hash mismatch, on extra bytes and on a short stream', async () => {
    const data = randomBytes(1000)
    const run = async (push: (s: FakeStream) => void, hash = sha(data)): Promise<unknown> => {
      const s = new FakeStream()
      const p = receiveToFile(s as never, join(tmpDir(), 'x.db'), { size: data.length, hash, signal: new AbortController().signal, idleMs: 5_000 })
      push(s)
      return await p.then(() => 'ok', (e: unknown) => e)
    }
    expect(await run(s => { s.push(data) })).toBe('ok')
    expect(await run(s => { s.push(data) }, 'a'.repeat(64))).toMatchObject({ code: 'TRANSFER_HASH_MISMATCH' })
    expect(await run(s => { s.push(data); s.push(new Uint8Array(1)) })).toMatchObject({ code: 'OVERSIZED' })
    expect(await run(s => { s.push(new Uint8Array(data.subarray(0, 10))); s.push(new Uint8Array(data.subarray(10, 999))); s.push(new Uint8Array(1)) }, 'a'.repeat(64))).toMatchObject({ code: 'TRANSFER_HASH_MISMATCH' })
    expect(await run(s => { s.push(data.subarray(0, 500)); s.end() })).toMatchObject({ code: 'STREAM_ERROR' })
  })

  it('times out when the peer stops sending', async () => {
    const s = new FakeStream()
    const p = receiveToFile(s as never, join(tmpDir(), 'y.db'), { size: 10, hash: 'a'.repeat(64), signal: new AbortController().signal, idleMs: 50 })
    s.push(new Uint8Array(5))
    await expect(p).rejects.toMatchObject({ code: 'TIMEOUT' })
  })

  it('cuts a transfer that stays below the rate floor, though bytes keep coming', async () => {
    const s = new FakeStream()
    const p = receiveToFile(s as never, join(tmpDir(), 'z.db'), { size: 1_000_000, hash: 'a'.repeat(64), signal: new AbortController().signal, idleMs: 5_000, minRate: { bytesPerSecond: 10_000, windowMs: 100 } })
    const timer = setInterval(() => { s.push(new Uint8Array(1)) }, 10)
    try {
      await expect(p).rejects.toMatchObject({ code: 'TOO_SLOW' })
    } finally {
      clearInterval(timer)
    }
  })

  it('lets a transfer above the rate floor complete', async () => {
    const data = randomBytes(64 * 1024)
    const s = new FakeStream()
    const dest = join(tmpDir(), 'w.db')
    const p = receiveToFile(s as never, dest, { size: data.length, hash: sha(data), signal: new AbortController().signal, idleMs: 5_000, minRate: { bytesPerSecond: 1, windowMs: 10 } })
    for (let off = 0; off < data.length; off += 4096) s.push(data.subarray(off, off + 4096))
    await p
    expect(readFileSync(dest).equals(data)).toBe(true)
  })

  afterEach(() => { vi.useRealTimers() })

  it('stops its timers when the stream cannot be resumed (its connection closed under it)', async () => {
    // Only the timers are fake: the file's open is real. Before, the rate floor's timer outlived
    // the failed call and later rejected a promise no one awaited, which ends a node.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] })
    const s = new FakeStream()
    s.resume = () => { throw Object.assign(new Error('Cannot write to a stream that is closed'), { name: 'StreamStateError' }) }
    const p = receiveToFile(s as never, join(tmpDir(), 'closed.db'), { size: 1_000, hash: 'a'.repeat(64), signal: new AbortController().signal, idleMs: 5_000, minRate: { bytesPerSecond: 10_000, windowMs: 100 } })
    await expect(p).rejects.toMatchObject({ name: 'StreamStateError' })
    expect(vi.getTimerCount()).toBe(0)
  })
})
