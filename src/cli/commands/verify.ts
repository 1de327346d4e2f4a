import type { Command } from 'commander'
import { ChainError, checkAdoption, checkDaisyChain, verifyChain, type Chain } from '../../chain/index.js'
import { daisyReadOnly, DaisyDir, StorageError } from '../../storage/index.js'
import { hintOf, isPetalError, isRecord, shellWord } from '../../util/index.js'
import { intOption } from '../args.js'
import type { CliContext } from '../context.js'
import { formatBytes, UsageError } from '../output.js'
import type { Action } from '../program.js'
import { hashPool, openChain, refreshDaisy } from '../hashing.js'

const workersOpt = intOption('--workers', { min: 1, max: 64 })

const collect = (v: string, prev: string[]): string[] => [...prev, v]

export interface VerifyFlags { deep?: boolean, workers?: number, repair?: boolean, peer: string[], from: string[] }

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
      if (ctx.daisy !== undefined) { await verifyDaisy(ctx, o); return }
      // --repair's code (the network stack) is a module of its own: plain verify runs from the
      // fast bundle without it (scripts/build-cli.ts, FAST_UNLESS).
      const repairing = o.repair === true ? await import('./verify-repair.js') : undefined
      const repair = repairing === undefined ? undefined : await repairing.repairFirst(ctx, o)
      const chain = repair?.chain ?? openChain(ctx, { forReading: true })
      const bar = ctx.progress('verify')
      const r = await verifyChain(chain, { deep: o.deep === true, workers: o.workers, signal: ctx.signal, onProgress: p => { bar.update(p) } })
      bar.end()
      // A chain that continues a Daisy chain: its history and the genesis's commitment to it too.
      const adoption = r.ok ? await checkAdoption(chain, { signal: ctx.signal, genesis: r.genesis }) : undefined
      for (const w of adoption?.warnings ?? []) ctx.io.stderr(`petal: warning: Daisy block ${w.height}: ${w.message} [${w.kind}]\n`)
      const history = adoption === undefined ? undefined : { blocks: adoption.blocks, tip_height: adoption.commitment.tipHeight, tip_hash: adoption.commitment.tipHash, daisy_genesis_hash: adoption.commitment.genesisHash, warnings: adoption.warnings }
      const rate = r.seconds > 0 ? `${(r.bytes / 1024 / 1024 / r.seconds).toFixed(1)} MiB/s, ${(r.blocks / r.seconds).toFixed(r.blocks / r.seconds < 10 ? 1 : 0)} blocks/s` : ''
      const json = { ok: r.ok, blocks: r.blocks, bytes: r.bytes, tip_height: r.tipHeight, tip_hash: r.tipHash, seconds: r.seconds, failure: r.failure, repair: repair === undefined ? undefined : repairing?.repairJson(repair.report), daisy_history: history }
      ctx.out.result(json, () => r.ok
        ? `ok: ${r.blocks} blocks (${formatBytes(r.bytes)}) verified up to height ${r.tipHeight} ${r.tipHash} in ${r.seconds.toFixed(2)} s (${rate})` +
          (history === undefined ? '' : `\nok: the genesis continues the Daisy chain ${history.daisy_genesis_hash} at its block ${history.tip_height} ${history.tip_hash}; its ${history.blocks} blocks (in daisy/) verified with v1 rules`)
        : `FAILED at height ${r.failure?.height ?? '?'}: ${r.failure?.message ?? ''} [${r.failure?.code ?? ''}]`)
      const unrepaired = repair?.report.failed ?? []
      if (!r.ok || unrepaired.length > 0) {
        // The report above is the output; the error only sets the exit status and the hint.
        if (unrepaired.length > 0) {
          throw new ChainError('VERIFY_FAILED', `${unrepaired.length} damaged block file${unrepaired.length === 1 ? '' : 's'} could not be repaired`, {
            hint: 'give a peer that has them (`--peer ADDR`, see `petal peers` on another node) or a data directory that does (`--from DIR`), and run `petal verify --repair` again'
          })
        }
        if (r.failure !== undefined && MACHINE.has(r.failure.code)) throw unreadableBlock(ctx, chain.get(r.failure.height), r.failure)
        throw new ChainError('VERIFY_FAILED', `verification failed at height ${r.failure?.height ?? '?'}`, { hint: repair === undefined ? VERIFY_HINT : 'no block file is damaged: the index disagrees with the blocks; `petal reindex` rebuilds it from them' })
      }
    }))
}

