import type { WriteLockOptions } from '../storage/index.js'
import { failpoint } from '../util/index.js'
import type { Chain } from './chain.js'
import { recover } from './recover.js'

/** Work to run once the transaction has committed (never before: files must outlive a rollback). */
export interface TxContext {
  afterCommit: (fn: () => void) => void
}

/** Run a write under the store's lock: recover first, commit at the end, then the after-commit steps. */
export async function writeTx<T> (chain: Chain, fn: (tx: TxContext) => Promise<T>, options: WriteLockOptions = {}): Promise<T> {
  const after: Array<() => void> = []
  const result = await chain.index.withWriteLock(async () => {
    recover(chain)
    return await fn({ afterCommit: f => { after.push(f) } })
  }, options)
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
