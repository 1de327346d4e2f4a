import { keyOpCarries, resealKeys, type Chain } from '../chain/index.js'
import type { BlockRecord } from '../storage/index.js'

/**
 * The signer node's record of its re-seals (ingest's ResealRecord, kept in pending.db): which
 * block a re-seal copies, so that a block of the signer with the same rows that is not a copy (the
 * same file imported again) is not taken for the orphan's content (docs/consensus.md,
 * "Re-sealing orphaned blocks").
 */
export interface ResealLedger {
  /** Blocks above this height that this node re-sealed are all recorded; undefined: no record is kept. */
  readonly since: number | undefined
  /** The origin of `block`'s content when this node sealed it as a re-seal. */
  originOf: (block: string) => string | undefined
  /** The blocks this node sealed as re-seals of `origin`'s content. */
  copiesOf: (origin: string) => string[]
}

/** A ResealLedger that also records: the node's and `petal reseal`'s. */
export interface ResealRecorder extends ResealLedger {
  record: (block: string, orphan: string, signal?: AbortSignal) => Promise<void>
}

/**
 * Blocks this signatory published that lost a fork and whose content is not yet back on the
 * canonical chain: side blocks signed by `keyId`, recent enough not to be pruned, that carry
 * something the canonical chain lacks. Lowest first. Derived from the index and, with `record`,
 * the node's record of its re-seals (ResealLedger), both durable: the answer survives restarts.
 *
 * With the record, a block with tables whose content was first published above `record.since`
 * is back exactly when that first block or one of its recorded re-seals is canonical: a block of
 * the signer with the same rows that is not one of them is content of its own (the same file
 * imported again), and stands for nothing (review46 found the rule below lost the orphan's rows
 * there; which of the two the chain kept depended on whether the re-seal ran before the import).
 * Without it, and for content first published at or below `since` (its re-seals may predate the
 * record), the rule by rows root, counting only blocks at or below `since`:
 *
 * A block with tables (rows, or only the creation of an empty table, whose rows root is its own)
 * is back when a canonical block of the same signer and rows root lies above
 * the height where its branch leaves the canonical chain: its re-seal, or the block it re-sealed
 * itself, canonical again after a reorg back to its branch (review45: only blocks at or above its
 * height counted, so that case re-sealed the re-seal, every row twice). One canonical copy stands
 * for one block only: where the signer's branch holds the same rows more than once above the fork
 * (the same file imported twice), the n-th of them is back once n copies are canonical (review46:
 * the first one's re-seal was taken as every one's, and the others were lost). A block without
 * tables carries only its key operations (every such block has one rows root, an empty one's as well:
 * review45 found a key addition never re-sealed because the signer's empty block had won above
 * the fork): it is pending while one of them would still be carried (keyOpCarries), and a block
 * with nothing to carry is not re-sealed at all.
 */
export function pendingOrphans (chain: Chain, keyId: string, record?: ResealLedger): BlockRecord[] {
  const tip = chain.tip()
  const depth = chain.params.maxReorgDepth
  const floor = tip.height - depth
  const signed = chain.index.sideBlocks().filter(b => b.signer === keyId)
  const mine = signed.filter(b => b.height > floor && b.height > 0)
  if (mine.length === 0) return []
  let onTip: ReturnType<typeof resealKeys> | undefined
  const forks = new Map<string, number>()
  // How many of the signer's side blocks hold each rows root: only a root held twice needs its line walked.
  const held = new Map<string, number>()
  for (const b of signed) held.set(b.rowsRoot, (held.get(b.rowsRoot) ?? 0) + 1)
  return mine.filter(b => {
    if (chain.index.tablesOf(b.hash).length === 0) {
      onTip ??= resealKeys(chain)
      const keys = onTip
      return chain.index.keyOpsOf(b.hash).some(op => keyOpCarries(keys, op.op, op.keyId, op.signers))
    }
    if (record !== undefined) {
      const since = record.since
      const origin = record.originOf(b.hash) ?? b.hash
      // Back when the block first published with this content, or one of its recorded re-seals, is canonical.
      if ([origin, ...record.copiesOf(origin)].some(h => h !== b.hash && chain.index.byHash(h)?.canonical === true)) return false
      // Published since the record is kept: no other block stands for it (one of the signer's with
      // the same rows is a publication of its own: review46's import of the same file again).
      const first = chain.index.byHash(origin)
      if (since !== undefined && first !== undefined && first.height > since) return true
    }
    // A branch whose lower part was pruned reaches no canonical block: its fork is not known, but the
    // reorg that orphaned `b` was at most max_reorg_depth deep, so it lies no lower than b.height - depth
    // (review46: it was taken as -1, and any block of the signer with those rows, however old, counted).
    const known = forkHeight(chain, b, forks)
    const fork = known >= 0 ? known : Math.max(-1, b.height - depth - 1)
    // Blocks from before the record (at or below `since`) may be re-seals it does not hold. Later
    // ones count only as recorded re-seals of content also published before it: an older Petal's
    // re-seal and its origin, both orphaned after the record began, are re-sealed once, as the
    // origin's, and that re-seal stands for both (review48: each was re-sealed, the rows twice).
    // Any other later block is a publication of its own (the same file imported again: review46).
    const before = record?.since ?? Infinity
    const earlier = (c: BlockRecord): boolean => {
      if (c.height <= before) return true
      const origin = record?.originOf(c.hash)
      return origin !== undefined && (chain.index.byHash(origin)?.height ?? -1) <= before
    }
    const copies = chain.index.range(fork + 1, tip.height, tip.height - fork).filter(c => c.signer === keyId && c.rowsRoot === b.rowsRoot && earlier(c)).length
    if (copies === 0) return true
    return copies < ((held.get(b.rowsRoot) ?? 0) > 1 ? nthOnLine(chain, b, fork) : 1)
  })
}