/** Failures of the machine reading a block (systemFailure's codes), not of the block. */
const MACHINE = new Set(['IO_ERROR', 'PERMISSION_DENIED', 'TOO_MANY_OPEN_FILES'])

/**
 * A block file the disk could not read (EIO): it was VERIFY_FAILED (exit 6) with the hint that
 * `verify --repair` fetches a damaged file again, which failed on the same read (mend34). A read
 * that fails says nothing of the block's content: the machine's code (exit 4), and what to do.
 */
function unreadableBlock (ctx: CliContext, b: ReturnType<Chain['get']>, f: { height: number, code: string, message: string }): StorageError {
  const file = b === undefined ? `the file of block ${f.height}` : ctx.dataDir.blockPath(f.height)
  const hint = f.code === 'IO_ERROR'
    ? `check the disk (dmesg, fsck), then run \`petal verify\` again: a failed read says nothing of the block itself; if ${file} stays unreadable, move it aside (\`mv ${shellWord(file)} ${shellWord(file + '.unreadable')}\`) and \`petal verify --repair\` fetches the block again`
    : f.code === 'TOO_MANY_OPEN_FILES' ? 'raise the limit of open files (`ulimit -n`) or give fewer `--workers`, then run `petal verify` again' : `check the owner and mode of ${file}, or run as a user who may read it`
  return new StorageError(f.code as 'IO_ERROR', `cannot read the block file at height ${f.height}: ${f.message}`, { hint, details: { path: file } })
}

/**
 * A Daisy directory: every block checked from its genesis with v1 rules (docs/daisy.md), nothing
 * trusted from Petal's derived state; Daisy's defects are listed as warnings with their heights.
 */
async function verifyDaisy (ctx: CliContext, o: VerifyFlags): Promise<void> {
  const target = ctx.daisy
  if (target === undefined) return
  // DAISY_READ_ONLY as every other write (until session 56 a USAGE error whose hint, given --dir,
  // read `petal --dir DAISY adopt-daisy`, which the Daisy directory refuses).
  if (o.repair === true) throw daisyReadOnly(target.dir, target.state, 'daisy', 'verify --repair')
  if (o.deep === true || o.workers !== undefined) ctx.logger.info('a Daisy directory is always checked in full, on this thread: --deep and --workers change nothing')
  const started = performance.now()
  const bar = ctx.progress('verify')
  let r
  try {
    r = await checkDaisyChain(new DaisyDir(target.dir), { signal: ctx.signal, pool: hashPool(ctx), onProgress: p => { bar.update(p) } })
  } catch (err) {
    bar.end()
    if (!isPetalError(err) || err.code === 'ABORTED') throw err
    const d: unknown = err.details
    const height = isRecord(d) && typeof d.height === 'number' ? d.height : undefined
    ctx.out.result({ ok: false, daisy_dir: target.dir, failure: { height, code: err.code, message: err.message } }, () => `FAILED at height ${height ?? '?'}: ${err.message} [${err.code}]`)
    throw new ChainError('VERIFY_FAILED', `the Daisy directory fails verification at height ${height ?? '?'} [${err.code}]`, { hint: hintOf(err), details: { height } })
  }
  bar.end()
  const seconds = (performance.now() - started) / 1000
  for (const w of r.warnings) ctx.io.stderr(`petal: warning: Daisy block ${w.height}: ${w.message} [${w.kind}]\n`)
  await refreshDaisy(ctx)
  const json = { ok: true, daisy_dir: target.dir, state: target.state, blocks: r.blocks, bytes: r.bytes, tip_height: r.tip?.height ?? -1, tip_hash: r.tip?.hash ?? '', seconds, warnings: r.warnings }
  ctx.out.result(json, () => `ok: ${r.blocks} Daisy blocks (${formatBytes(r.bytes)}) verified with v1 rules up to height ${json.tip_height} ${json.tip_hash} in ${seconds.toFixed(2)} s` +
    (r.warnings.length > 0 ? `; ${r.warnings.length} warning${r.warnings.length === 1 ? '' : 's'} about what Daisy accepts and Petal would not (above)` : ''))
}
