import { existsSync } from 'node:fs'
import type { Chain } from '../chain/index.js'
import { Ingest, orphanJudging, type OrphanJudging } from '../ingest/index.js'
import { isPetalError } from '../util/index.js'
import type { CliContext } from './context.js'

/**
 * This data directory's judging of orphans (`petal orphans`, `petal serve`'s GET /api/v1/orphans):
 * the keystore's signing keys, judged with pending.db's record of re-seals and its ingest's blocks
 * (orphanJudging, a node's as well). pending.db is opened read-only until the command ends; one that
 * does not exist yet reads as empty (no record: the chain alone). `follow` (serve, which runs for
 * weeks): a pending.db that did not exist, or held no schema yet, is looked for again at each use
 * and read once it appears (the first `petal append`, `petal reseal` or node start beside serve
 * creates it; until session 50 serve read no record until it was restarted).
 */
export function localOrphanJudging (ctx: CliContext, chain: Chain, own: Iterable<string>, follow = false): OrphanJudging {
  let ingest = Ingest.open({ chain, readonly: true, logger: ctx.logger })
  ctx.onClose(async () => { await ingest.close() })
  let judging = orphanJudging(ingest, own)
  if (!follow || !empty(ingest)) return judging
  const path = chain.dir.pendingDb
  let found = false
  let warned = false
  const look = (): OrphanJudging => {
    if (found || !existsSync(path)) return judging
    let next: Ingest
    try {
      next = Ingest.open({ chain, readonly: true, logger: ctx.logger })
    } catch (err) {
      // One that appeared and cannot be opened (damaged): the chain alone, as serve's start does (review50).
      if (!isPetalError(err)) throw err
      if (!warned) ctx.logger.warn('orphans are judged from the chain alone: pending.db cannot be read', { error: err.message, hint: err.hint })
      warned = true
      return judging
    }
    // Created but its schema not yet committed: read as empty, looked for again next time.
    if (empty(next)) {
      next.close().catch(err => { ctx.logger.warn('closing an empty pending store failed', { error: String(err) }) })
      return judging
    }
    const old = ingest
    ingest = next
    judging = orphanJudging(next, judging.own ?? [])
    found = true
    old.close().catch(err => { ctx.logger.warn('closing an empty pending store failed', { error: String(err) }) })
    return judging
  }
  // Read when the route takes them (`{ ...judging }`): each request sees the store as it is then.
  return {
    get own () { return look().own },
    get record () { return look().record },
    get ingestOwned () { return look().ingestOwned }
  }
}

/** A store opened read-only over no file (or a file without its schema yet): an empty one in memory. */
function empty (ingest: Ingest): boolean {
  return ingest.store.db.memory
}

/** The keystore's signing keys. */
export function signingKeys (ctx: CliContext): string[] {
  return ctx.keystore().list().filter(k => k.purpose === 'sign').map(k => k.id)
}
