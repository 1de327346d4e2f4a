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

  constructor (private readonly socket: Socket) {
    socket.on('data', (b: Buffer) => {
      let messages: unknown[]
      try {
        messages = this.reader.push(b)
      } catch (err) {
        // Not our protocol: nothing more from it can be trusted (the process is killed as dead).
        socket.destroy(err instanceof Error ? err : new Error(String(err)))
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
