import type { Chain } from '../chain/index.js'
import type { IngestService, OrphanJudging, SealPolicy } from '../ingest/index.js'
import type { MirrorStop } from '../query/index.js'
import type { CheckpointAudience, ChunkPool, NoCheckpointHint } from '../proof/index.js'
import type { BlockRecord } from '../storage/index.js'
import type { Logger } from '../util/index.js'
import type { EventHub } from './events.js'
import type { ErrorAudience } from './http-errors.js'
import type { ApiLimits, AccessPolicy, HttpAddress } from './options.js'
import type { PetalMetrics } from './petal-metrics.js'
import type { QueryService } from './query-service.js'
import type { ActivitySeries } from './activity-series.js'
import type { BlockFiles } from './block-files.js'
import type { TokenStore } from './tokens.js'
import type { SignatoryPeer } from './signatory-peers.js'

/**
 * What the API learns about the running node: implemented by `node` (the API never imports the
 * network). Absent under `petal serve`, which joins no network.
 */
export interface NodeFacts {
  readonly peerId: string
  role: () => 'signatory' | 'follower'
  /** The key id the node seals with; undefined when it was started without one (a follower). */
  signingKey?: () => string | undefined
  peers: () => Array<{ id: string, addr: string, direction: string, tip_height?: number }>
  sync: () => { state: 'idle' | 'syncing', height: number, target?: number }
  listen: () => string[]
  /**
   * Bring the query mirror up to the chain's tip (the node does it in a worker thread); resolves
   * with where it stopped below the tip (a missing or damaged block file), if it did.
   */
  syncMirror: (signal?: AbortSignal) => Promise<MirrorStop | undefined>
  /** The policy the node seals pending rows by; undefined when it does not seal. */
  sealPolicy?: () => SealPolicy | undefined
}

/** A peer the node remembers (peers.json; the running node's list), as the API shows the signatories' (signatory-peers.ts). */
export interface KnownPeerFact {
  id: string
  addrs: string[]
  /** ms since the epoch; 0: never met */
  lastSeen: number
  /** the key id its last status proved, null for none; absent: unknown */
  signer?: string | null
}

export interface ApiServerOptions {
  /** The data directory to serve. */
  dir: string
  /**
   * The directory the errors' hints name in their `petal …` commands, when not `dir`: a served Daisy
   * directory, whose `dir` is Petal's state of it (`petal --dir STATE verify` would not read the
   * Daisy chain). A remote client sees neither.
   */
  hintDir?: string
  address: HttpAddress
  access?: Partial<AccessPolicy>
  limits?: Partial<ApiLimits>
  node?: NodeFacts
  /** The record ingestion service: the write endpoints answer API_READ_ONLY without it. */
  ingest?: IngestService
  /** The data directory's record of its re-seals and its ingest's blocks (GET /api/v1/orphans: a node's, serve's); without it, orphans are judged from the chain alone. */
  orphans?: OrphanJudging
  /** The peers the node remembers (the running node's, or serve's peers.json): GET /signers names the signatories' among them, and so does INGEST_NOT_SIGNATORY's hint. */
  knownPeers?: () => readonly KnownPeerFact[]
  /** Without `ingest`: API_READ_ONLY's hint, as the data directory stands when a write is refused (serve's, which knows its keys). */
  readOnlyHint?: () => string
  metrics?: PetalMetrics
  /** The thread that hashes large tables' chunk roots for row proofs; the caller owns and closes it. */
  chunkPool?: ChunkPool
  /** Who would make or fetch a missing checkpoint here, for PROOF_NO_CHECKPOINT's hint (default: a reader who knows no peer). */
  checkpointAudience?: () => CheckpointAudience
  logger?: Logger
  /** How often the index is polled for new tips (events, default 250 ms). */
  watchMs?: number
}

/** What every route handler gets. */
export interface ApiContext {
  /** A connection of the API's own to the index: it only reads, so it never waits for writers. */
  chain: Chain
  limits: ApiLimits
  access: AccessPolicy
  node?: NodeFacts
  ingest?: IngestService
  orphans?: OrphanJudging
  /** see ApiServerOptions.readOnlyHint */
  readOnlyHint?: () => string
  /** The peers this node knows that proved an active signatory's key (signatory-peers.ts), best first. */
  signatoryPeers: () => SignatoryPeer[]
  metrics: PetalMetrics
  /** see ApiServerOptions.chunkPool (without one, proofs hash on the server's thread) */
  chunkPool?: ChunkPool
  /** PROOF_NO_CHECKPOINT's hint for this server's directory (ApiServerOptions.checkpointAudience) */
  noCheckpointHint: NoCheckpointHint
  events: EventHub
  /**
   * The tip the event stream has reported, after looking for a change (which goes to the streams
   * already open): a new stream starts there, so its next event is a change from it.
   */
  streamTip: () => BlockRecord
  queries: QueryService
  files: BlockFiles
  tokens: TokenStore
  /** every canonical block's time and rows, for the activity chart (kept up to date on use) */
  activity: ActivitySeries
  logger: Logger
  /** Who reads the errors: what a reply may say (http-errors.ts) */
  errorsTo: ErrorAudience
  /** The OpenAPI document (built once from the route table). */
  openapi: () => unknown
}
