// `petal verify --repair`: fetch damaged or missing block files again before the verify. A module
// of its own, loaded only with --repair: it needs the network stack, and plain verify runs from the
// CommonJS fast bundle without it (scripts/build-cli.ts, FAST_UNLESS).
import { existsSync } from 'node:fs'
import type { Chain } from '../../chain/index.js'
import type { RepairReport } from '../../node/index.js'
import { DataDir } from '../../storage/index.js'
import type { CliContext } from '../context.js'
import { syncMirrorAfterImport } from '../mirror-sync.js'
import { short, UsageError } from '../output.js'
import type { VerifyFlags } from './verify.js'
import { openChain } from '../hashing.js'

/** `--repair`: put back every damaged block file, reporting each, before the verify runs. */
export async function repairFirst (ctx: CliContext, o: VerifyFlags): Promise<{ chain: Chain, report: RepairReport }> {
  for (const d of o.from) {
    if (!existsSync(new DataDir(d).blockPath(0))) throw new UsageError(`--from ${d} is not a Petal data directory (no genesis block)`, `give the data directory of another copy of this chain (one with ${new DataDir(d).blockPath(0)} in it)`)
  }
  const { repairChain } = await import('../../node/index.js')
  const { NetworkError, parseMultiaddr } = await import('../../network/index.js')
  for (const a of o.peer) {
    try {
      parseMultiaddr(a, true)
    } catch (err) {
      if (err instanceof NetworkError) throw new UsageError(`--peer: ${err.message}`, err.hint ?? 'give a multiaddr with its peer id, e.g. /ip4/192.0.2.1/tcp/4001/p2p/PEER_ID')
      throw err
    }
  }
  const chain = openChain(ctx)
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

export function repairJson (r: RepairReport): Record<string, unknown> {
  const one = (b: RepairReport['repaired'][number]): Record<string, unknown> => ({ height: b.height, hash: b.hash, canonical: b.canonical, damage: b.damage, source: b.source, reason: b.reason })
  return { repaired: r.repaired.map(one), failed: r.failed.map(one), sources: r.sources }
}
