import type { ListOrphansOptions } from '../chain/index.js'
import { failpoint } from '../util/index.js'
import type { Ingest } from './service.js'
import type { PendingStore } from './store.js'

/** What judging a node's orphans needs of it beyond the chain (listOrphans' options; GET /api/v1/orphans). */
export type OrphanJudging = Pick<ListOrphansOptions, 'own' | 'record' | 'ingestOwned'>

/**
 * A data directory's, from its pending.db (`ingest`'s store): the blocks of its signing keys `own`
 * are judged with its record of re-seals, and the blocks whose rows its ingest service sealed are
 * the service's to re-seal, row by row. The one judging of a node (its key), of `petal orphans` and
 * of `petal serve` (the keystore's signing keys): serve judged from the chain alone, and said an
 * orphan `petal orphans` found pending was back (reseal49).
 */
export function orphanJudging (ingest: Ingest, own: Iterable<string>): OrphanJudging {
  return { own: new Set(own), record: new ResealRecord(ingest.store), ingestOwned: h => ingest.ownsBlock(h) }
}

/**
 * The node's record of its re-seals (docs/consensus.md, "Re-sealing orphaned blocks"): for each
 * block it sealed as the re-seal of an orphan, the orphan and the orphan's origin (the block first
 * published with that content: the orphan itself, or what the orphan re-sealed in turn). Kept in
 * pending.db, not in the chain: the block format has no room for it, chain.db is derived from the
 * block files alone, and only the signer's own node re-seals its blocks. `since` (meta
 * `reseals_since`, set at the first open for writing of a Petal that keeps the record): the tip's
 * height then; a block above it that this node re-sealed is in the record, one at or below it may
 * be a re-seal made before the record existed.
 *
 * Written before the re-seal's block can be on the chain (signImport's beforeAccept, under the
 * chain's write lock), so a crash leaves either no block, or a block and its record; a record
 * whose block never reached the chain names a hash no block has, and is never taken for a copy.
 */
export class ResealRecord {
  private readonly present: boolean

  constructor (private readonly store: PendingStore) {
    // A store of an older Petal opened read-only has no such table: no record, every block judged as before.
    this.present = store.db.prepare("SELECT 1 FROM sqlite_schema WHERE name = 'reseals'").get() !== undefined
  }

  /** Meta `reseals_since`, or undefined when this store has never been opened for writing by a Petal that keeps the record. */
  get since (): number | undefined {
    const v = this.store.meta('reseals_since')
    return v === undefined ? undefined : Number(v)
  }

  /** The origin of the content of `block`, when this node sealed it as a re-seal. */
  originOf (block: string): string | undefined {
    if (!this.present) return undefined
    return (this.store.stmt('SELECT origin FROM reseals WHERE block = ?').get(block) as { origin: string } | undefined)?.origin
  }

  /** The blocks this node sealed as re-seals of `origin`'s content (through any chain of re-seals). */
  copiesOf (origin: string): string[] {
    if (!this.present) return []
    return (this.store.stmt('SELECT block FROM reseals WHERE origin = ? ORDER BY block').all(origin) as Array<{ block: string }>).map(r => r.block)
  }

  /** Remember that `block` re-seals `orphan`, whose content `origin` first published: durable when it resolves. */
  async record (block: string, orphan: string, origin: string, signal?: AbortSignal): Promise<void> {
    await this.store.write(() => {
      this.store.stmt('INSERT OR REPLACE INTO reseals (block, orphan, origin) VALUES (?, ?, ?)').run(block, orphan, origin)
    }, signal)
    failpoint('reseal:recorded')
  }
}
