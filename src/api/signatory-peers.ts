import type { KeyState } from '../chain/index.js'
import type { KnownPeerFact } from './types.js'

/** A peer this node has met that proved it holds an active signatory's key. */
export interface SignatoryPeer {
  /** the signatory's key id */
  key: string
  /** libp2p peer id */
  id: string
  /** its libp2p addresses as this node last knew them (multiaddrs ending in /p2p/ID) */
  addrs: string[]
  /** connected to this node now */
  connected: boolean
  /** when this node last met it (RFC 3339), null when never (a bootstrap peer not reached yet) */
  last_seen: string | null
}

/**
 * The peers this node knows (peers.json, or the running node's list) whose last status proved an
 * active signatory's key (docs/protocol.md, "status"): where a client refused with
 * INGEST_NOT_SIGNATORY can send its rows, as far as this node knows. Only libp2p addresses: a
 * node's HTTP API is not announced to its peers, so its address is its operator's to give.
 */
export function peersOfSignatories (keys: KeyState, known: readonly KnownPeerFact[], connected: ReadonlySet<string>): SignatoryPeer[] {
  return known
    .filter((p): p is KnownPeerFact & { signer: string } => typeof p.signer === 'string' && keys.isActive(p.signer))
    .sort((a, b) => Number(connected.has(b.id)) - Number(connected.has(a.id)) || b.lastSeen - a.lastSeen)
    .map(p => ({ key: p.signer, id: p.id, addrs: p.addrs, connected: connected.has(p.id), last_seen: p.lastSeen > 0 ? new Date(p.lastSeen).toISOString() : null }))
}

/**
 * INGEST_NOT_SIGNATORY's and INGEST_NO_KEY's hint for an HTTP client: the signatories' peers this
 * node knows (at most three, each with one address), and where the whole list is. `own`: the
 * error's own hint, the remedy of the node's operator (add this node's key; make one first), kept
 * after it.
 */
export function notSignatoryHint (peers: readonly SignatoryPeer[], own: string | undefined): string {
  const known = peers.length === 0
    ? 'this node knows no peer that holds an active signatory\'s key (GET /api/v1/signers lists the signatories)'
    : `this node knows ${knownList(peers)}`
  const operator = own?.includes('petal signkey') === true ? `; or, by this node's operator: ${own.replace(/^write to a signatory node, or /, '')}` : ''
  return `send the rows to a node whose key is an active signatory: ${known}. A node's HTTP API address is not announced to peers: ask its operator for it${operator}`
}

/** "one: peer … (key …, at …); …" — at most three, then where the whole list is. */
function knownList (peers: readonly SignatoryPeer[]): string {
  const shown = peers.slice(0, 3).map(p => `peer ${p.id} (key ${p.key.slice(0, 14)}…${p.addrs[0] === undefined ? '' : `, at ${p.addrs[0]}`}${p.connected ? ', connected now' : ''})`)
  return `${peers.length === 1 ? 'one' : peers.length}: ${shown.join('; ')}${peers.length > shown.length ? `; and ${peers.length - shown.length} more` : ''} (GET /api/v1/signers lists them under each key's "peers")`
}

/** API_READ_ONLY's hint for a write (`petal serve`): its own, then the signatories' peers this node knows, if any. */
export function readOnlyHint (peers: readonly SignatoryPeer[], own: string | undefined): string | undefined {
  if (peers.length === 0) return undefined
  return `${own === undefined ? '' : `${own}. `}Signatories' nodes this node knows, to send records to: ${knownList(peers)}; a node's HTTP API address is not announced to peers: ask its operator for it`
}
