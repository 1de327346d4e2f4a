import type { BlockRecord } from '../storage/index.js'
import type { Chain } from './chain.js'
import { keyOpCarries, resealKeys } from './reseal.js'
import { resealMarkOf } from './reseal-mark.js'

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
  /** Remember that `block` re-seals `orphan`, whose content `origin` first published. */
  record: (block: string, orphan: string, origin: string, signal?: AbortSignal) => Promise<void>
}

/**
 * The block first published with `b`'s content: the one its mark names when `b` is a re-seal
 * that carries one (reseal-mark.ts; every node sees it), else the one this node's record names,
 * else `b` itself.
 */
export function originOf (chain: Chain, b: BlockRecord, record?: ResealLedger): string {
  return resealMarkOf(chain, b) ?? record?.originOf(b.hash) ?? b.hash
}

/**
 * Blocks this signatory published that lost a fork and whose content is not yet back on the
 * canonical chain: side blocks signed by `keyId`, recent enough not to be pruned, that carry
 * something the canonical chain lacks. Lowest first. Derived from the index and, with `record`,
 * the node's record of its re-seals (ResealLedger), both durable: the answer survives restarts.
 *
 * A block with tables is back when the block first published with its content (its origin), or a
 * re-seal of that content, is canonical: a re-seal this node recorded, or one marked on the chain
 * as a copy of the origin (its Description: reseal-mark.ts), sealed by whichever node holds the key.
 * With the record, a block with tables whose content was first published above `record.since`
 * is back only then: a block of
 * the signer with the same rows that is not one of them is content of its own (the same file
 * imported again), and stands for nothing (review46 found the rule below lost the orphan's rows
 * there; which of the two the chain kept depended on whether the re-seal ran before the import).
 * Without it, and for content first published at or below `since` (its re-seals may predate the
 * record), the rule by rows root, counting only blocks at or below `since`:
 *
 * A block with tables (rows, or only the creation of an empty table, whose rows root is its own)
 * is back when a canonical block of the same signer and rows root, and without a mark (a block
 * marked as another origin's copy is that publication's: reseal49), lies above
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
  return judgeOrphans(chain, keyId, record).filter(j => j.verdict.state === 'pending').map(j => j.block)
}

/** Where an orphan's content is (pendingOrphans' rule, for each orphan): what `petal orphans` lists. */
export type OrphanVerdict =
  /** Back on the canonical chain in `block`: its origin, a copy this node recorded, a copy marked as one on the chain, or by the rule by rows root. */
  | { state: 'back', by: 'origin' | 'recorded-copy' | 'marked-copy' | 'rows-root', block: string }
  /** Its content (rows, or a key operation that still applies) is not on the canonical chain. */
  | { state: 'pending' }
  /** A block without user tables none of whose key operations would still be carried. */
  | { state: 'nothing-to-carry' }

/**
 * pendingOrphans' verdict on each side block signed by `keyId` recent enough not to be pruned
 * (above tip − max_reorg_depth), lowest first. `record`: the node's own record, only for a key
 * this node signs with (another signer's re-seals are not in it).
 */
export function judgeOrphans (chain: Chain, keyId: string, record?: ResealLedger): Array<{ block: BlockRecord, verdict: OrphanVerdict }> {
  const tip = chain.tip()
  const floor = tip.height - chain.params.maxReorgDepth
  const signed = chain.index.sideBlocks().filter(b => b.signer === keyId)
  const mine = signed.filter(b => b.height > floor && b.height > 0)
  if (mine.length === 0) return []
  let onTip: ReturnType<typeof resealKeys> | undefined
  const forks = new Map<string, number>()
  // How many of the signer's side blocks hold each rows root: only a root held twice needs its line walked.
  const held = new Map<string, number>()
  for (const b of signed) held.set(b.rowsRoot, (held.get(b.rowsRoot) ?? 0) + 1)
  const forkOf = (x: BlockRecord): number => forkOrFloor(chain, x, forks)
  return mine.map(b => ({ block: b, verdict: judge(b) }))

  function judge (b: BlockRecord): OrphanVerdict {
    if (chain.index.tablesOf(b.hash).length === 0) {
      onTip ??= resealKeys(chain)
      const keys = onTip
      return chain.index.keyOpsOf(b.hash).some(op => keyOpCarries(keys, op.op, op.keyId, op.signers)) ? { state: 'pending' } : { state: 'nothing-to-carry' }
    }
    const seen = copyOnChain(chain, b, keyId, record, forkOf)
    if ('verdict' in seen) return seen.verdict
    const { first, fork, same, marks } = seen
    // Published since the record is kept: no other block stands for it (one of the signer's with
    // the same rows is a publication of its own: review46's import of the same file again).
    if (record?.since !== undefined && first !== undefined && first.height > record.since) return { state: 'pending' }
    // Blocks from before the record (at or below `since`) may be re-seals it does not hold; later
    // ones are not. Before the record, a re-seal and the same file imported again look alike, so an
    // older Petal's re-seal and its origin, both orphaned after the record began, are each re-sealed
    // (the rows twice, a limit: docs/consensus.md); counting the origin's new re-seal for both lost
    // the import's publication in the other case (review48).
    // A block marked as another origin's copy is that publication's, not this one's (reseal49: a
    // re-seal of the same file's other publication stood for it, and its own was lost).
    const before = record?.since ?? Infinity
    const copies = same.filter(c => c.height > fork && c.height <= before && marks.get(c.hash) === undefined)
    const need = (held.get(b.rowsRoot) ?? 0) > 1 ? nthOnLine(chain, b, fork) : 1
    const copy = copies[need - 1]
    return copy === undefined ? { state: 'pending' } : { state: 'back', by: 'rows-root', block: copy.hash }
  }
}