/**
 * The height of side block `b`'s last canonical ancestor (-1 when its branch reaches none).
 * `known`: the answers so far, by side block: an orphan's walk stops at a parent already walked
 * (a signer's many orphans on one deep branch cost one walk, not one each).
 */
function forkHeight (chain: Chain, b: BlockRecord, known: Map<string, number>): number {
  const walked: string[] = []
  let x: BlockRecord | undefined = b
  let fork: number | undefined
  while (fork === undefined) {
    if (x === undefined) fork = -1
    else if (x.canonical) fork = x.height
    else {
      fork = known.get(x.hash)
      if (fork === undefined) { walked.push(x.hash); x = chain.index.byHash(x.parent) }
    }
  }
  for (const h of walked) known.set(h, fork)
  return fork
}

/** Which of its signer's blocks with its rows root `b` is on its own branch above `fork`, counting up from the fork (1: the lowest). */
function nthOnLine (chain: Chain, b: BlockRecord, fork: number): number {
  let n = 0
  for (let x: BlockRecord | undefined = b; x !== undefined && x.height > fork; x = chain.index.byHash(x.parent)) {
    if (x.signer === b.signer && x.rowsRoot === b.rowsRoot) n++
  }
  return n
}

/**
 * Re-seal `keyId`'s pending orphans lowest first through `reseal`, asking pendingOrphans again
 * after each: a re-seal can bring another orphan's content back (an orphan and its own earlier
 * re-seal, both orphaned by a third branch), and a list taken once re-sealed that one too, its
 * rows twice on the chain (review46). `reseal` answers false to end the pass; each orphan is
 * tried once a pass.
 */
export async function resealEach (chain: Chain, keyId: string, reseal: (o: BlockRecord) => Promise<boolean>, record?: ResealLedger): Promise<void> {
  const tried = new Set<string>()
  for (;;) {
    const o = pendingOrphans(chain, keyId, record).find(b => !tried.has(b.hash))
    if (o === undefined) return
    tried.add(o.hash)
    if (!await reseal(o)) return
  }
}

/**
 * Whether a re-seal of `hash` now would seal content the canonical chain already holds (the
 * orphan canonical again, or no longer pending by pendingOrphans' rule): false for a block the rule
 * does not judge (unknown, another signer's, below the pruning depth), which goes ahead. Asked
 * under the write lock, where a re-seal reads its tip: a re-seal that waited for the lock while
 * another one (by hand, or a node's) re-sealed the same orphan saw it pending before (review47).
 */
export function contentIsBack (chain: Chain, hash: string, keyId: string, record?: ResealLedger): boolean {
  const b = chain.index.byHash(hash)
  if (b === undefined || (!b.canonical && (b.signer !== keyId || b.height <= chain.tip().height - chain.params.maxReorgDepth))) return false
  return b.canonical || !pendingOrphans(chain, keyId, record).some(x => x.hash === hash)
}
