import { PetalError } from '../util/index.js'
import type { Offence } from './scoring.js'

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

const VIOLATIONS = { MALFORMED: 'malformed', OVERSIZED: 'oversized', HASH_MISMATCH: 'hash-mismatch' } as const

/** Codes that mean the peer sent data it must not send (it is scored down and dropped). */
export function isProtocolViolation (code: string): boolean {
  return code in VIOLATIONS
}

/** The offence a network error code charges the peer with (violations and timeouts), if any. */
export function offenceOf (code: string, withTimeout = false): Offence | undefined {
  if (code in VIOLATIONS) return VIOLATIONS[code as keyof typeof VIOLATIONS]
  return withTimeout && code === 'TIMEOUT' ? 'timeout' : undefined
}
