import type { Socket } from 'node:net'

/** A read region of a connection that has carried little: as large as Node's own (libuv's 64 KiB). */
export const SMALL_POOL = 64 * 1024
/** A read region once a read filled its region to the end (more was waiting in the kernel). */
export const LARGE_POOL = 1024 * 1024
/** Below this much left in a pool, the next read gets a new pool rather than the tail. */
const MIN_REGION = 16 * 1024

let next: Buffer | undefined
let sockets = 0
let reads = 0

/** How many sockets of this process read through `pooledReads` and how many reads they made (a test checks both). */
export function pooledReadStats (): { sockets: number, reads: number } { return { sockets, reads } }

/** A new pool for the next read of a socket: a large one when its last read filled its region or was large. */
function pool (full: boolean): Buffer {
  return Buffer.allocUnsafeSlow(full ? LARGE_POOL : SMALL_POOL)
}

/**
 * Node's `onread` option for the sockets libp2p dials (given through @libp2p/tcp's `dialOpts`,
 * which it passes to `net.connect`): each read goes into the rest of a pool of this socket's
 * instead of a new 64 KiB buffer, and a pool is 1 MiB once a read filled its region to the end.
 * A read then takes up to 1 MiB of what the kernel holds where it took 64 KiB, and every layer
 * above (the socket's stream, the connection's message event, noise's length-prefix decoder, the
 * decryption's loop, yamux) runs once per read, not once per 64 KiB (docs/performance.md,
 * "Session 30: the 1 MB pull"). The bytes are handed on as Node's own read would hand them:
 * `push`ed into the socket's readable side (its 'data' events, pause and backpressure unchanged)
 * as a view of the pool that no later read writes over. A connection that carries little keeps
 * pools of 64 KiB, as Node's reads were: a view kept long (a message held in a cache) holds its
 * pool, at most 64 KiB there, at most 1 MiB on a connection that was receiving in bulk.
 *
 * Node calls the callback with the socket as `this`, then at once `buffer()` for the next read of
 * the same socket, so the region left over is handed from one to the other through `next`.
 */
export function pooledReads (): { onread: { buffer: () => Buffer, callback: (this: Socket, nread: number, buf: Buffer) => boolean } } {
  return {
    onread: {
      buffer: () => {
        const b = next
        next = undefined
        if (b !== undefined) return b
        sockets++ // no read before: a socket's handle asks for its first region
        return pool(false)
      },
      callback (this: Socket, nread: number, buf: Buffer): boolean {
        reads++
        const left = buf.byteLength - nread
        next = left >= MIN_REGION ? buf.subarray(nread) : pool(left === 0 || nread >= SMALL_POOL / 2)
        return this.push(buf.subarray(0, nread))
      }
    }
  }
}
