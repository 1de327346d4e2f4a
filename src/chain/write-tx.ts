import { StorageError, type WriteLockOptions } from '../storage/index.js'
import { failpoint } from '../util/index.js'
import type { Chain } from './chain.js'
import { MAX_WAL_REWRITES, recover, refuseIndexBehindFiles, WAL_REWRITE_WAIT_MS, WalRewriteNeeded } from './recover.js'

/** Work to run once the transaction has committed (never before: files must outlive a rollback). */
export interface TxContext {
  afterCommit: (fn: () => void) => void
}

/**
 * Run a write under the store's lock: recover first, commit at the end, then the after-commit
 * steps. `placesBlocks` (imports, seals): refused under an index older than the block files
 * (refuseIndexBehindFiles), where a new block's file would replace a committed one.
 */
export async function writeTx<T> (chain: Chain, fn: (tx: TxContext) => Promise<T>, options: WriteLockOptions & { journalByFiles?: boolean, placesBlocks?: boolean } = {}): Promise<T> {
  const after: Array<() => void> = []
  let result: T
  // --wait is the whole wait, the lock's and the re-writes' (until session 40, each try's).
  const deadline = options.timeoutMs === undefined ? undefined : Date.now() + options.timeoutMs
  const left = (): number | undefined => deadline === undefined ? undefined : Math.max(0, deadline - Date.now())
  for (let tries = 0; ; tries++) {
    try {
      result = await chain.index.withWriteLock(async () => {
        recover(chain, 'ask', options.journalByFiles === true)
        if (options.placesBlocks === true) refuseIndexBehindFiles(chain)
        return await fn({ afterCommit: f => { after.push(f) } })
      }, { ...options, timeoutMs: left() })
      break
    } catch (err) {
      // recover() threw before `fn` ran: re-write chain.db-wal outside the transaction, then again.
      // Readers are waited for on timers (the event loop runs meanwhile), for --wait if given. No
      // fsync of the -wal stands in when they outlast it (fsyncgate: after a failed one it proves
      // nothing, and the journal it let go was all that undid the group): the write is refused.
      if (!(err instanceof WalRewriteNeeded)) throw err
      // Each re-write empties the log; one that is needed again after MAX_WAL_REWRITES says so,
      // not that the log stayed in use for the whole wait (review40).
      if (tries >= MAX_WAL_REWRITES) throw logInUse(chain, `still needed re-writing after ${tries} re-writes, each of which emptied it`)
      const waitMs = options.timeoutMs ?? WAL_REWRITE_WAIT_MS
      if (!await chain.index.rewriteWalExclusive(left() ?? WAL_REWRITE_WAIT_MS, options.signal)) throw logInUse(chain, `stayed in use by readers or another writer for ${(waitMs / 1000).toFixed(1)} s`)
    }
  }
  failpoint('tx:committed')
  for (const f of after) {
    try {
      f()
    } catch (err) {
      chain.logger.warn('cleanup after commit failed (recovery will retry)', { error: err })
    }
  }
  return result
}

/** The re-write a journal's group needs was kept from emptying chain.db-wal (`what` says how): nothing was written. */
function logInUse (chain: Chain, what: string): StorageError {
  return new StorageError('INDEX_BUSY', `the chain index's log (${chain.dir.chainDb}-wal) ${what}: an earlier group of blocks whose flush failed or was cut short must be re-written into chain.db before the next write, and the log cannot be emptied while they read it`, {
    hint: 'run the command again when the processes reading this data directory (`petal serve`, a node\'s API, a `petal query --per-block`) have finished their reads, or wait longer with --wait SECONDS; nothing was written',
    details: { holder: undefined }
  })
}
