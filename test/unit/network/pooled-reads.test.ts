// pooled-reads.ts: the sockets libp2p dials read into pools of their own (Node's `onread`). Each
// read is handed on as a view no later read writes over; a socket that carried little reads 64 KiB
// regions, one whose read filled its region (more was waiting) reads up to 1 MiB; the bytes arrive
// whole and in order, and pause and resume still stop and restart the reads (libp2p's backpressure).
import { describe, expect, it } from 'vitest'
import { createHash, randomBytes } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { createServer, connect, type Socket } from 'node:net'
import { IDLE_MS, LARGE_POOL, pooledReads, pooledReadStats, SMALL_POOL } from '../../../src/network/pooled-reads.js'

/** The regions a socket reads into, and what it pushes, with Node's calls made by hand. */
function fakeSocket (now?: () => number): { pushed: Buffer[], read: (bytes: Uint8Array) => Buffer, region: () => Buffer } {
  const { onread } = pooledReads({ now: now ?? (() => 0) })
  const pushed: Buffer[] = []
  const socket = new EventEmitter() as unknown as Socket
  socket.push = (b: Buffer) => { pushed.push(b); return true }
  let region = onread.buffer() // the handle's first region
  return {
    pushed,
    read: (bytes: Uint8Array): Buffer => {
      const into = region
      expect(bytes.byteLength).toBeLessThanOrEqual(into.byteLength)
      into.set(bytes)
      onread.callback.call(socket, bytes.byteLength, into)
      region = onread.buffer()
      return into
    },
    region: () => region
  }
}

function overlaps (a: Uint8Array, b: Uint8Array): boolean {
  return a.buffer === b.buffer && a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength
}

describe('pooled socket reads', () => {
  it('hands on each read as its own view, small regions until a read fills one, then 1 MiB', () => {
    const s = fakeSocket()
    const reads = [100, 30_000, SMALL_POOL - 30_100, 200_000, 1, LARGE_POOL - 200_001, 50].map(n => randomBytes(n))
    const regions = reads.map(r => s.read(r))
    // A quiet connection reads into 64 KiB, the rest of its pool each time.
    expect(regions[0]?.byteLength).toBe(SMALL_POOL)
    expect(regions[1]?.byteLength).toBe(SMALL_POOL - 100)
    // The third read filled its pool to the end: the next pool is a large one.
    expect(regions[3]?.byteLength).toBe(LARGE_POOL)
    expect(regions[4]?.byteLength).toBe(LARGE_POOL - 200_000)
    expect(regions[6]?.byteLength).toBe(LARGE_POOL)
    // Each push is exactly that read's bytes, unchanged by every later read, and no two share memory.
    expect(s.pushed.length).toBe(reads.length)
    for (const [i, p] of s.pushed.entries()) {
      expect(p.equals(reads[i] as Buffer)).toBe(true)
      for (const q of s.pushed.slice(i + 1)) expect(overlaps(p, q)).toBe(false)
    }
  })

  it('a small read at the end of a large pool goes back to 64 KiB regions; a large one stays at 1 MiB', () => {
    const s = fakeSocket()
    s.read(randomBytes(SMALL_POOL))
    expect(s.read(randomBytes(LARGE_POOL - 20_000)).byteLength).toBe(LARGE_POOL)
    // 10,000 left after this small read: too little for a region, and the connection went quiet.
    expect(s.read(randomBytes(10_000)).byteLength).toBe(20_000)
    expect(s.read(randomBytes(10)).byteLength).toBe(SMALL_POOL)
    const t = fakeSocket()
    t.read(randomBytes(SMALL_POOL))
    t.read(randomBytes(LARGE_POOL - 8_000)) // 8,000 left after a large read: a new large pool
    expect(t.read(randomBytes(10)).byteLength).toBe(LARGE_POOL)
  })

  it('a read after a quiet spell leaves the large pool: the region kept while idle is a new 64 KiB pool', () => {
    let t = 0
    const s = fakeSocket(() => t)
    s.read(randomBytes(SMALL_POOL))
    s.read(randomBytes(300_000))
    t += 1
    s.read(randomBytes(200_000)) // bulk: the rest of the same 1 MiB pool
    expect(s.region().buffer.byteLength).toBe(LARGE_POOL)
    expect(s.region().byteLength).toBe(LARGE_POOL - 500_000)
    t += IDLE_MS - 1
    s.read(randomBytes(100)) // not yet a quiet spell
    expect(s.region().byteLength).toBe(LARGE_POOL - 500_100)
    t += IDLE_MS
    const into = s.read(randomBytes(100)) // a ping after the quiet spell: read into the old region ...
    expect(into.buffer.byteLength).toBe(LARGE_POOL)
    expect(s.region().buffer.byteLength).toBe(SMALL_POOL) // ... and the next goes into a new small pool
    expect(s.region().byteLength).toBe(SMALL_POOL)
    t += IDLE_MS
    s.read(randomBytes(100)) // a small pool stays after a quiet spell: no new one for each ping
    expect(s.region().byteLength).toBe(SMALL_POOL - 100)
    const u = fakeSocket(() => t)
    u.read(randomBytes(SMALL_POOL))
    t += IDLE_MS
    u.read(randomBytes(400_000)) // a new bulk after a quiet spell: a new large pool
    expect(u.region().byteLength).toBe(LARGE_POOL)
  })

  it('a real socket: megabytes arrive whole and in order; a paused socket reads nothing until resumed', async () => {
    const data = randomBytes(6 * 1024 * 1024 + 333)
    let server!: Socket
    const listener = createServer(s => { server = s })
    await new Promise<void>(resolve => { listener.listen(0, '127.0.0.1', resolve) })
    const before = pooledReadStats()
    const client = connect({ port: (listener.address() as { port: number }).port, host: '127.0.0.1', ...pooledReads() })
    try {
      await new Promise<void>(resolve => { client.once('connect', resolve) })
      const chunks: Buffer[] = []
      let paused = false
      let whilePaused = 0
      client.on('data', (b: Buffer) => { if (paused) whilePaused++; chunks.push(b) })
      const ended = new Promise<void>(resolve => { client.once('end', resolve) })
      await new Promise<void>(resolve => { const wait = (): void => { if (server !== undefined) resolve(); else setImmediate(wait) }; wait() })
      client.pause()
      paused = true
      server.end(data)
      // The server's bytes wait in the kernel while the client is paused.
      for (let i = 0; i < 20; i++) await new Promise(resolve => setImmediate(resolve))
      paused = false
      client.resume()
      await ended
      expect(whilePaused).toBe(0)
      expect(createHash('sha256').update(Buffer.concat(chunks)).digest('hex')).toBe(createHash('sha256').update(data).digest('hex'))
      for (const [i, c] of chunks.entries()) if (i > 0) expect(overlaps(c, chunks[i - 1] as Buffer)).toBe(false)
      const after = pooledReadStats()
      expect(after.sockets - before.sockets).toBe(1)
      expect(after.reads - before.reads).toBe(chunks.length)
      // The open socket keeps the pool of its current region; its close lets it go.
      expect(after.held).toBeGreaterThanOrEqual(SMALL_POOL)
      const closed = new Promise(resolve => { client.once('close', resolve) })
      client.destroy()
      await closed
      expect(pooledReadStats().open).toBe(after.open - 1)
      expect(pooledReadStats().held).toBeLessThanOrEqual(after.held - SMALL_POOL)
    } finally {
      client.destroy()
      listener.close()
    }
  })
})
