import { PetalError } from '../util/index.js'

export type NetworkErrorCode =
  /** the peer could not be reached (dial or protocol negotiation failed) */
  | 'DIAL_FAILED'
  /** the peer does not serve this chain */
  | 'WRONG_CHAIN'
  /** a request or transfer took longer than its timeout */
  | 'TIMEOUT'
  /** a message could not be decoded or broke the protocol */
  | 'MALFORMED'
  /** a message was larger than its limit */
  | 'OVERSIZED'
  /** the block bytes do not hash to the requested hash */
  | 'HASH_MISMATCH'
  /** the peer does not have what was asked */
  | 'NOT_FOUND'
  /** the peer is serving too many requests */
  | 'BUSY'
  /** the stream was reset or closed early */
  | 'STREAM_ERROR'
  /** the libp2p node could not start (e.g. the listen address is in use) */
  | 'LISTEN_FAILED'
  | 'BAD_MULTIADDR'
  | 'NODE_KEY_INVALID'

/** A failure talking to a peer. `details.peer` names it when there is one. */
export class NetworkError extends PetalError<NetworkErrorCode> {}

/** Codes that mean the peer sent data it must not send (it is scored down and dropped). */
export function isProtocolViolation (code: string): boolean {
  return code === 'MALFORMED' || code === 'OVERSIZED' || code === 'HASH_MISMATCH'
}
