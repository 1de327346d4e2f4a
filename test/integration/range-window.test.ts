// widenWindow's half-window updates (08bec56) on real yamux streams between two libp2p nodes on
// 127.0.0.1: a range's stream read slowly (paused and resumed, as a full read buffer does), fed in
// large and in tiny frames, never stalls and sends about one window update per half window; a
// stream reset while paused ends the reader instead of hanging it; a stream that is not widened
// keeps yamux's own behaviour (an update after every data frame). A range read through byteStream
// (fetchBlocks) is never paused: what bounds its buffered bytes is the range's size, under the cap.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHash, randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import type { Stream, StreamMessageEvent } from '@libp2p/interface'
import { loadOrCreateNodeKey } from '../../src/network/index.js'
import { LIMITS, STREAM_READ_BUFFER, STREAM_WINDOW } from '../../src/network/constants.js'
import { RANGE_MAX_BYTES } from '../../src/sync/window-limits.js'
import { byteStream } from '@libp2p/utils'
import { createPetalLibp2p, type PetalLibp2p } from '../../src/network/libp2p.js'
import { widenWindow } from '../../src/network/protocols/block.js'
import { tmpDir } from '../helpers/tmp.js'

const PROTOCOL = '/petal-window-test/1.0.0'
const TOTAL = 24 * 1024 * 1024

let server: PetalLibp2p
let client: PetalLibp2p
/** What the server sends next (set by each test): the sizes of its sends, and whether it resets after `resetAfter` bytes. */
let plan: { sizes: (i: number) => number, total: number, resetAfter?: number, paceEvery?: number } = { sizes: () => 0, total: 0 }
let sent = createHash('sha256')

async function node (name: string): Promise<PetalLibp2p> {
  return await createPetalLibp2p({
    privateKey: await loadOrCreateNodeKey(join(tmpDir(), `${name}.key`)), chainId: 'window-test', listen: ['/ip4/127.0.0.1/tcp/0'], announce: [],
    maxConnections: 8, inboundPerSecond: 100, gater: {}, version: 'test'
  })
}

beforeAll(async () => {
  server = await node('server')
  client = await node('client')
  await server.handle(PROTOCOL, async (stream: Stream) => {
    const { sizes, total, resetAfter, paceEvery } = plan
    sent = createHash('sha256')
    let off = 0
    for (let i = 0; off < total; i++) {
      if (resetAfter !== undefined && off >= resetAfter) { stream.abort(new Error('reset mid-stream (test)')); return }
      const chunk = randomBytes(Math.min(sizes(i), total - off))
      sent.update(chunk)
      off += chunk.byteLength
      if (!stream.send(chunk)) await stream.onDrain()
      // Paced: each send leaves as a frame of its own instead of joining a queue.
      else if (paceEvery !== undefined && i % paceEvery === 0) await new Promise(resolve => setImmediate(resolve))
    }
    await stream.close()
  }, { maxInboundStreams: 8 })
})

afterAll(async () => {
  await Promise.all([server?.stop(), client?.stop()])
})

interface Counted { stream: Stream, updates: () => number, dataFrames: () => number }

/** Dial the test protocol; count the window updates this end sends (no SYN/ACK/FIN/RST flag) and the data frames it receives. */
async function open (widen: boolean): Promise<Counted> {
  const stream = await client.dialProtocol(multiaddr(server.getMultiaddrs()[0]?.toString() ?? ''), PROTOCOL)
  if (widen) widenWindow(stream)
  let updates = 0
  let frames = 0
  const sendFrame = Reflect.get(stream, 'sendFrame') as (h: { type: number, flag: number }, d?: unknown) => boolean
  const handleData = Reflect.get(stream, 'handleData') as (f: unknown) => void
  expect(sendFrame).toBeTypeOf('function')
  expect(handleData).toBeTypeOf('function')
  Reflect.set(stream, 'sendFrame', (h: { type: number, flag: number }, d?: unknown) => {
    if (h.type === 1 && h.flag === 0) updates++
    return sendFrame(h, d)
  })
  Reflect.set(stream, 'handleData', function (this: unknown, f: unknown) { frames++; handleData.call(this, f) })
  return { stream, updates: () => updates, dataFrames: () => frames }
}

