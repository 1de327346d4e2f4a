import type { ImportResult, SealVerdict } from '../chain/index.js'
import type { FetchedBlock, Offence, RangeItem, StatusMessage, WireHeader } from '../network/index.js'
import type { Clock, Logger, WorkProgress } from '../util/index.js'
import type { BlockImporter } from './importer.js'

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

/** The headers of the branch to download, in height order (a HeaderFeed). */
export interface HeaderSource {
  /** The peer that sent the headers: it vouched for the blocks, so it shares the blame for an invalid one. */
  readonly peer: string
  /** The next header, or undefined at the end of the branch. */
  take: (signal: AbortSignal) => Promise<WireHeader | undefined>
  /** The seal of a header `take` gave, if the source verified it (with a key this node knows). */
  sealChecked?: (h: WireHeader) => SealVerdict | undefined
}

export interface DownloadComponents {
  network: Pick<SyncNetwork, 'fetchBlock' | 'fetchBlocks' | 'servesRanges' | 'report'>
  importer: BlockImporter
  /** Peers that may have a block at this height (their claimed tip is at least that high), best first. */
  candidates: (height: number) => string[]
  onImported: (r: ImportResult, from: string) => void
  /** A header entered the download window. */
  onQueued?: (h: WireHeader) => void
  /** The most of block `h` any one transfer has received so far (for progress). */
  onReceived?: (h: WireHeader, bytes: number) => void
  /** Progress of importing block `h` (hashing, checking, storing), in bytes of work. */
  onImportProgress?: (h: WireHeader, p: WorkProgress) => void
  logger: Logger
  clock?: Clock
}
