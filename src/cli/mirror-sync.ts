import type { Chain } from '../chain/index.js'
import { syncQueryMirror } from '../query/index.js'
import { isPetalError } from '../util/index.js'
import type { CliContext } from './context.js'

/**
 * After a command imported blocks, bring the query mirror up to date so the next query starts at
 * once. The import itself has succeeded by then: a mirror that cannot be updated now is only
 * reported (the next `petal query` catches up, or says why it cannot).
 */
export async function syncMirrorAfterImport (ctx: CliContext, chain: Chain, o: { progress?: boolean } = {}): Promise<void> {
  const bar = o.progress === true ? ctx.progress('query mirror', 'blocks') : undefined
  try {
    await syncQueryMirror(chain, { signal: ctx.signal, onProgress: p => { bar?.update(p.done, p.total) } })
    bar?.done()
  } catch (err) {
    bar?.done()
    if (isPetalError(err) && err.code === 'ABORTED') throw err
    ctx.logger.warn('the query mirror was not updated; the next query will catch up', { error: err as Error })
  }
}
