import { PetalError, registerErrorClass, type CodeDoc } from '../util/index.js'

export const SYNC_ERROR_CODES = [
  /** no connected peer has the block (after retries) */
  'UNAVAILABLE',
  /** the peer's branch leaves ours deeper than max_reorg_depth */
  'FORK_TOO_DEEP',
  /** the peer's headers do not continue from where they should */
  'HEADERS_INCONSISTENT',
  /** the chain refused to switch to the peer's branch (max_reorg_depth) */
  'REORG_REFUSED',
  /** a pull could not reach its peer or finish */
  'PULL_FAILED',
  /** the download scheduler tried a transition its slot's state does not allow (a bug) */
  'WRONG_SLOT_STATE'
] as const

export type SyncErrorCode = typeof SYNC_ERROR_CODES[number]

/** `details` of each code. */
export interface SyncErrorDetails {
  UNAVAILABLE: { height: number, hash: string }
  FORK_TOO_DEEP: { peer: string }
  HEADERS_INCONSISTENT: { peer: string, height?: number }
  REORG_REFUSED: { peer: string }
  PULL_FAILED: Record<never, never>
  WRONG_SLOT_STATE: { height: number, state: string }
}

/** A catch-up step that could not complete; the syncer retries later or with other peers. */
export class SyncError<C extends SyncErrorCode = SyncErrorCode> extends PetalError<C, SyncErrorDetails[C]> {
  static readonly codes = SYNC_ERROR_CODES
}

function syncErrorDocs (): Readonly<Record<SyncErrorCode, CodeDoc>> {
  return {
    UNAVAILABLE: { meaning: 'no connected peer could provide a block, after retries', hint: 'connect to a peer that has the block: a node whose `petal status` shows a tip at or above its height (`petal run --bootstrap MULTIADDR`)' },
    FORK_TOO_DEEP: { meaning: 'the peer\'s branch leaves this chain more than max_reorg_depth blocks below the tip', hint: 'a branch that deep is refused by design (max_reorg_depth): check which chain that peer follows' },
    HEADERS_INCONSISTENT: { meaning: 'the peer\'s headers do not continue its chain, or do not lead to the tip it claims', hint: 'that peer claims a tip it cannot back (it may have reorganised meanwhile): sync from another node of the chain; a running node forgets the claim and goes on' },
    REORG_REFUSED: { meaning: 'switching to the peer\'s branch would reorganise more than max_reorg_depth blocks', hint: 'a reorganisation that deep is refused by design (max_reorg_depth): check which chain that peer follows' },
    PULL_FAILED: { meaning: 'a pull could not reach its peer, or stopped making progress', hint: 'check that the peer is running and reachable; run the same command again to resume' },
    WRONG_SLOT_STATE: { meaning: 'the download scheduler tried a step its state does not allow (a bug in Petal); the sync round stops and is retried', hint: 'report it with the log' }
  }
}

registerErrorClass(SyncError, 'catching up with peers could not complete', syncErrorDocs)
