import type { BlockRecord } from '../storage/index.js'
import type { Chain } from './chain.js'
import { deepCopyOnChain, judgeOrphans, originOf, type OrphanVerdict, type ResealLedger } from './orphans.js'

/** Why an orphan is not re-sealed as a block. */
export type OrphanReason =
  /** No user tables, and none of its key operations would still be carried on the tip. */
  | 'nothing-to-carry'
  /** Its signer is not an active signatory at the tip: a re-seal would be SIGNER_NOT_AUTHORISED. */
  | 'signer-not-active'
  /** Its rows are the ingest service's, which re-seals them row by row (docs/ingest.md, "Exactly once"). */
  | 'ingest-rows'

/** One side-branch block and where its content is (`petal orphans`, GET /api/v1/orphans). */
export interface OrphanEntry {
  block: BlockRecord
  tables: Array<{ name: string, rows: number }>
  rows: number
  /**
   * back: its content is on the canonical chain (`by`, in `copy`); pending: it awaits a re-seal;
   * not-resealable: `reason`; unjudged: deeper than max_reorg_depth below the tip, where the
   * node's rule no longer looks, and none of its origin and recorded or marked copies canonical
   * (one that is makes it back: deepCopyOnChain, what a `petal reseal` by hand asks).
   */
  state: 'back' | 'pending' | 'not-resealable' | 'unjudged'
  by?: (OrphanVerdict & { state: 'back' })['by']
  /** The canonical block that holds its content, when back. */
  copy?: BlockRecord
  /** The block first published with its content, when it is itself a re-seal. */
  origin?: string
  reason?: OrphanReason
}

export interface ListOrphansOptions {
  /** Only blocks of these signers; undefined: every signer's. */
  signers?: ReadonlySet<string>
  /** The node's record of its re-seals, and the keys it signs with (the record is about their blocks only). */
  record?: ResealLedger
  own?: ReadonlySet<string>
  /** Whether a block holds rows the ingest service sealed (pending.db), which it re-seals itself. */
  ingestOwned?: (hash: string) => boolean
}

/**
 * Every side-branch block (of `signers`), lowest first, with the node's verdict on it: the same
 * rule as the node's re-seal pass and `petal reseal` (judgeOrphans), so the list says what they
 * would do.
 */
export function listOrphans (chain: Chain, o: ListOrphansOptions = {}): OrphanEntry[] {
  const side = chain.index.sideBlocks().filter(b => o.signers === undefined || o.signers.has(b.signer))
  const keys = chain.keysAt(chain.tip())
  const verdicts = new Map<string, OrphanVerdict>()
  for (const signer of new Set(side.map(b => b.signer))) {
    const record = o.own?.has(signer) === true ? o.record : undefined
    for (const j of judgeOrphans(chain, signer, record)) verdicts.set(j.block.hash, j.verdict)
  }
  return side.map(b => {
    const tables = chain.index.tablesOf(b.hash).map(t => ({ name: t.name, rows: t.rows }))
    const entry: OrphanEntry = { block: b, tables, rows: tables.reduce((n, t) => n + t.rows, 0), state: 'unjudged' }
    if (tables.length > 0) {
      const origin = originOf(chain, b, o.own?.has(b.signer) === true ? o.record : undefined)
      if (origin !== b.hash) entry.origin = origin
    }
    const v = verdicts.get(b.hash) ?? deepCopyOnChain(chain, b, o.own?.has(b.signer) === true ? o.record : undefined)
    if (o.ingestOwned?.(b.hash) === true) return { ...entry, state: 'not-resealable', reason: 'ingest-rows' }
    if (v === undefined) return entry
    if (v.state === 'back') return { ...entry, state: 'back', by: v.by, copy: chain.index.byHash(v.block) }
    if (v.state === 'nothing-to-carry') return { ...entry, state: 'not-resealable', reason: 'nothing-to-carry' }
    if (!keys.isActive(b.signer)) return { ...entry, state: 'not-resealable', reason: 'signer-not-active' }
    return { ...entry, state: 'pending' }
  })
}

/** An entry as `petal orphans --json` and GET /api/v1/orphans give it (snake_case; absent: does not apply). */
export function orphanEntryJson (e: OrphanEntry): Record<string, unknown> {
  const b = e.block
  return {
    height: b.height, hash: b.hash, parent: b.parent, signer: b.signer, timestamp: b.timestamp, rows_root: b.rowsRoot, key_ops: b.keyOpCount,
    tables: e.tables, rows: e.rows, state: e.state, by: e.by, copy: e.copy === undefined ? undefined : { height: e.copy.height, hash: e.copy.hash }, origin: e.origin, reason: e.reason
  }
}
