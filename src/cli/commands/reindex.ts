import type { Command } from 'commander'
import { reindexChain } from '../../chain/index.js'
import type { Action } from '../program.js'

export function register (program: Command, action: Action): void {
  program.command('reindex').description('rebuild chain.db from the block files (every block re-validated)')
    .option('--deep', 'also run quick_check and recompute every table\'s Merkle root from its rows')
    .action(action(async (ctx, o: { deep?: boolean }) => {
      const bar = ctx.progress('reindex', 'blocks')
      const r = await reindexChain(ctx.dir, { logger: ctx.logger, deep: o.deep === true, signal: ctx.signal, onProgress: p => { bar.update(p.done, p.total, p.bytes) } })
      bar.done()
      ctx.out.result(r, () => `reindexed ${r.blocks} blocks up to height ${r.tipHeight} ${r.tipHash}` +
        (r.sideBlocks + r.skippedSideBlocks > 0 ? `; ${r.sideBlocks} side-branch blocks kept, ${r.skippedSideBlocks} skipped` : ''))
    }))
}
