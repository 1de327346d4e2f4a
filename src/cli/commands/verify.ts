import { existsSync } from 'node:fs'
import type { Command } from 'commander'
import { ChainError, verifyChain, type Chain } from '../../chain/index.js'
import type { RepairReport } from '../../node/index.js'
import { DataDir } from '../../storage/index.js'
import { intOption } from '../args.js'
import type { CliContext } from '../context.js'
import { syncMirrorAfterImport } from '../mirror-sync.js'
import { formatBytes, short, UsageError } from '../output.js'
import type { Action } from '../program.js'

const workersOpt = intOption('--workers', { min: 1, max: 64 })

const collect = (v: string, prev: string[]): string[] => [...prev, v]

interface VerifyFlags { deep?: boolean, workers?: number, repair?: boolean, peer: string[], from: string[] }

/** The hint of a failed verify: what repairs which kind of damage. */
export const VERIFY_HINT = 'a damaged or missing block file is fetched again and put back by `petal verify --repair` (from the peers this node knows, or `--peer ADDR`, or `--from DIR`); if only the index is wrong, `petal reindex` rebuilds it'

export function register (program: Command, action: Action): void {
  program.command('verify').description('re-hash every block in parallel and re-check every signature, link and key operation; exits non-zero at the first bad block; --repair first fetches damaged or missing block files again')
    .option('--deep', 'also run quick_check and recompute every table\'s Merkle root from its rows')
    .option('--workers <n>', 'worker threads (default: one per core)', workersOpt)
    .option('--repair', 'find block files (canonical and side branch) that are damaged or missing, fetch each again by its indexed hash, check it as an import would and put it back; then verify')
    .option('--peer <multiaddr>', 'with --repair: ask this peer, …/p2p/<peer id> (repeatable; asked before the peers in peers.json and the bootstrap peers)', collect, [])
    .option('--from <dir>', 'with --repair: copy good blocks from this data directory of the same chain (repeatable; asked before any peer)', collect, [])
    .action(action(async (ctx, o: VerifyFlags) => {
      if (o.repair !== true && (o.peer.length > 0 || o.from.length > 0)) throw new UsageError('--peer and --from apply to --repair', 'add --repair to fetch damaged blocks again')
      const repair = o.repair === true ? await repairFirst(ctx, o) : undefined
      const chain = repair?.chain ?? ctx.openChain({ forReading: true })
      const bar = ctx.progress('verify')
      const r = await verifyChain(chain, { deep: o.deep === true, workers: o.workers, signal: ctx.signal, onProgress: p => { bar.update(p) } })
      bar.end()
      const rate = r.seconds > 0 ? `${(r.bytes / 1024 / 1024 / r.seconds).toFixed(1)} MiB/s, ${(r.blocks / r.seconds).toFixed(r.blocks / r.seconds < 10 ? 1 : 0)} blocks/s` : ''
      const json = { ok: r.ok, blocks: r.blocks, bytes: r.bytes, tip_height: r.tipHeight, tip_hash: r.tipHash, seconds: r.seconds, failure: r.failure, repair: repair === undefined ? undefined : repairJson(repair.report) }
      ctx.out.result(json, () => r.ok
        ? `ok: ${r.blocks} blocks (${formatBytes(r.bytes)}) verified up to height ${r.tipHeight} ${r.tipHash} in ${r.seconds.toFixed(2)} s (${rate})`
        : `FAILED at height ${r.failure?.height ?? '?'}: ${r.failure?.message ?? ''} [${r.failure?.code ?? ''}]`)
      const unrepaired = repair?.report.failed ?? []
      if (!r.ok || unrepaired.length > 0) {
        // The report above is the output; the error only sets the exit status and the hint.
        if (unrepaired.length > 0) {
          throw new ChainError('VERIFY_FAILED', `${unrepaired.length} damaged block file${unrepaired.length === 1 ? '' : 's'} could not be repaired`, {
            hint: 'give a peer that has them (`--peer ADDR`, see `petal peers` on another node) or a data directory that does (`--from DIR`), and run `petal verify --repair` again'
          })
        }
        throw new ChainError('VERIFY_FAILED', `verification failed at height ${r.failure?.height ?? '?'}`, { hint: repair === undefined ? VERIFY_HINT : 'no block file is damaged: the index disagrees with the blocks; `petal reindex` rebuilds it from them' })
      }
    }))
}

/** `--repair`: put back every damaged block file, reporting each, before the verify runs. */
async function repairFirst (ctx: CliContext, o: VerifyFlags): Promise<{ chain: Chain, report: RepairReport }> {
  for (const d of o.from) {
    if (!existsSync(new DataDir(d).blockPath(0))) throw new UsageError(`--from ${d} is not a Petal data directory (no genesis block)`)
  }
  const { repairChain } = await import('../../node/index.js')
  const { NetworkError, parseMultiaddr } = await import('../../network/index.js')
  for (const a of o.peer) {
    try {
      parseMultiaddr(a, true)
    } catch (err) {
      if (err instanceof NetworkError) throw new UsageError(`--peer: ${err.message}`, err.hint)
      throw err
    }
  }
  const chain = ctx.openChain()
  const bar = ctx.progress('verify --repair')
  const report = await repairChain(chain, {
    peers: o.peer,
    from: o.from,
    signal: ctx.signal,
    logger: ctx.logger,
    onProgress: p => { bar.update({ phase: 'checking block files', done: p.bytes, total: p.totalBytes }) },
    onBlock: b => {
      bar.end()
      const what = `${b.canonical ? 'height' : 'side block at height'} ${b.height} ${short(b.hash)} (${b.damage})`
      ctx.out.note(b.source !== undefined ? `repaired ${what} from ${b.source}` : `could not repair ${what}: ${b.reason ?? ''}`)
    }
  })
  bar.end()
  if (report.repaired.length + report.failed.length === 0) ctx.out.note('no damaged block files')
  // The mirror stopped at a missing block catches up now.
  if (report.repaired.length > 0) await syncMirrorAfterImport(ctx, chain)
  return { chain, report }
}

function repairJson (r: RepairReport): Record<string, unknown> {
  const one = (b: RepairReport['repaired'][number]): Record<string, unknown> => ({ height: b.height, hash: b.hash, canonical: b.canonical, damage: b.damage, source: b.source, reason: b.reason })
  return { repaired: r.repaired.map(one), failed: r.failed.map(one), sources: r.sources }
}
