import type { Command } from 'commander'
import { ChainError, verifyChain } from '../../chain/index.js'
import { intOption } from '../args.js'
import { formatBytes } from '../output.js'
import type { Action } from '../program.js'

const workersOpt = intOption('--workers', { min: 1, max: 64 })

export function register (program: Command, action: Action): void {
  program.command('verify').description('re-hash every block in parallel and re-check every signature, link and key operation; exits non-zero at the first bad block')
    .option('--deep', 'also run quick_check and recompute every table\'s Merkle root from its rows')
    .option('--workers <n>', 'worker threads (default: one per core)', workersOpt)
    .action(action(async (ctx, o: { deep?: boolean, workers?: number }) => {
      const chain = ctx.openChain({ forReading: true })
      const bar = ctx.progress('verify')
      const r = await verifyChain(chain, { deep: o.deep === true, workers: o.workers, signal: ctx.signal, onProgress: p => { bar.update(p) } })
      bar.end()
      const rate = r.seconds > 0 ? `${(r.bytes / 1024 / 1024 / r.seconds).toFixed(1)} MiB/s, ${(r.blocks / r.seconds).toFixed(r.blocks / r.seconds < 10 ? 1 : 0)} blocks/s` : ''
      const json = { ok: r.ok, blocks: r.blocks, bytes: r.bytes, tip_height: r.tipHeight, tip_hash: r.tipHash, seconds: r.seconds, failure: r.failure }
      ctx.out.result(json, () => r.ok
        ? `ok: ${r.blocks} blocks (${formatBytes(r.bytes)}) verified up to height ${r.tipHeight} ${r.tipHash} in ${r.seconds.toFixed(2)} s (${rate})`
        : `FAILED at height ${r.failure?.height ?? '?'}: ${r.failure?.message ?? ''} [${r.failure?.code ?? ''}]`)
      if (!r.ok) {
        // The report above is the output; the error only sets the exit status and the hint.
        throw new ChainError('VERIFY_FAILED', `verification failed at height ${r.failure?.height ?? '?'}`, { hint: 'restore the bad block from a peer (`petal pull`) or a backup; `petal reindex` rebuilds the index if only it is wrong' })
      }
    }))
}
