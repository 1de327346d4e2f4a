// receiveToFile on a disk slower than the sender: the time this node spends writing (the stream
// paused, or every byte in and the last writes still running) is not the peer's idle time. The
// file handle's writes are delayed (a slow disk); the files and bytes are real.
import { describe, expect, it, vi } from 'vitest'
import { createHash, randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { receiveToFile } from '../../../src/network/protocols/receive-file.js'
import { tmpDir } from '../../helpers/tmp.js'

const disk = vi.hoisted(() => ({ writeMs: 0 }))

vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>()
  const open: typeof real.open = async (...args) => {
    const fh = await real.open(...args)
    const writev = fh.writev.bind(fh)
    fh.writev = (async (...w: Parameters<typeof writev>) => {
      await new Promise(resolve => setTimeout(resolve, disk.writeMs))
      return await writev(...w)
    }) as typeof fh.writev
    return fh
  }
  return { ...real, open, default: { ...real, open } }
})

/** A stream that hands out what was pushed whenever it is not paused (as libp2p's does). */
class PushStream extends EventTarget {
  readStatus: 'readable' | 'paused' = 'readable'
  pauses = 0
  private buffered: Uint8Array[] = []
  private listeners = 0
  override addEventListener (...args: Parameters<EventTarget['addEventListener']>): void {
    super.addEventListener(...args)
    if (args[0] === 'message') { this.listeners++; queueMicrotask(() => { this.flush() }) }
  }
  pause (): void { this.readStatus = 'paused'; this.pauses++ }
  resume (): void { this.readStatus = 'readable'; this.flush() }
  push (data: Uint8Array): void { this.buffered.push(data); this.flush() }
  private flush (): void {
    while (this.readStatus === 'readable' && this.listeners > 0 && this.buffered.length > 0) {
      this.dispatchEvent(Object.assign(new Event('message'), { data: this.buffered.shift() }))
    }
  }
}

describe('receiveToFile on a slow disk', () => {
  it('does not count the time its own writes take as the peer going idle', async () => {
    // Each write takes three idle periods; 6 MiB arrive at once, so the stream is paused for the disk.
    disk.writeMs = 150
    const data = randomBytes(6 * 1024 * 1024)
    const s = new PushStream()
    const dest = join(tmpDir(), 'slow.db')
    const done = receiveToFile(s as never, dest, { size: data.length, hash: createHash('sha256').update(data).digest('hex'), signal: new AbortController().signal, idleMs: 50 })
    for (let off = 0; off < data.length; off += 256 * 1024) s.push(data.subarray(off, off + 256 * 1024))
    await done
    expect(s.pauses).toBeGreaterThan(0)
    expect(readFileSync(dest).equals(data)).toBe(true)
  })

  it('still times out a peer that stops sending', async () => {
    disk.writeMs = 0
    const s = new PushStream()
    const data = randomBytes(64 * 1024)
    const done = receiveToFile(s as never, join(tmpDir(), 'idle.db'), { size: data.length * 2, hash: 'f'.repeat(64), signal: new AbortController().signal, idleMs: 50 })
    s.push(data)
    await expect(done).rejects.toMatchObject({ code: 'TIMEOUT' })
  })
})
