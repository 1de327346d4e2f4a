// A served stream whose own flow-control window is closed keeps its last message in its write
// buffer; the connection's drain wakes it anyway. The server must not read and queue the next
// chunk until the stream has handed that message on: otherwise every drain of the socket piled one
// more 256 KiB chunk per range into the stream (9 MB on a serving node, session 14).
import { createHook } from 'node:async_hooks'
import { getEventListeners } from 'node:events'
import { describe, expect, it } from 'vitest'
import { openSync, closeSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Stream } from '@libp2p/interface'
import { SendBatch, sendFile } from '../../../src/network/protocols/send-file.js'
import { UPLOAD_CHUNK } from '../../../src/network/constants.js'
import { tmpDir } from '../../helpers/tmp.js'

/** A stream as libp2p's: send() queues into a write buffer and returns false while its window is closed; 'drain' and 'idle' events. */
class WindowStream extends EventTarget {
  status = 'open'
  held: Uint8Array[] = []
  sent: Uint8Array[] = []
  open = false
  get writeBufferLength (): number { return this.held.reduce((n, b) => n + b.byteLength, 0) }
  send (b: Uint8Array): boolean {
    // As libp2p's: a stream whose write end is closed (reset, aborted) refuses to send.
    if (this.status !== 'open') throw new Error(`Cannot write to a stream that is ${this.status}`)
    this.held.push(Buffer.from(b))
    if (this.open) this.flush()
    return this.open
  }

  async onDrain (): Promise<void> { await new Promise<void>(resolve => { this.addEventListener('drain', () => { resolve() }, { once: true }) }) }
  /** The connection drained: every stream hears it, whether or not its window is open. */
  drain (): void { this.dispatchEvent(new Event('drain')) }
  /** A window update: the held messages go out. */
  openWindow (): void {
    this.open = true
    this.flush()
  }

  /** A reset from the remote: closed for writing, the held bytes never go; 'close' with the error (as StreamResetEvent). */
  reset (): void {
    this.status = 'reset'
    this.dispatchEvent(Object.assign(new Event('close'), { error: new Error('stream reset (test)') }))
  }

  private flush (): void {
    this.sent.push(...this.held.splice(0))
    this.dispatchEvent(new Event('idle'))
  }
}

const tick = async (): Promise<void> => { await new Promise(resolve => setImmediate(resolve)) }

