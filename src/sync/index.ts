/**
 * sync: catching up with peers and fork resolution on the network side — tracks the tips peers
 * claim, finds the common ancestor, streams headers, downloads block files in parallel from
 * several peers in a bounded window, imports them in order through chain (which validates and
 * reorganises), judges announcements, and runs this signatory's re-seals of its orphaned blocks (which ones is
 * chain's rule: src/chain/orphans.ts).
 *
 * Talks to peers only through the SyncNetwork interface (never libp2p); never validates blocks
 * itself or writes files outside the chain's import functions and tmp/.
 * @module
 */
export { SyncError } from './errors.js'
export type { SyncProgress } from './types.js'
export type { SyncOptions } from './options.js'
export { sealedFieldsOf, judgeHeader } from './judge.js'
export { Sync, type SyncEvents } from './syncer.js'
export { Notifier } from './notifier.js'
