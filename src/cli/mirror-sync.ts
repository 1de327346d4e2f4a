import type { Chain } from '../chain/index.js'
import { syncQueryMirror } from '../query/index.js'
import { isPetalError } from '../util/index.js'
import type { CliContext } from './context.js'

/**
 * After a command imported blocks, bring the query mirror up to date so the next query starts at
 * once. The import itself has succeeded by then: a mirror that cannot be updated now is only
 * reported (the next `petal query` catches up, or says why it cannot).
 */
export async function syncMirrorAfterImport (ctx: CliContext, chain: Chain): Promise<void> {
  try {
    await syncQueryMirror(chain, { signal: ctx.signal })
  } catch (err) {
    if (isPetalError(err) && err.code === 'ABORTED') throw err
    ctx.logger.warn('the query mirror was not updated; the next query will catch up', { error: err as Error })
  }
}
