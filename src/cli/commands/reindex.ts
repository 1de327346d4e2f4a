import type { Command } from 'commander'
import { reindexChain } from '../../chain/index.js'
import { QueryError, QueryMirror } from '../../query/index.js'
import type { CliContext } from '../context.js'
import type { Action } from '../program.js'
import { addWaitOption, lockOptions } from '../write-lock.js'
import { openChain } from '../hashing.js'

/** `reindex --query`: rebuild query.db from the block files (chain.db is left alone). */
async function reindexQuery (ctx: CliContext): Promise<void> {
  const chain = openChain(ctx)
  const mirror = QueryMirror.open(chain)
  try {
    const bar = ctx.progress('reindex --query', 'blocks')
    const r = await mirror.rebuild({ signal: ctx.signal, onProgress: p => { bar.update({ phase: 'rebuilding', ...p }) } })
    bar.end()
    ctx.out.result({ query_mirror: chain.dir.queryDb, blocks: r.applied, tip: r.tip, stopped_at: r.stoppedAt }, () => `rebuilt the query mirror from ${r.applied} blocks up to height ${r.tip?.height ?? '-'} ${r.tip?.hash ?? ''}`)
    const stop = r.stoppedAt
    if (stop !== undefined) throw new QueryError(stop.code, stop.message, { hint: stop.hint, details: { height: stop.height, hash: stop.hash } })
  } finally {
    mirror.close()
  }
}

export function register (program: Command, action: Action): void {
  addWaitOption(program.command('reindex')).description('rebuild chain.db from the block files (every block re-validated); with --query, rebuild the query mirror query.db instead')
    .option('--deep', 'also run quick_check and recompute every table\'s Merkle root from its rows')
    .option('--truncate', 'accept dropping the blocks chain.db holds above the last block file (their files missing): rebuild up to that file')
    .option('--query', 'rebuild only the query mirror (query.db) from the canonical block files')
    .action(action(async (ctx, o: { deep?: boolean, query?: boolean, truncate?: boolean, wait?: number }) => {
      if (o.query === true) { await reindexQuery(ctx); return }
      const bar = ctx.progress('reindex')
      const r = await reindexChain(ctx.dir, { logger: ctx.logger, deep: o.deep === true, truncate: o.truncate === true, ...lockOptions(ctx, o.wait), onProgress: p => { bar.update(p) } })
      bar.end()
      const d = r.dropped
      const json = { blocks: r.blocks, side_blocks: r.sideBlocks, skipped_side_blocks: r.skippedSideBlocks, tip_height: r.tipHeight, tip_hash: r.tipHash, ...(d === undefined ? {} : { dropped: { from_height: d.height, from_hash: d.hash, to_height: d.toHeight } }) }
      ctx.out.result(json, () => `reindexed ${r.blocks} blocks up to height ${r.tipHeight} ${r.tipHash}` +
        (r.sideBlocks + r.skippedSideBlocks > 0 ? `; ${r.sideBlocks} side-branch blocks kept, ${r.skippedSideBlocks} skipped` : '') +
        (d === undefined ? '' : `; dropped ${d.toHeight > d.height ? `blocks ${d.height} (${d.hash}) to ${d.toHeight}, whose files were` : `block ${d.height} (${d.hash}), whose file was`} missing`))
    }))
}
