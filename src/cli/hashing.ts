import { TableRootPool } from '../block/index.js'
import { updateDaisyState, type Chain, type DaisyStateReport } from '../chain/index.js'
import type { CliContext } from './context.js'

// The table-hashing side of a command's context, apart from context.ts: only the commands that
// import this reach the worker pool, the table hashers and their WebAssembly, and the Daisy
// indexer; `status`, `blocks` and `mykeys` never hash a table, and their bundles (and code
// caches) are that much smaller (docs/performance/startup.md, "Session 26: start-up").

const pools = new WeakMap<CliContext, TableRootPool>()

/**
 * The command's table-hashing threads (for building and checking blocks with large tables),
 * created on first use and closed with the context, after everything opened later.
 */
export function hashPool (ctx: CliContext): TableRootPool {
  let pool = pools.get(ctx)
  if (pool === undefined) {
    const made = new TableRootPool()
    ctx.onClose(async () => { await made.close() })
    pools.set(ctx, made)
    pool = made
  }
  return pool
}

/** CliContext.openChain with the command's hashing pool, for a command whose chain may check or build blocks. */
export function openChain (ctx: CliContext, options: { forReading?: boolean } = {}): Chain {
  return ctx.openChain({ ...options, hashPool: hashPool(ctx) })
}

/** Check and index the Daisy blocks the derived state does not have yet (--dir a Daisy directory). */
export async function refreshDaisy (ctx: CliContext): Promise<DaisyStateReport> {
  const daisy = ctx.daisy
  if (daisy === undefined) throw new Error('refreshDaisy: --dir is not a Daisy directory')
  const bar = ctx.progress('Daisy index')
  try {
    return await updateDaisyState(daisy.dir, daisy.state, { logger: ctx.logger, hashPool: hashPool(ctx), signal: ctx.signal, onProgress: p => { bar.update(p) } })
  } finally {
    bar.end()
  }
}
