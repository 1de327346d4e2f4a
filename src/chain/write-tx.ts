import type { WriteLockOptions } from '../storage/index.js'
import { failpoint } from '../util/index.js'
import type { Chain } from './chain.js'
import { MAX_WAL_REWRITES, recover, WAL_REWRITE_WAIT_MS, WalRewriteNeeded } from './recover.js'

/** Work to run once the transaction has committed (never before: files must outlive a rollback). */
export interface TxContext {
  afterCommit: (fn: () => void) => void
}

/** Run a write under the store's lock: recover first, commit at the end, then the after-commit steps. */
export async function writeTx<T> (chain: Chain, fn: (tx: TxContext) => Promise<T>, options: WriteLockOptions = {}): Promise<T> {
  const after: Array<() => void> = []
  let result: T
  for (let tries = 0; ; tries++) {
    try {
      result = await chain.index.withWriteLock(async () => {
        recover(chain, tries >= MAX_WAL_REWRITES ? 'fsync' : 'ask')
        return await fn({ afterCommit: f => { after.push(f) } })
      }, options)
      break
    } catch (err) {
      // recover() threw before `fn` ran: re-write chain.db-wal outside the transaction, then again.
      // Readers are waited for on timers (the event loop runs meanwhile), as long as SQLite's busy
      // timeout did on the thread before session 38.
      if (!(err instanceof WalRewriteNeeded)) throw err
      await chain.index.rewriteWalExclusive(WAL_REWRITE_WAIT_MS)
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
