import type { Peer, PeerData, PeerId } from '@libp2p/interface'

/** How long a protocol merged for a peer is taken as still recorded without asking the store again. */
const REMEMBER_MS = 5_000

/** What this module relies on in libp2p's node and peer store (checked before use). */
interface MergingNode {
  peerStore: { merge: (id: PeerId, data: PeerData, options?: unknown) => Promise<Peer>, delete: (id: PeerId, options?: unknown) => Promise<void> }
  addEventListener: (type: 'peer:update' | 'self:peer:update', listener: (evt: CustomEvent<{ peer: Peer }>) => void) => void
}

function isMergingNode (n: unknown): n is MergingNode {
  if (typeof n !== 'object' || n === null || typeof Reflect.get(n, 'addEventListener') !== 'function') return false
  const s: unknown = Reflect.get(n, 'peerStore')
  return typeof s === 'object' && s !== null && typeof Reflect.get(s, 'merge') === 'function' && typeof Reflect.get(s, 'delete') === 'function'
}

let nodes = 0

/** How many libp2p nodes of this process skip repeated protocol merges (0 after an upgrade of libp2p that this module no longer fits: a test checks it). */
export function protocolMergeNodes (): number { return nodes }

const remembered = new WeakMap<object, () => number>()

/** How many peers a patched node remembers (bounded by those seen in the last 2 × REMEMBER_MS); undefined for a node not patched. */
export function protocolMergePeers (node: object): number | undefined { return remembered.get(node)?.() }

/**
 * libp2p records the protocol of every stream it opens or accepts in its peer store
 * (`peerStore.merge(peer, { protocols: [protocol] })` in connection.js): a write lock, the
 * peer's record read, decoded, merged and, when something changed, encoded and written. After a
 * peer's first stream of a protocol nothing changes, but the work is done again for every stream:
 * a pull of 1 MB blocks opens a range stream per ~6 blocks on each side, ~0.14 ms a block of the
 * pulling main thread (docs/performance/pull.md, "Session 22: the 1 MB pull"). This answers a merge of
 * protocols alone without the store when each of them was in the peer's record as last seen here
 * (a merge's result, or a `peer:update` or `self:peer:update`) less than REMEMBER_MS ago; any other merge, and every
 * patch, save or delete, goes to the store as before, and a change of the peer's record (an
 * update, a delete) replaces or forgets what is remembered. The answer is the peer as last seen.
 */
export function skipRepeatedProtocolMerges (node: unknown): boolean {
  if (!isMergingNode(node)) return false
  const store = node.peerStore
  const merge = store.merge.bind(store)
  const del = store.delete.bind(store)
  const seen = new Map<string, { peer: Peer, at: number }>()
  // A long-running node's DHT updates the records of thousands of peers: entries older than
  // REMEMBER_MS are answered by the store anyway, so they are dropped (a walk every REMEMBER_MS)
  // rather than held for the life of the process.
  let pruneAt = 0
  const remember = (peer: Peer): void => {
    const now = performance.now()
    if (now >= pruneAt) {
      for (const [id, e] of seen) if (now - e.at >= REMEMBER_MS) seen.delete(id)
      pruneAt = now + REMEMBER_MS
    }
    seen.set(peer.id.toString(), { peer, at: now })
  }
  // A change of a record (this node's own included: a handler removed) replaces what is remembered.
  for (const type of ['peer:update', 'self:peer:update'] as const) node.addEventListener(type, evt => { remember(evt.detail.peer) })
  store.merge = async (id, data, options) => {
    const keys = Object.keys(data)
    const last = seen.get(id.toString())
    if (last !== undefined && keys.length === 1 && keys[0] === 'protocols' && performance.now() - last.at < REMEMBER_MS &&
      (data.protocols ?? []).every(p => last.peer.protocols.includes(p))) return last.peer
    const peer = await merge(id, data, options)
    remember(peer)
    return peer
  }
  store.delete = async (id, options) => {
    seen.delete(id.toString())
    try {
      await del(id, options)
    } finally {
      seen.delete(id.toString())
    }
  }
  nodes++
  remembered.set(node, () => seen.size)
  return true
}
