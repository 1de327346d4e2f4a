import type { FetchedBlock, Offence, RangeItem, StatusMessage, WireHeader } from '../network/index.js'

/**
 * What sync needs from the network, by peer id string. The network module implements it; sync
 * never touches libp2p. Every call may throw NetworkError (the network has already scored the
 * peer for protocol violations) or AbortError.
 */
export interface SyncNetwork {
  connectedPeers: () => string[]
  status: (peer: string, signal?: AbortSignal) => Promise<StatusMessage>
  headers: (peer: string, from: number, count: number, signal?: AbortSignal) => Promise<WireHeader[]>
  fetchBlock: (peer: string, hash: string, dest: string, o: { maxBytes: number, signal?: AbortSignal, onBytes?: (n: number) => void }) => Promise<FetchedBlock>
  /** Peers that serve range requests (`blocks`); without this method, blocks are fetched one by one. */
  servesRanges?: (peer: string) => boolean
  /** Several blocks on one stream, each reported by `onBlock` as it completes; rejects with what ended the reply. */
  fetchBlocks?: (peer: string, items: readonly RangeItem[], o: { maxBytes: number, signal?: AbortSignal, onBytes?: (i: number, n: number) => void, onBlock: (i: number, b: FetchedBlock) => void }) => Promise<void>
  announce: (h: WireHeader) => Promise<number>
  report: (peer: string, offence: Offence, detail: string) => void
}

export interface SyncProgress {
  state: 'idle' | 'syncing'
  /** local tip height */
  height: number
  /** height being synced to, while syncing */
  target?: number
  peer?: string
  /** block bytes imported since start */
  bytes: number
  /** Bytes of blocks received since start, transfers in progress included; each block counts once, whatever the retries. */
  received: number
  /** Bytes of work importing received blocks (hashing, checking, hashing rows, storing: IMPORT_PASSES − 1 passes per block), the block being imported included. */
  checked: number
  /** What the sync is doing: 'receiving', or the phase of the block being imported. */
  phase: string
  /** Blocks (and their bytes, from their headers) taken into a download window since start, each once, and the highest height among them. */
  queued: { blocks: number, bytes: number, height?: number }
}
