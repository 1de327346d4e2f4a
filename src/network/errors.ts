import { PetalError, registerErrorClass, type CodeDoc } from '../util/index.js'
import type { Offence } from './scoring.js'

export const NETWORK_ERROR_CODES = [
  /** the peer could not be reached (dial or protocol negotiation failed) */
  'DIAL_FAILED',
  /** the peer does not serve this chain */
  'WRONG_CHAIN',
  /** a request or transfer took longer than its timeout */
  'TIMEOUT',
  /** a block transfer ran below the rate floor (docs/protocol.md "Limits and timeouts") */
  'TOO_SLOW',
  /** a message could not be decoded or broke the protocol */
  'MALFORMED',
  /** a message was larger than its limit */
  'OVERSIZED',
  /** the block bytes do not hash to the requested hash */
  'TRANSFER_HASH_MISMATCH',
  /** the peer does not have the block that was asked */
  'PEER_LACKS_BLOCK',
  /** the peer is serving too many requests */
  'BUSY',
  /** the stream was reset or closed early */
  'STREAM_ERROR',
  /** the libp2p node could not start (e.g. the listen address is in use) */
  'LISTEN_FAILED',
  'BAD_MULTIADDR',
  'NODE_KEY_INVALID'
] as const

export type NetworkErrorCode = typeof NETWORK_ERROR_CODES[number]

/** The peer involved, when there is one. */
interface Peer { peer?: string }

/** `details` of each code. */
export interface NetworkErrorDetails {
  DIAL_FAILED: Peer
  WRONG_CHAIN: Peer
  TIMEOUT: Peer
  TOO_SLOW: Peer & { hash?: string, received?: number, size?: number }
  MALFORMED: Peer
  OVERSIZED: Peer & { hash?: string }
  TRANSFER_HASH_MISMATCH: Peer & { hash: string }
  PEER_LACKS_BLOCK: Peer & { hash?: string }
  BUSY: Peer & { hash?: string }
  STREAM_ERROR: Peer
  LISTEN_FAILED: Peer
  BAD_MULTIADDR: Peer
  NODE_KEY_INVALID: Peer
}

/** A failure talking to a peer. `details.peer` names it when there is one. */
export class NetworkError<C extends NetworkErrorCode = NetworkErrorCode> extends PetalError<C, NetworkErrorDetails[C]> {
  static readonly codes = NETWORK_ERROR_CODES
}

function networkErrorDocs (): Readonly<Record<NetworkErrorCode, CodeDoc>> {
  return {
    DIAL_FAILED: { meaning: 'the peer could not be reached', hint: 'check the address and that the peer is running' },
    WRONG_CHAIN: { meaning: 'the peer does not serve this chain', hint: 'check the address: that node serves another chain' },
    TIMEOUT: { meaning: 'a request or transfer took longer than its limit (docs/protocol.md)', hint: 'check that the peer is running and reachable, then run the command again (an interrupted `petal pull` resumes where it stopped); a running node tries again by itself' },
    TOO_SLOW: { meaning: 'a block transfer ran below the rate floor (docs/protocol.md "Limits and timeouts"); the transfer is cut, the peer scored down and the block asked of another peer', hint: 'nothing to do when another peer has the block (a running node asks it); if every peer is this slow, check the network between them' },
    MALFORMED: { meaning: 'the peer sent a message that breaks the protocol (the peer is scored down)', hint: 'that peer runs an incompatible or faulty Petal: fetch from another node of the chain (a running node does so by itself)' },
    OVERSIZED: { meaning: 'the peer sent a message or block larger than its limit (the peer is scored down)', hint: 'that peer sent more than the protocol or the chain allows: fetch from another node of the chain (a running node does so by itself)' },
    TRANSFER_HASH_MISMATCH: { meaning: 'the bytes a peer sent do not hash to the block asked for (the peer is scored down)', hint: 'that peer served wrong or damaged bytes: fetch from another node of the chain (a running node does so by itself); on that peer, `petal verify --repair` fetches its damaged block files again' },
    PEER_LACKS_BLOCK: { meaning: 'the peer does not have the block asked for', hint: 'fetch from a peer that has the block: a node whose `petal status` shows a tip at or above its height (`petal run --bootstrap MULTIADDR`)' },
    BUSY: { meaning: 'the peer is serving too many downloads right now', hint: 'run the command again in a moment (a running node asks another peer meanwhile)' },
    STREAM_ERROR: { meaning: 'the connection or stream to the peer failed mid-exchange', hint: 'check the connection to the peer, then run the command again (an interrupted `petal pull` resumes where it stopped); a running node tries again by itself' },
    LISTEN_FAILED: { meaning: 'the node cannot listen on the address given', hint: 'choose another --listen address or port (port 0 picks a free one)' },
    BAD_MULTIADDR: { meaning: 'an address is not a multiaddr, or lacks the /p2p/<peer id> a dial target needs', hint: 'copy the full address a running node prints, e.g. /ip4/192.0.2.7/tcp/2017/p2p/12D3KooW…' },
    NODE_KEY_INVALID: { meaning: 'node.key is not a libp2p private key', hint: 'remove it to generate a new node identity (the peer id will change)' }
  }
}

registerErrorClass(NetworkError, 'a peer could not be reached, or broke the protocol', networkErrorDocs)

const VIOLATIONS = { MALFORMED: 'malformed', OVERSIZED: 'oversized', TRANSFER_HASH_MISMATCH: 'hash-mismatch' } as const satisfies Partial<Record<NetworkErrorCode, Offence>>

/** Codes that mean the peer sent data it must not send (it is scored down and dropped). */
export function isProtocolViolation (code: NetworkErrorCode): code is keyof typeof VIOLATIONS {
  return code in VIOLATIONS
}

/** The offence a network error code charges the peer with (violations, timeouts, slowness), if any. */
export function offenceOf (code: NetworkErrorCode, withTimeout = false): Offence | undefined {
  if (isProtocolViolation(code)) return VIOLATIONS[code]
  if (!withTimeout) return undefined
  return code === 'TIMEOUT' ? 'timeout' : code === 'TOO_SLOW' ? 'slow' : undefined
}
