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
 * weeks): a pending.db that did not exist, held no schema yet or could not be opened (damaged:
 * warned, the chain alone judges) is looked for again at each use and read once it can be (the first `petal append`, `petal reseal` or node start beside serve
 * creates it; until session 50 serve read no record until it was restarted).
 */
export function localOrphanJudging (ctx: CliContext, chain: Chain, own: Iterable<string>, follow = false): OrphanJudging {
  const owned = new Set(own)
  let ingest: Ingest | undefined
  ctx.onClose(async () => { await ingest?.close() })
  let judging: OrphanJudging = { own: owned }
  let warned = false
  const close = (i: Ingest): void => { i.close().catch(err => { ctx.logger.warn('closing a read of pending.db failed', { error: String(err) }) }) }
  /** Read pending.db; true once it holds a store (not an empty one in memory). */
  const open = (): boolean => {
    let next: Ingest
    try {
      next = Ingest.open({ chain, readonly: true, logger: ctx.logger })
    } catch (err) {
      // One that cannot be opened (damaged), at the start or later: the chain alone, warned once,
      // and tried again at the next use (review50; a mended file was read only after a restart, user50).
      if (!follow || !isPetalError(err)) throw err
      if (!warned) ctx.logger.warn('orphans are judged from the chain alone: pending.db cannot be read', { error: err.message, hint: err.hint })
      warned = true
      return false
    }
    // Created but its schema not yet committed: read as empty, looked for again next time.
    if (ingest !== undefined && empty(next)) {
      close(next)
      return false
    }
    if (ingest !== undefined) close(ingest)
    ingest = next
    judging = orphanJudging(next, owned)
    return !empty(next)
  }
  if (open() || !follow) return judging
  const path = chain.dir.pendingDb
  let found = false
  const look = (): OrphanJudging => {
    if (!found && existsSync(path)) found = open()
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