describe('a served stream with a closed window', () => {
  it('queues no further chunk on the connection\'s drains until the stream has sent what it held, and the file arrives whole', async () => {
    const path = join(tmpDir(), 'block.db')
    const bytes = Buffer.alloc(4 * UPLOAD_CHUNK)
    for (let i = 0; i < bytes.length; i += 4) bytes.writeUInt32LE(i, i)
    writeFileSync(path, bytes)
    const fd = openSync(path, 'r')
    const s = new WindowStream()
    try {
      // The range's reads, synchronous (no thread pool: nothing here waits on the machine's load).
      const signal = new AbortController().signal
      const reader = new SendBatch(s as unknown as Stream, signal, { slowSyncReadMs: 1e9 })
      const done = sendFile(s as unknown as Stream, { fd, size: bytes.length, seal: '' }, signal, undefined, reader)
      await tick()
      expect(s.held.length).toBe(1) // the first chunk, waiting for the window
      // Five drains of the connection, the stream's window still closed: nothing more is queued.
      for (let i = 0; i < 5; i++) { s.drain(); await tick() }
      expect(s.held.length).toBe(1)
      expect(s.sent.length).toBe(0)
      // The window opens: the rest follows, in order.
      s.openWindow()
      s.drain()
      await done
      expect(Buffer.concat(s.sent).equals(bytes)).toBe(true)
    } finally {
      closeSync(fd)
    }
  })

  it('a stream reset while a chunk is held ends the send with an error: no hang, no listener left, no further chunk queued', async () => {
    const path = join(tmpDir(), 'block.db')
    writeFileSync(path, Buffer.alloc(4 * UPLOAD_CHUNK, 5))
    const fd = openSync(path, 'r')
    const s = new WindowStream()
    try {
      const signal = new AbortController().signal
      const reader = new SendBatch(s as unknown as Stream, signal, { slowSyncReadMs: 1e9 })
      const done = sendFile(s as unknown as Stream, { fd, size: 4 * UPLOAD_CHUNK, seal: '' }, signal, undefined, reader)
      let settled = false
      const outcome = done.then(() => 'sent', (err: unknown) => err).finally(() => { settled = true })
      await tick()
      s.drain() // the connection drained; the stream's window is still closed: waiting for 'idle'
      await tick()
      expect(s.held.length).toBe(1)
      expect(getEventListeners(s, 'idle').length + getEventListeners(s, 'close').length).toBeGreaterThan(0)
      s.reset()
      for (let i = 0; i < 5 && !settled; i++) await tick()
      expect(settled).toBe(true)
      expect(await outcome).toBeInstanceOf(Error)
      expect(s.held.length).toBe(1)
      expect(getEventListeners(s, 'idle')).toEqual([])
      expect(getEventListeners(s, 'close')).toEqual([])
    } finally {
      closeSync(fd)
    }
  })

  it('the upload\'s deadline passing while a chunk is held ends the send: no hang, no listener left', async () => {
    const path = join(tmpDir(), 'block.db')
    writeFileSync(path, Buffer.alloc(4 * UPLOAD_CHUNK, 6))
    const fd = openSync(path, 'r')
    const s = new WindowStream()
    try {
      const limit = new AbortController()
      const reader = new SendBatch(s as unknown as Stream, limit.signal, { slowSyncReadMs: 1e9 })
      const outcome = sendFile(s as unknown as Stream, { fd, size: 4 * UPLOAD_CHUNK, seal: '' }, limit.signal, undefined, reader).then(() => 'sent', (err: unknown) => err)
      await tick()
      s.drain()
      await tick()
      expect(s.held.length).toBe(1)
      limit.abort(new Error('upload deadline (test)'))
      expect(await outcome).toBeInstanceOf(Error)
      expect(getEventListeners(s, 'idle')).toEqual([])
      expect(getEventListeners(s, 'close')).toEqual([])
      expect(s.held.length).toBe(1)
    } finally {
      closeSync(fd)
    }
  })

  it('a range\'s waits share one stall timer (a timer a message before), and a message the stream never takes is still cut', async () => {
    const path = join(tmpDir(), 'block.db')
    const bytes = Buffer.alloc(8 * UPLOAD_CHUNK)
    for (let i = 0; i < bytes.length; i += 4) bytes.writeUInt32LE(i, i)
    writeFileSync(path, bytes)
    const fd = openSync(path, 'r')
    try {
      // Every message waits for a drain, which comes on the next turn of the loop.
      const sent: Uint8Array[] = []
      const eager = { status: 'open', writeBufferLength: 0, send: (b: Uint8Array) => { sent.push(Buffer.from(b)); return false }, onDrain: tick }
      const limit = new AbortController().signal
      const batch = new SendBatch(eager as unknown as Stream, limit, { slowSyncReadMs: 1e9 })
      let timers = 0
      const hook = createHook({ init: (_id, type) => { if (type === 'Timeout') timers++ } })
      hook.enable()
      try {
        await batch.addFile(Buffer.alloc(0), { fd, size: bytes.length, seal: '' }, limit)
        await batch.flush()
      } finally {
        hook.disable()
      }
      expect(sent.length).toBe(8)
      expect(Buffer.concat(sent).equals(bytes)).toBe(true)
      expect(timers).toBe(1)
      batch.dispose()
      // A window that never opens: the batch's deadline (50 ms here) ends the upload, listeners gone.
      const s = new WindowStream()
      const stalled = new SendBatch(s as unknown as Stream, limit, { slowSyncReadMs: 1e9, stallMs: 50 })
      const outcome = stalled.addFile(Buffer.alloc(0), { fd, size: 2 * UPLOAD_CHUNK, seal: '' }, limit).then(() => undefined, (e: unknown) => e)
      await tick()
      s.drain() // the connection drained, the stream's window still closed: waiting for 'idle'
      const err = await outcome
      stalled.dispose()
      expect(err).toMatchObject({ name: 'TimeoutError' })
      expect(s.held.length).toBe(1)
      expect(getEventListeners(s, 'idle')).toEqual([])
      expect(getEventListeners(s, 'close')).toEqual([])
    } finally {
      closeSync(fd)
    }
  })
})
