import type { Socket } from 'node:net'
import type { ChildMessage, ParentMessage } from './protocol.js'
import { encodeFrame, FrameReader } from './wire.js'

/**
 * The parent's end of the socket to a sandbox process (its descriptor 3), carrying framed
 * messages (wire.ts) where Node's IPC channel carried them before.
 */
export class SandboxChannel {
  private readonly listeners = new Set<(m: ChildMessage) => void>()
  private readonly reader = new FrameReader()
  /** Why the channel was cut: the process sent what is not our protocol (a frame wire.ts refuses). */
  broken: Error | undefined

  /** `onBroken` stops the process once it has sent what is not our protocol (fork.ts kills it). */
  constructor (private readonly socket: Socket, private readonly onBroken: (err: Error) => void = () => {}) {
    socket.on('data', (b: Buffer) => {
      let messages: unknown[]
      try {
        messages = this.reader.push(b)
      } catch (err) {
        // Not our protocol: nothing more from the process can be trusted. It is killed, not just cut
        // off: a run would otherwise wait for its next read or write, or for the time limit (review40).
        this.broken = err instanceof Error ? err : new Error(String(err))
        socket.destroy(this.broken)
        this.onBroken(this.broken)
        return
      }
      for (const m of messages) for (const l of [...this.listeners]) l(m as ChildMessage)
    })
    // A process that died or was killed resets the socket: its 'exit' says what happened.
    socket.on('error', () => {})
  }

  on (listener: (m: ChildMessage) => void): void { this.listeners.add(listener) }
  off (listener: (m: ChildMessage) => void): void { this.listeners.delete(listener) }

  /** Whether messages can still be sent. */
  get connected (): boolean {
    return !this.socket.destroyed && this.socket.writable
  }

  /** Send one message; `done` is called with the write's error, or null. */
  send (m: ParentMessage, done?: (err: Error | null) => void): void {
    if (!this.connected) {
      done?.(new Error('the channel to the sandbox is closed'))
      return
    }
    this.socket.write(encodeFrame(m), err => { done?.(err ?? null) })
  }

  /** Whether the socket keeps this process alive. */
  ref (): void { this.socket.ref() }
  unref (): void { this.socket.unref() }
}
