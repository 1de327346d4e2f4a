import { lpStream } from '@libp2p/utils'
import type { PeerId, Stream } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { StorageError } from '../storage/index.js'
import { AbortError, linkSignals, withDetails, type LinkedSignal } from '../util/index.js'
import { NetworkError, type NetworkErrorCode } from './errors.js'
import { decodeJson, encodeJson } from './wire.js'

/**
 * Combine the caller's signal with a timeout; `timedOut()` tells which one fired. The caller
 * disposes it when the request ends (the caller's signal often lives as long as the node).
 */
export function deadline (timeoutMs: number, signal?: AbortSignal): LinkedSignal {
  return linkSignals([signal], timeoutMs)
}

const NAME_TO_CODE: Record<string, NetworkErrorCode> = {
  InvalidDataLengthError: 'OVERSIZED',
  InvalidDataLengthLengthError: 'OVERSIZED',
  StreamBufferError: 'OVERSIZED',
  InvalidMessageLengthError: 'MALFORMED',
  UnsupportedProtocolError: 'WRONG_CHAIN',
  UnexpectedEOFError: 'STREAM_ERROR',
  StreamResetError: 'STREAM_ERROR',
  StreamStateError: 'STREAM_ERROR',
  StreamClosedError: 'STREAM_ERROR',
  StreamAbortedError: 'STREAM_ERROR',
  ConnectionClosedError: 'STREAM_ERROR',
  MuxerClosedError: 'STREAM_ERROR'
}

/**
 * Turn whatever libp2p or a codec threw into a NetworkError (or AbortError when the caller
 * cancelled). Peer-supplied text never ends up in the message. A failure of this node's own disk
 * while receiving (ENOSPC, EIO, EMFILE…) is not the peer's: the receive codes it where the file
 * operation fails (StorageError: DISK_FULL…, with its hint), and it passes here unchanged, even
 * after a deadline fired. Errors with an errno from anywhere else (a socket) stay network errors.
 */
export function toNetworkError (err: unknown, what: string, peer: string, timedOut: boolean, callerSignal?: AbortSignal): Error {
  if (err instanceof NetworkError) {
    return err.details.peer === undefined ? withDetails(err, { peer }) : err
  }
  if (callerSignal?.aborted === true) return new AbortError()
  if (err instanceof StorageError) return err
  if (timedOut) return new NetworkError('TIMEOUT', `${what} timed out`, { details: { peer } })
  const name = err instanceof Error ? err.name : ''
  const code = NAME_TO_CODE[name] ?? 'STREAM_ERROR'
  return new NetworkError(code, `${what} failed: ${name !== '' ? name : 'error'}`, { details: { peer }, cause: err })
}

/** Send one length-prefixed request frame and read one reply frame of at most `limit` bytes. */
export async function exchange (stream: Stream, request: Uint8Array, limit: number, signal: AbortSignal): Promise<Uint8Array> {
  const lp = lpStream(stream, { maxDataLength: limit })
  await lp.write(request, { signal })
  const reply = await lp.read({ signal })
  return reply.subarray()
}

/** Close a stream politely if it is still open, or abort it after an error. */
export function finish (stream: Stream | undefined, err?: unknown): void {
  if (stream === undefined) return
  if (err !== undefined) {
    stream.abort(err instanceof Error ? err : new Error('request failed'))
    return
  }
  if (stream.status === 'open') stream.close().catch(() => { stream.abort(new Error('close failed')) })
}

interface Dialer { dialProtocol: (peer: PeerId | Multiaddr, protocols: string | string[], options?: { signal?: AbortSignal }) => Promise<Stream> }

/** Open a stream for `protocol`; failures become DIAL_FAILED, WRONG_CHAIN or TIMEOUT. */
export async function openStream (node: Dialer, peer: PeerId | Multiaddr, protocol: string, d: { signal: AbortSignal, timedOut: () => boolean }, callerSignal?: AbortSignal): Promise<Stream> {
  try {
    return await node.dialProtocol(peer, protocol, { signal: d.signal })
  } catch (err) {
    const e = toNetworkError(err, 'dial', peer.toString(), d.timedOut(), callerSignal)
    if (e instanceof NetworkError && e.code === 'STREAM_ERROR') {
      throw new NetworkError('DIAL_FAILED', `cannot reach peer ${peer.toString()}`, { details: { peer: peer.toString() }, hint: 'check the address and that the peer is running', cause: err })
    }
    throw e
  }
}

/**
 * One request/response exchange on a new stream: open it, send `request` as a JSON frame, read one
 * reply frame of at most `limit` bytes and `parse` it, close. Every failure, the reply's parsing
 * included, becomes a NetworkError naming the peer.
 */
export async function jsonRequest<T> (node: Dialer, peer: PeerId | Multiaddr, protocol: string, request: unknown,
  o: { what: string, limit: number, timeoutMs: number, parse: (reply: Record<string, unknown>) => T, signal?: AbortSignal }): Promise<T> {
  const d = deadline(o.timeoutMs, o.signal)
  let stream: Stream | undefined
  try {
    stream = await openStream(node, peer, protocol, d, o.signal)
    const reply = await exchange(stream, encodeJson(request), o.limit, d.signal)
    finish(stream)
    return o.parse(decodeJson(reply, o.limit, `${o.what} reply`))
  } catch (err) {
    const e = toNetworkError(err, `${o.what} request`, peer.toString(), d.timedOut(), o.signal)
    finish(stream, e)
    throw e
  } finally {
    d.dispose()
  }
}
