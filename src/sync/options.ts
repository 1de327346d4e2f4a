import { MAX_UPLOADS_PER_PEER } from '../network/core.js'

export interface DownloadOptions {
  /** Blocks downloaded ahead of the import point (each on disk in tmp/, not in memory). */
  window: number
  /** ... and at most this many bytes of them (by their headers; at least one block). Unlimited if absent. */
  windowBytes?: number
  /** Block requests in flight to one peer. */
  perPeer: number
  /** Rounds of asking every candidate peer before giving up on a block. */
  maxAttempts: number
  /** Delay before a new round; doubles per round. */
  retryDelayMs: number
  /** Ask a second peer for the next block to import when the first takes longer than this. */
  hedgeAfterMs: number
  /** The longest a few checked blocks wait for more to make a larger group (GroupGate); GROUP_HOLD_MS if absent. */
  groupHoldMs?: number
}

export interface SyncOptions extends DownloadOptions {
  /** Ask every peer for its tip this often when idle (announcements usually come first). */
  statusIntervalMs: number
  /** A branch that failed is not tried again for this long. */
  failedTtlMs: number
}

export const DEFAULT_SYNC_OPTIONS: SyncOptions = {
  // Small blocks: many at once, so groups are large and few fsync rounds are paid per block;
  // large ones: bounded by bytes (what waits in tmp/).
  window: 512,
  windowBytes: 64 * 1024 * 1024,
  // What a peer serves to one requester at once: more requests would only be answered BUSY.
  perPeer: MAX_UPLOADS_PER_PEER,
  maxAttempts: 5,
  retryDelayMs: 200,
  hedgeAfterMs: 5_000,
  statusIntervalMs: 15_000,
  failedTtlMs: 60_000
}