/** `p`, or a failure after `ms` (a stalled sender would otherwise only meet the test's timeout). */
async function within<T> (ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => { reject(new Error(`stalled: not done within ${ms} ms`)) }, ms) })
  try {
    return await Promise.race([p, late])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Read the whole stream as receiveToFile does (its 'message' and 'end' events), pausing it for
 * `pauseMs` after every `pauseEvery` bytes (a disk slower than the network). Resolves at 'end',
 * rejects when the stream closes with an error.
 */
async function readSlowly (stream: Stream, pauseEvery: number, pauseMs: number): Promise<{ bytes: number, hash: string, pauses: number }> {
  const hash = createHash('sha256')
  let bytes = 0
  let next = pauseEvery
  let pauses = 0
  return await new Promise((resolve, reject) => {
    stream.addEventListener('message', (e: StreamMessageEvent) => {
      const d = e.data
      for (const part of d instanceof Uint8Array ? [d] : d) hash.update(part)
      bytes += d.byteLength
      if (bytes >= next && stream.readStatus === 'readable') {
        next += pauseEvery
        pauses++
        stream.pause()
        // A stream reset meanwhile is not resumed: its end must come from the stream itself.
        setTimeout(() => { if (stream.readStatus === 'paused' && stream.status === 'open') stream.resume() }, pauseMs)
      }
    })
    stream.addEventListener('end', () => { resolve({ bytes, hash: hash.digest('hex'), pauses }) })
    stream.addEventListener('close', (evt: Event) => { if ('error' in evt && evt.error instanceof Error) reject(evt.error) })
  })
}

describe('range streams: window updates once half the window is used', () => {
  it('a slow reader of 24 MiB in 64 KiB sends: all of it arrives, about one update per half window', async () => {
    plan = { sizes: () => 64 * 1024, total: TOTAL }
    const s = await open(true)
    const r = await within(20_000, readSlowly(s.stream, 1024 * 1024, 15))
    expect(r.bytes).toBe(TOTAL)
    expect(r.hash).toBe(sent.digest('hex'))
    expect(r.pauses).toBeGreaterThan(0)
    // One per half window, and at most one per resume.
    expect(s.updates()).toBeLessThanOrEqual(Math.ceil(TOTAL / (STREAM_WINDOW / 2)) + r.pauses + 2)
  })

  it('tiny frames (a few hundred bytes each) mixed with large ones, read slowly: no stall, far fewer updates than frames', async () => {
    plan = { sizes: i => i % 50 === 49 ? 300_000 : 1 + (i * 37) % 700, total: 8 * 1024 * 1024, paceEvery: 1 }
    const s = await open(true)
    const r = await within(20_000, readSlowly(s.stream, 512 * 1024, 10))
    expect(r.bytes).toBe(8 * 1024 * 1024)
    expect(r.hash).toBe(sent.digest('hex'))
    // Upstream would send one per frame.
    expect(s.dataFrames()).toBeGreaterThan(50)
    expect(s.updates()).toBeLessThanOrEqual(Math.ceil(8 * 1024 * 1024 / (STREAM_WINDOW / 2)) + r.pauses + 2)
  })

  it('a stream reset while its reader is paused ends the reader with an error (no hang)', async () => {
    plan = { sizes: () => 64 * 1024, total: TOTAL, resetAfter: 3 * 1024 * 1024 }
    const s = await open(true)
    // Ends, one way or the other (the reset arriving while data is buffered, or after it was read), with less than was planned.
    const r = await within(20_000, readSlowly(s.stream, 512 * 1024, 50)).catch((err: unknown) => err instanceof Error ? err : new Error(String(err)))
    if (r instanceof Error) expect(r.message).not.toMatch(/stalled/)
    else expect(r.bytes).toBeLessThan(TOTAL)
    expect(s.stream.status).not.toBe('open')
  })

  it('a stream that is not widened keeps yamux\'s update after every data frame', async () => {
    plan = { sizes: () => 64 * 1024, total: 4 * 1024 * 1024 }
    const s = await open(false)
    const r = await within(20_000, readSlowly(s.stream, 8 * 1024 * 1024, 0))
    expect(r.bytes).toBe(4 * 1024 * 1024)
    expect(Reflect.get(s.stream, 'sendWindowUpdate')).toBe(Reflect.get(Object.getPrototypeOf(s.stream) as object, 'sendWindowUpdate'))
    // Each data frame is followed by an update unless nothing of the window was used (never here).
    expect(s.updates()).toBeGreaterThanOrEqual(s.dataFrames() - 2)
  })
})

describe('a range reply read by a reader stalled on its disk (fetchBlocks reads through byteStream, which never pauses the stream)', () => {
  // The receiver grants window as data arrives, whether or not it is read: what bounds the bytes
  // held in memory is the range itself (RANGE_MAX_BYTES of blocks and their reply frames), which
  // the stream's read buffer cap (STREAM_READ_BUFFER) must exceed, or a slow disk would fail it.
  it('the largest range and its frames fit the read buffer cap', () => {
    expect(RANGE_MAX_BYTES + LIMITS.maxRangeBlocks * (4 + LIMITS.blockResponseMeta)).toBeLessThan(STREAM_READ_BUFFER)
  })

  it('a whole range arrives while nothing is read (the window granted on arrival), stays within the cap, and is read whole afterwards', async () => {
    const total = RANGE_MAX_BYTES + LIMITS.maxRangeBlocks * 300
    plan = { sizes: () => 256 * 1024, total }
    const s = await open(true)
    const bs = byteStream(s.stream, { maxBufferSize: STREAM_READ_BUFFER })
    let arrived = 0
    s.stream.addEventListener('message', (e: StreamMessageEvent) => { arrived += e.data.byteLength })
    // All of it comes while nothing is read: the window is granted on arrival.
    await waitUntil(() => arrived >= total, 10_000)
    await new Promise(resolve => setTimeout(resolve, 300))
    expect(s.stream.status).toBe('open')
    const got = await bs.read({ bytes: total })
    const hash = createHash('sha256')
    for (const part of got) hash.update(part)
    expect(hash.digest('hex')).toBe(sent.digest('hex'))
  })

  it('a reply larger than the cap, not read, fails its stream (the bound above is what keeps a range from it)', async () => {
    plan = { sizes: () => 256 * 1024, total: STREAM_READ_BUFFER + 2 * 1024 * 1024 }
    const s = await open(true)
    const bs = byteStream(s.stream, { maxBufferSize: STREAM_READ_BUFFER })
    await waitUntil(() => s.stream.status !== 'open', 10_000)
    await expect(bs.read({ bytes: 1 })).rejects.toMatchObject({ name: 'StreamBufferError' })
  })
})

async function waitUntil (ok: () => boolean, ms: number): Promise<void> {
  const until = Date.now() + ms
  while (!ok()) {
    if (Date.now() > until) throw new Error(`not within ${ms} ms`)
    await new Promise(resolve => setTimeout(resolve, 10))
  }
}