/** What copyOnChain looked at when it found no copy: the rule by rows root goes on from there. */
interface Looked { first: BlockRecord | undefined, fork: number, same: BlockRecord[], marks: Map<string, string | undefined> }

/**
 * Side block `b` (with tables) back on the canonical chain as its origin, a copy of the origin this
 * node recorded, or a canonical block of `keyId` with `b`'s rows root whose mark names the origin,
 * above the lower of the forks of `b` and its origin (`forkOf`): the verdict; else what it looked at.
 */
function copyOnChain (chain: Chain, b: BlockRecord, keyId: string, record: ResealLedger | undefined, forkOf: (x: BlockRecord) => number): { verdict: OrphanVerdict } | Looked {
  const origin = originOf(chain, b, record)
  if (origin !== b.hash && chain.index.byHash(origin)?.canonical === true) return { verdict: { state: 'back', by: 'origin', block: origin } }
  const recorded = record?.copiesOf(origin).find(h => h !== b.hash && chain.index.byHash(h)?.canonical === true)
  if (recorded !== undefined) return { verdict: { state: 'back', by: 'recorded-copy', block: recorded } }
  // A branch whose lower part was pruned reaches no canonical block: its fork is not known, but the
  // reorg that orphaned `b` was at most max_reorg_depth deep, so it lies no lower than b.height - depth
  // (review46: it was taken as -1, and any block of the signer with those rows, however old, counted).
  const fork = forkOf(b)
  // A copy of the origin lies above the origin's own fork: it was sealed once the origin was off the chain.
  const first = chain.index.byHash(origin)
  const low = first === undefined || first.canonical || first.hash === b.hash ? fork : Math.min(fork, forkOf(first))
  const tip = chain.tip().height
  const same = chain.index.range(low + 1, tip, tip - low).filter(c => c.signer === keyId && c.rowsRoot === b.rowsRoot)
  // A re-seal by any node that shares the key, marked as the origin's copy on the chain (reseal-mark.ts).
  const marks = new Map(same.map(c => [c.hash, resealMarkOf(chain, c)]))
  const marked = same.find(c => marks.get(c.hash) === origin)
  if (marked !== undefined) return { verdict: { state: 'back', by: 'marked-copy', block: marked.hash } }
  return { first, fork, same, marks }
}

/** forkHeight, or for a branch that reaches no canonical block the lowest fork a reorg could have left it at. */
function forkOrFloor (chain: Chain, b: BlockRecord, known: Map<string, number>): number {
  const fork = forkHeight(chain, b, known)
  return fork >= 0 ? fork : Math.max(-1, b.height - chain.params.maxReorgDepth - 1)
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
 * orphan canonical again, or no longer pending by pendingOrphans' rule; below the pruning depth,
 * where the rule does not look, its origin or a recorded or marked copy of it canonical): false
 * for an unknown block or another signer's, which goes ahead. Asked
 * under the write lock, where a re-seal reads its tip: a re-seal that waited for the lock while
 * another one (by hand, or a node's) re-sealed the same orphan saw it pending before (review47).
 */
export function contentIsBack (chain: Chain, hash: string, keyId: string, record?: ResealLedger): boolean {
  const b = chain.index.byHash(hash)
  if (b === undefined) return false
  if (b.canonical) return true
  if (b.signer !== keyId) return false
  if (b.height > chain.tip().height - chain.params.maxReorgDepth) return !pendingOrphans(chain, keyId, record).some(x => x.hash === hash)
  return deepCopyOnChain(chain, b, record) !== undefined
}

/**
 * Where the content of `b`, a side block with tables deeper than max_reorg_depth below the tip
 * (where judgeOrphans does not look), is back on the canonical chain: its origin, or a copy of it
 * recorded (`record`: the signer's node's) or marked on the chain; undefined when none is canonical.
 * The rule by rows root is not applied here: a block of the signer with those rows may be a
 * publication of its own. `petal reseal` by hand asks it (reseal49: it asked nothing, and sealed
 * content a marked copy already held, its rows twice), and `petal orphans` says it.
 */
export function deepCopyOnChain (chain: Chain, b: BlockRecord, record?: ResealLedger): (OrphanVerdict & { state: 'back' }) | undefined {
  if (chain.index.tablesOf(b.hash).length === 0) return undefined
  const seen = copyOnChain(chain, b, b.signer, record, x => forkOrFloor(chain, x, new Map()))
  return 'verdict' in seen && seen.verdict.state === 'back' ? seen.verdict : undefined
}
