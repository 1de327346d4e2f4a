import { describe, expect, it } from 'vitest'
import type { Stream } from '@libp2p/interface'
import { STREAM_WINDOW } from '../../../src/network/constants.js'
import { halfOpen, widenWindow } from '../../../src/network/protocols/block.js'

/** The fields of a yamux stream that widenWindow uses, and its window update as yamux sends it (after every data frame). */
class FakeYamuxStream {
  state = 3
  recvWindow = 256 * 1024
  recvWindowCapacity = 256 * 1024
  sent: number[] = []
  sendWindowUpdate (): void {
    const delta = this.recvWindow - this.recvWindowCapacity
    if (delta === 0 && this.state === 3) return
    this.recvWindowCapacity = this.recvWindow
    this.sent.push(delta)
  }

  /** yamux's handleData: take a frame out of the window, then offer an update. */
  data (n: number): void {
    if (n > this.recvWindowCapacity) throw new Error('receive window exceeded')
    this.recvWindowCapacity -= n
    this.sendWindowUpdate()
  }
}

describe('widenWindow', () => {
  it('grants the whole window at once, then one update per half window received instead of one per frame', () => {
    const s = new FakeYamuxStream()
    widenWindow(s as unknown as Stream)
    expect(s.recvWindow).toBe(STREAM_WINDOW)
    s.data(64 * 1024)
    // The first frame: the update grants the rest of the window (as before).
    expect(s.sent).toEqual([STREAM_WINDOW - (256 - 64) * 1024])
    // 16 MiB in 64 KiB frames: the sender never runs out of window (data() throws if it would).
    for (let i = 0; i < 256; i++) s.data(64 * 1024)
    expect(s.sent.length).toBeLessThanOrEqual(1 + Math.ceil(256 * 64 * 1024 / (STREAM_WINDOW / 2)))
    expect(s.sent.slice(1).every(d => d >= STREAM_WINDOW / 2)).toBe(true)
  })

  it('sends every update a stream not established needs (SYN/ACK) and any update below half the window', () => {
    const s = new FakeYamuxStream()
    widenWindow(s as unknown as Stream)
    s.state = 1 // SYN sent, no ACK yet
    s.recvWindowCapacity = STREAM_WINDOW
    expect(halfOpen(s)).toBe(false)
    s.state = 3
    expect(halfOpen(s)).toBe(true)
    s.recvWindowCapacity = STREAM_WINDOW / 2 - 1
    expect(halfOpen(s)).toBe(false)
    // A stream without yamux's fields is left alone.
    expect(halfOpen({})).toBe(false)
    const plain = {}
    widenWindow(plain as unknown as Stream)
    expect(plain).toEqual({})
  })
})
