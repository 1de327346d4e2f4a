import { existsSync } from 'node:fs'
import type { SqliteDb } from '../storage/index.js'
import { openPendingDb, pendingStoreFailure } from './store-open.js'
import type { SealPolicy } from './service.js'

/**
 * What `petal status` says of pending.db, read without the ingest service (a command that must
 * start fast loads only this, store-open.ts and pending-schema.ts), and when the node's next seal
 * is due: the seal loop's rule (docs/ingest.md, "Sealing policy"), in one place for the CLI and the API.
 */

/**
 * Pending rows: count, bytes, the oldest one's arrival (ms since the epoch), and how many of them a
 * seal has claimed and not yet ended (a seal at work, or one killed part-way: the next seal takes them).
 */
export interface PendingSummary { rows: number, bytes: number, oldestAt: number | undefined, claimedRows: number }

/** The sum over the pending records (from meta `low` on: store.ts), as PendingStore.pendingStats reads it. */
export const PENDING_STATS_SQL = 'SELECT coalesce(sum(n), 0) AS n, coalesce(sum(bytes), 0) AS b, min(at) AS t FROM rows WHERE id >= ? AND batch IS NULL'

/**
 * Status's sum: the records no seal has claimed (PENDING_STATS_SQL's) and those of batches claimed or
 * built and not yet sealed, which lie below `low` and were counted nowhere, so a `petal seal` killed
 * after its claim left `status` saying "none" while `petal receipt` said pending (verify52); and
 * those of sealed batches whose block a reorg left on a side branch (readPendingSummary's
 * `recentFrom`); less those placed in an orphaned batch whose block is canonical again (the last
 * parameter). One statement: one read snapshot, however a writer moves rows between the parts.
 */
const SUMMARY_SQL = `SELECT coalesce(sum(n), 0) AS n, coalesce(sum(bytes), 0) AS b, min(at) AS t, coalesce(sum(c), 0) AS c FROM (
  SELECT id, n, bytes, at, 0 AS c FROM rows WHERE id >= ? AND batch IS NULL
  UNION ALL
  SELECT id, n, bytes, at, n AS c FROM rows WHERE batch IN (SELECT id FROM batches WHERE state IN ('claimed', 'built') AND id NOT IN (SELECT value FROM json_each(?)))
  UNION ALL
  SELECT id, n, bytes, at, 0 AS c FROM rows WHERE batch IN (SELECT value FROM json_each(?)))
WHERE id NOT IN (SELECT row FROM placements WHERE batch IN (SELECT value FROM json_each(?)))`

/**
 * The pending rows of the pending.db at `path` (none when there is no such file), read-only.
 * `inChain(hash)`: whether the chain holds a block, canonical. A built batch whose block it holds is sealed
 * (a seal killed between the chain's commit and pending.db's note of it: the next seal's reconcile
 * marks it), as `petal receipt`, which asks the chain, says: not counted (review52b). With
 * `recentFrom` (the chain's tip height and max_reorg_depth: the batches the next seal's reconcile
 * looks at, reconcileFloor; a store no reconcile noted, every batch), a sealed batch from that
 * height whose block is no longer canonical (an imported branch won) is pending again, as the
 * receipt says and the next seal's reconcile makes it: counted, not claimed (review53). And an
 * orphaned batch from that height whose block is canonical again (a branch holding it won back)
 * holds its rows, as the receipt says (a row with a canonical block is sealed) and reconcile's
 * restore makes it: not counted, wherever they wait or were sealed again since (review53b).
 */
export function readPendingSummary (path: string, inChain: (hash: string) => boolean = () => false, recentFrom?: { height: number, depth: number }): PendingSummary {
  if (!existsSync(path)) return { rows: 0, bytes: 0, oldestAt: undefined, claimedRows: 0 }
  const db = openPendingDb(path, true)
  try {
    return pendingSummaryOf(db, inChain, recentFrom)
  } catch (err) {
    // A page damaged past the schema is met here, not at the open: said as the open says it (a
    // Petal error, which `petal status` shows on its pending line and answers the rest; review49).
    throw pendingStoreFailure(path, err, 'read')
  } finally {
    db.close()
  }
}

