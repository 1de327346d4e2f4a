import type { Chain } from '../chain/index.js'
import { Ingest, orphanJudging, type OrphanJudging } from '../ingest/index.js'
import type { CliContext } from './context.js'

/**
 * This data directory's judging of orphans (`petal orphans`, `petal serve`'s GET /api/v1/orphans):
 * the keystore's signing keys, judged with pending.db's record of re-seals and its ingest's blocks
 * (orphanJudging, a node's as well). pending.db is opened read-only until the command ends; one that
 * does not exist yet reads as empty (no record: the chain alone).
 */
export function localOrphanJudging (ctx: CliContext, chain: Chain, own: Iterable<string>): OrphanJudging {
  const ingest = Ingest.open({ chain, readonly: true, logger: ctx.logger })
  ctx.onClose(async () => { await ingest.close() })
  return orphanJudging(ingest, own)
}

/** The keystore's signing keys. */
export function signingKeys (ctx: CliContext): string[] {
  return ctx.keystore().list().filter(k => k.purpose === 'sign').map(k => k.id)
}
