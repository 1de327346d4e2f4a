import { PetalError } from '../util/index.js'

export type SyncErrorCode =
  /** no connected peer has the block (after retries) */
  | 'UNAVAILABLE'
  /** the peer's branch leaves ours deeper than max_reorg_depth */
  | 'FORK_TOO_DEEP'
  /** the peer's headers do not continue from where they should */
  | 'HEADERS_INCONSISTENT'
  /** the chain refused to switch to the peer's branch (max_reorg_depth) */
  | 'REORG_REFUSED'
  /** a pull could not reach its peer or finish */
  | 'PULL_FAILED'

/** A catch-up step that could not complete; the syncer retries later or with other peers. */
export class SyncError extends PetalError<SyncErrorCode> {}
