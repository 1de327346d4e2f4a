import type { AccessPolicy, ApiLimits, HttpAddress } from '../api/index.js'
import type { Chain } from '../chain/index.js'
import type { SigningKey } from '../crypto/index.js'
import type { SealLoopOptions } from '../ingest/index.js'
import type { NetworkOptions } from '../network/index.js'
import type { NodeLock } from '../storage/index.js'
import type { SyncEvents, SyncOptions } from '../sync/index.js'
import type { Logger } from '../util/index.js'

/** Signatory: its signing key is active at the tip; otherwise follower. */
export type NodeRole = 'signatory' | 'follower'

export interface NodeEvents extends SyncEvents {
  /** The node's role changed (its key was added or revoked by a block it stored). */
  onRoleChanged?: (role: NodeRole) => void
}

export interface NodeOptions {
  /** Data directory of an initialised chain. */
  dir: string
  /** Use this open chain instead of opening `dir` (the node will not close it). */
  chain?: Chain
  /** Signing key: orphaned blocks it signed are re-sealed; publish() uses it. */
  signingKey?: SigningKey
  /** Cosign checkpoints as a witness (docs/proofs.md "Witness cosignatures"). */
  witness?: { name: string, key: SigningKey }
  /** Network settings; `bootstrap` is added to chainparams' bootstrap_peers. */
  network?: Partial<NetworkOptions>
  sync?: Partial<SyncOptions>
  /** Observe imports, sync progress and role changes (logs, progress bars, tests). */
  events?: NodeEvents
  logger?: Logger
  /** Poll the index this often for blocks imported by another process (signimportblock). */
  watchMs?: number
  /**
   * node.lock, already taken by the caller (a pull, which keeps it through its verify after the
   * node stops): the node neither takes nor releases it. Without it the node takes its own.
   */
  lock?: NodeLock
  /**
   * A pull's sync (with `lock`): node-state.json says `pull: true` (a pull seals nothing: `petal
   * append` says so); the pull's own file, written before the node starts, is not removed at start,
   * and the node's is left at stop for the pull to rewrite for its verify and remove once it has ended.
   */
  pull?: boolean
  /** Write node-state.json for `petal status` / `petal peers` (default true). */
  stateFile?: boolean
  stateEveryMs?: number
  /** Keep the query mirror (query.db) up to date with the chain (default true). */
  queryMirror?: boolean
  /** How often the mirror is compared with the tip (default 500 ms). */
  mirrorEveryMs?: number
  /** Serve the HTTP API (docs/api.md); off unless given. */
  http?: { address: HttpAddress, access?: Partial<AccessPolicy>, limits?: Partial<ApiLimits> }
  /**
   * The ingest service's seal loop (docs/ingest.md): seal pending rows every `everyMs` (default
   * 5 s) or at `rows` / `bytes` pending. `false`: no ingest service at all.
   */
  ingest?: false | Partial<Omit<SealLoopOptions, 'ready'>>
}

export const DEFAULT_WATCH_MS = 250
export const DEFAULT_STATE_EVERY_MS = 2_000
export const DEFAULT_MIRROR_EVERY_MS = 500
