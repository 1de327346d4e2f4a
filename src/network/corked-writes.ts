import type { Socket } from 'node:net'
import type { Uint8ArrayList } from 'uint8arraylist'

/** What this module relies on in @libp2p/tcp's connection (checked before use). */
interface TcpConnection {
  socket: Socket
  sendData: (data: Uint8ArrayList) => { sentBytes: number, canSendMore: boolean }
}

function isTcpConnection (c: unknown): c is TcpConnection {
  if (typeof c !== 'object' || c === null || typeof Reflect.get(c, 'sendData') !== 'function') return false
  const s: unknown = Reflect.get(c, 'socket')
  return typeof s === 'object' && s !== null && typeof Reflect.get(s, 'cork') === 'function' && typeof Reflect.get(s, 'uncork') === 'function'
}

let corked = 0

/** How many connections of this process write corked (0 after an upgrade of @libp2p/tcp that this module no longer fits: a test checks it). */
export function corkedConnections (): number { return corked }

/**
 * Hand what the connection sends at once to the socket in one system call. @libp2p/tcp writes
 * each buffer of a send on its own, and noise gives it three or four per transport message (the
 * length, the ciphertext in one or more pieces, the tag): with TCP_NODELAY, a system call and a
 * segment each, 60-odd per megabyte sent, and as many for the receiver (docs/performance/pull.md,
 * "Session 13: the 1 MB pull"). Corked, the buffers go to the kernel together in one writev when
 * the send ends, without a copy. Backpressure is the socket's own: every buffer is written (Node
 * buffers what the kernel does not take yet), and the connection waits for 'drain' when the
 * socket asks for it, as before.
 */
export function useCorkedWrites (connection: unknown): boolean {
  if (!isTcpConnection(connection)) return false
  corked++
  const socket = connection.socket
  connection.sendData = (data: Uint8ArrayList) => {
    let sentBytes = 0
    socket.cork()
    try {
      for (const buf of data) {
        socket.write(buf)
        sentBytes += buf.byteLength
      }
    } finally {
      socket.uncork()
    }
    return { sentBytes, canSendMore: !socket.writableNeedDrain }
  }
  return true
}
