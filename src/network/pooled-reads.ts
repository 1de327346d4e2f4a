import type { Socket } from 'node:net'
import { adviseHugeHeap } from '../crypto/index.js'

/** A read region of a connection that has carried little: as large as Node's own (libuv's 64 KiB). */
export const SMALL_POOL = 64 * 1024
/** A read region once a read filled its region to the end (more was waiting in the kernel). */
export const LARGE_POOL = 1024 * 1024
/** Below this much left in a pool, the next read gets a new pool rather than the tail. */
const MIN_REGION = 16 * 1024
/**
 * A read this long after the socket's previous one ends its bulk: the next region is not the rest
 * of a large pool (which the handle would hold, and with it the whole pool, while the connection
 * idles) but a new pool sized by this read. libp2p's pings (every 10 s on every connection) and the
 * sync's status polls are such reads on a connection that has gone quiet.
 */
export const IDLE_MS = 500

const kLast = Symbol('pooled-reads: when the socket last read (ms)')
const kPool = Symbol('pooled-reads: the size of the pool of the socket\'s current region')
type PooledSocket = Socket & { [kLast]?: number, [kPool]?: number }

let next: Buffer | undefined
let sockets = 0
let reads = 0
let large = 0
/** Sockets that have read and are not closed, for `held` (a close removes one). */
const open = new Set<PooledSocket>()

/**
 * How many sockets of this process read through `pooledReads`, how many reads they made, how many
 * large pools they took, how many of those that have read are open, and `held`: the bytes of the pools their handles' current
 * regions belong to (what those sockets keep between reads; tests check them).
 */
export function pooledReadStats (): { sockets: number, reads: number, large: number, open: number, held: number } {
  let held = 0
  for (const s of open) held += s[kPool] ?? 0
  return { sockets, reads, large, open: open.size, held }
}

/** A new pool for the next read of a socket: a large one when its last read filled its region or was large. */
function pool (full: boolean): Buffer {
  if (!full) return Buffer.allocUnsafeSlow(SMALL_POOL)
  large++
  const b = Buffer.allocUnsafeSlow(LARGE_POOL)
  adviseHugeHeap() // the heap may have grown for it: on 2 MiB pages too (crypto/openssl-native.ts)
  return b
}

function track (s: PooledSocket): void {
  open.add(s)
  s.once('close', () => { open.delete(s) })
}

/**
 * Node's `onread` option for the sockets libp2p dials (given through @libp2p/tcp's `dialOpts`,
 * which it passes to `net.connect`): each read goes into the rest of a pool of this socket's
 * instead of a new 64 KiB buffer, and a pool is 1 MiB once a read filled its region to the end.
 * A read then takes up to 1 MiB of what the kernel holds where it took 64 KiB, and every layer
 * above (the socket's stream, the connection's message event, noise's length-prefix decoder, the
 * decryption's loop, yamux) runs once per read, not once per 64 KiB (docs/performance/pull.md,
 * "Session 30: the 1 MB pull"). The bytes are handed on as Node's own read would hand them:
 * `push`ed into the socket's readable side (its 'data' events, pause and backpressure unchanged)
 * as a view of the pool that no later read writes over. A connection that carries little keeps
 * pools of 64 KiB, as Node's reads were: a view kept long (a message held in a cache) holds its
 * pool, at most 64 KiB there, at most 1 MiB on a connection that was receiving in bulk.
 *
 * Between reads the handle holds its region, and the region its pool: the first read after
 * IDLE_MS of quiet gets a new pool for the next (64 KiB unless that read was large), so a
 * connection that received in bulk and went quiet keeps 64 KiB, not 1 MiB (docs/performance/reviews.md,
 * "Session 32: mends").
 *
 * Node calls the callback with the socket as `this`, then at once `buffer()` for the next read of
 * the same socket, so the region left over is handed from one to the other through `next`.
 * `now`: the clock (tests give their own).
 */
export function pooledReads (o: { now?: () => number } = {}): { onread: { buffer: () => Buffer, callback: (this: Socket, nread: number, buf: Buffer) => boolean } } {
  const now = o.now ?? (() => performance.now())
  return {
    onread: {
      buffer: () => {
        const b = next
        next = undefined
        if (b !== undefined) return b
        sockets++ // no read before: a socket's handle asks for its first region
        return pool(false)
      },
      callback (this: PooledSocket, nread: number, buf: Buffer): boolean {
        reads++
        const t = now()
        const last = this[kLast]
        this[kLast] = t
        if (last === undefined) track(this)
        const left = buf.byteLength - nread
        const rest = left >= MIN_REGION && (t - (last ?? t) < IDLE_MS || buf.buffer.byteLength <= SMALL_POOL)
        next = rest ? buf.subarray(nread) : pool(left === 0 || nread >= SMALL_POOL / 2)
        this[kPool] = next.buffer.byteLength
        return this.push(buf.subarray(0, nread))
      }
    }
  }
}