/** readPendingSummary's sum on an open pending.db: the ingest service's own, for the API's status (api54). */
export function pendingSummaryOf (db: SqliteDb, inChain: (hash: string) => boolean = () => false, recentFrom?: { height: number, depth: number }): PendingSummary {
  // One read snapshot for the built batches and the sums.
  const r = db.transaction(() => {
    const low = Number((db.prepare("SELECT value FROM meta WHERE key = 'low'").get() as { value: string } | undefined)?.value ?? '1')
    const built = db.prepare("SELECT id, hash FROM batches WHERE state = 'built' AND hash IS NOT NULL").all() as Array<{ id: number, hash: string }>
    const sealed = built.filter(b => inChain(b.hash)).map(b => b.id)
    // From where the next seal's reconcile looks (reconcileFloor), once one has noted its tip.
    const meta = (key: string): string | undefined => (db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined)?.value
    const noted = meta(RECONCILED_TIP)
    // A store no reconcile has noted (written before 13d29177): every batch, as its next reconcile
    // looks at; from the tip's window only, status said "none" of rows a receipt said were pending
    // until the first seal (session 54's left). One index lookup a sealed batch, until that seal.
    const from = recentFrom === undefined ? undefined : reconcileFloor(recentFrom.height, recentFrom.depth, noted, anchorHolds(meta(RECONCILED_ANCHOR), inChain))
    const recent = from === undefined ? [] : db.prepare("SELECT id, hash, state FROM batches WHERE state IN ('sealed', 'orphaned') AND height >= ? AND hash IS NOT NULL").all(from) as Array<{ id: number, hash: string, state: string }>
    const left = recent.filter(b => b.state === 'sealed' && !inChain(b.hash)).map(b => b.id)
    const back = recent.filter(b => b.state === 'orphaned' && inChain(b.hash)).map(b => b.id)
    return db.prepare(SUMMARY_SQL).get(low, JSON.stringify(sealed), JSON.stringify(left), JSON.stringify(back)) as { n: number, b: number, t: number | null, c: number }
  })()
  return { rows: r.n, bytes: r.b, oldestAt: r.t ?? undefined, claimedRows: r.c }
}

/** pending.db meta: the chain tip's height at the last reconcile (sealer.ts), for reconcileFloor. */
export const RECONCILED_TIP = 'reconciled_tip'
/**
 * pending.db meta: the hash of the canonical block at the floor that reconcile's tip gave, where
 * there is one ('' below the genesis), since review54: while it is canonical, no block at or below
 * it changed since (a hash chain), so the floor holds whatever else moved (anchorHolds).
 */
export const RECONCILED_ANCHOR = 'reconciled_anchor'

/** Whether the noted anchor (RECONCILED_ANCHOR) is still canonical (`inChain`); a store noted earlier has none. */
export function anchorHolds (anchor: string | undefined, inChain: (hash: string) => boolean): boolean {
  return anchor === undefined || anchor === '' || inChain(anchor)
}

/**
 * The lowest height of a sealed or orphaned batch whose block a reorg may have moved since the last
 * reconcile, which met tip `reconciledTip` (meta RECONCILED_TIP): a reorg abandons blocks at most
 * max_reorg_depth (`depth`) below the tip it meets, and the tip never falls, so none moved a block
 * below that tip's window. Until review53b the window was the current tip's: an import of more than
 * `depth` + 1 blocks at once that abandoned a sealed block left its rows pending (their receipt said
 * so) and no seal ever took them. A store no reconcile has noted: every batch (0), once. So too
 * when the block noted at that floor is canonical no more (`anchored` false: anchorHolds): the tip
 * fell, by a reindex without the block files above a missing one (chain/reindex.ts), and grew
 * again on another branch past the noted height, abandoning blocks below the noted window, which
 * no reconcile looked at: their rows pending for good (review54).
 */
export function reconcileFloor (tip: number, depth: number, reconciledTip: string | undefined, anchored = true): number {
  const at = reconciledTip === undefined ? NaN : Number(reconciledTip)
  return Number.isSafeInteger(at) && anchored ? Math.min(at, tip) - depth - 1 : 0
}

/**
 * In how many ms the seal loop that follows `policy` seals what is pending (0: due now; a loop
 * looks every 250 ms, and not while its node catches up), or undefined when nothing is pending.
 */
export function nextSealMs (policy: SealPolicy, p: { rows: number, bytes: number, oldestMs: number | undefined }): number | undefined {
  if (p.oldestMs === undefined || p.rows === 0) return undefined
  if ((policy.rows !== undefined && p.rows >= policy.rows) || (policy.bytes !== undefined && p.bytes >= policy.bytes)) return 0
  return Math.max(0, policy.everyMs - p.oldestMs)
}
