// A range's large blocks go out in 1 MiB messages (sixteen full noise messages, one yamux frame)
// on a connection whose previous range was delivered at LARGE_UPLOAD_MIN_RATE or more, in
// UPLOAD_CHUNK messages otherwise; small blocks are gathered into UPLOAD_CHUNK messages either way.
import { describe, expect, it } from 'vitest'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Stream } from '@libp2p/interface'
import { UploadLinks } from '../../../src/network/protocols/upload-links.js'
import { LARGE_UPLOAD_CHUNK, LARGE_UPLOAD_MIN_RATE, NOISE_MAX_PLAINTEXT, UPLOAD_CHUNK, YAMUX_HEADER_BYTES } from '../../../src/network/constants.js'
import { serveRange } from '../../helpers/send-batch.js'
import { tmpDir } from '../../helpers/tmp.js'

const noiseMessages = (bytes: number): number => Math.ceil((YAMUX_HEADER_BYTES + bytes) / NOISE_MAX_PLAINTEXT)

const file = (size: number, seed: number): { path: string, bytes: Buffer } => {
  const path = join(tmpDir(), `block-${seed}.db`)
  const bytes = Buffer.alloc(size)
  for (let i = 0; i < size; i++) bytes[i] = (i * 7 + seed) % 251
  writeFileSync(path, bytes)
  return { path, bytes }
}

describe('a range of large blocks on a fast link', () => {
  it('goes out in full messages of sixteen noise messages each, the bytes in order', async () => {
    expect(noiseMessages(LARGE_UPLOAD_CHUNK)).toBe(16)
    expect(noiseMessages(LARGE_UPLOAD_CHUNK + 1)).toBe(17)
    const blocks = [1_056_768, 1_056_768, 1_056_768].map((size, i) => ({ ...file(size, i), head: Buffer.alloc(57, i + 1) }))
    const sent = await serveRange(blocks, LARGE_UPLOAD_CHUNK)
    const whole = Buffer.concat(blocks.flatMap(b => [b.head, b.bytes]))
    expect(Buffer.concat(sent).equals(whole)).toBe(true)
    for (const m of sent.slice(0, -1)) expect(m.byteLength).toBe(LARGE_UPLOAD_CHUNK)
    // 4 frames where UPLOAD_CHUNK's made 13; the same 49 noise messages.
    expect(sent.length).toBe(4)
    expect(sent.reduce((n, m) => n + noiseMessages(m.byteLength), 0)).toBe(49)
  })

  it('gathers small blocks into UPLOAD_CHUNK messages still, a large block filling the message they began to its size', async () => {
    const sizes = [1_000, 2_500_000, 40_000, 60_000, UPLOAD_CHUNK - 100, 1_056_768, 5, 300]
    const blocks = sizes.map((size, i) => ({ ...file(size, i + 10), head: Buffer.alloc(40 + i, i + 1) }))
    const sent = await serveRange(blocks, LARGE_UPLOAD_CHUNK)
    expect(Buffer.concat(sent).equals(Buffer.concat(blocks.flatMap(b => [b.head, b.bytes])))).toBe(true)
    for (const m of sent) expect(m.byteLength).toBeLessThanOrEqual(LARGE_UPLOAD_CHUNK)
    // The first message, begun by the small block, is filled to UPLOAD_CHUNK; the large block's next ones are 1 MiB.
    expect(sent[0]?.byteLength).toBe(UPLOAD_CHUNK)
    expect(sent[1]?.byteLength).toBe(LARGE_UPLOAD_CHUNK)
    expect(sent.filter(m => m.byteLength === LARGE_UPLOAD_CHUNK).length).toBeGreaterThanOrEqual(3)
  })

  it('is the default size, UPLOAD_CHUNK, without a chunk (and never less)', async () => {
    const blocks = [{ ...file(1_056_768, 3), head: Buffer.alloc(57, 1) }]
    for (const chunk of [UPLOAD_CHUNK, 1000]) {
      const sent = await serveRange(blocks, chunk)
      for (const m of sent.slice(0, -1)) expect(m.byteLength).toBe(UPLOAD_CHUNK)
    }
  })
})

/** A stream as UploadLinks sees it: a status and a 'close' event (with `error` when it failed). */
class FakeStream extends EventTarget {
  status: Stream['status'] = 'open'
  close (err?: Error): void {
    this.status = err === undefined ? 'closed' : 'reset'
    const evt = new Event('close')
    if (err !== undefined) Object.assign(evt, { error: err })
    this.dispatchEvent(evt)
  }
}

describe('which connections get large messages', () => {
  const MiB = 1024 * 1024
  const setup = (): { links: UploadLinks, clock: { t: number }, conn: object, range: (ms: number, err?: Error) => void } => {
    const clock = { t: 1000 }
    const links = new UploadLinks(LARGE_UPLOAD_MIN_RATE, () => clock.t)
    const conn = {}
    /** A range of 6 MiB on conn whose reader closes its end `ms` later (with `err`: a reset). */
    const range = (ms: number, err?: Error): void => {
      const s = new FakeStream()
      links.measure(conn, s as unknown as Stream, clock.t, 6 * MiB)
      clock.t += ms
      s.close(err)
    }
    return { links, clock, conn, range }
  }

  it('a connection\'s first range is in UPLOAD_CHUNK messages; a range read at the rate makes the next ones large', () => {
    const { links, clock, conn } = setup()
    expect(links.chunk(conn)).toBe(UPLOAD_CHUNK)
    const s = new FakeStream()
    links.measure(conn, s as unknown as Stream, clock.t, 6 * MiB)
    clock.t += 2000
    // Not before the peer has closed its end (it has read the whole range).
    expect(links.chunk(conn)).toBe(UPLOAD_CHUNK)
    s.close()
    expect(links.chunk(conn)).toBe(LARGE_UPLOAD_CHUNK)
    expect(links.chunk({})).toBe(UPLOAD_CHUNK)
  })

  it('a range read below the rate, or ended by an error, makes them small again', () => {
    const { links, conn, range } = setup()
    range(1000)
    expect(links.chunk(conn)).toBe(LARGE_UPLOAD_CHUNK)
    range(6001)
    expect(links.chunk(conn)).toBe(UPLOAD_CHUNK)
    range(5999)
    expect(links.chunk(conn)).toBe(LARGE_UPLOAD_CHUNK)
    range(10, new Error('stream reset'))
    expect(links.chunk(conn)).toBe(UPLOAD_CHUNK)
  })

  it('a range whose upload failed (the reader cut it, a deadline) makes them small again', () => {
    const { links, conn, range } = setup()
    range(1000)
    expect(links.chunk(conn)).toBe(LARGE_UPLOAD_CHUNK)
    links.failed(conn)
    expect(links.chunk(conn)).toBe(UPLOAD_CHUNK)
  })

  it('a stream already closed when its range ends is measured at once', () => {
    const { links, clock, conn } = setup()
    const s = new FakeStream()
    s.status = 'closed'
    links.measure(conn, s as unknown as Stream, clock.t - 1000, 2 * MiB)
    expect(links.chunk(conn)).toBe(LARGE_UPLOAD_CHUNK)
    const aborted = new FakeStream()
    aborted.status = 'aborted'
    links.measure(conn, aborted as unknown as Stream, clock.t - 1000, 2 * MiB)
    expect(links.chunk(conn)).toBe(UPLOAD_CHUNK)
  })
})
