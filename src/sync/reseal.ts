import { keyOpCarries, resealKeys, type Chain } from '../chain/index.js'
import type { BlockRecord } from '../storage/index.js'

/**
 * Blocks this signatory published that lost a fork and whose content is not yet back on the
 * canonical chain: side blocks signed by `keyId`, recent enough not to be pruned, that carry
 * something the canonical chain lacks. Derived from the index alone, so it survives restarts and
 * needs no bookkeeping. Lowest first.
 *
 * A block with tables (rows, or only the creation of an empty table, whose rows root is its own)
 * is back when a canonical block of the same signer and rows root lies above
 * the height where its branch leaves the canonical chain: its re-seal, or the block it re-sealed
 * itself, canonical again after a reorg back to its branch (review45: only blocks at or above its
 * height counted, so that case re-sealed the re-seal, every row twice). A block without tables
 * carries only its key operations (every such block has one rows root, an empty one's as well:
 * review45 found a key addition never re-sealed because the signer's empty block had won above
 * the fork): it is pending while one of them would still be carried (keyOpCarries), and a block
 * with nothing to carry is not re-sealed at all.
 */
export function pendingOrphans (chain: Chain, keyId: string): BlockRecord[] {
  const tip = chain.tip()
  const floor = tip.height - chain.params.maxReorgDepth
  const mine = chain.index.sideBlocks().filter(b => b.signer === keyId && b.height > floor && b.height > 0)
  if (mine.length === 0) return []
  let onTip: ReturnType<typeof resealKeys> | undefined
  const forks = new Map<string, number>()
  return mine.filter(b => {
    if (chain.index.tablesOf(b.hash).length === 0) {
      onTip ??= resealKeys(chain)
      const keys = onTip
      return chain.index.keyOpsOf(b.hash).some(op => keyOpCarries(keys, op.op, op.keyId, op.signers))
    }
    const fork = forkHeight(chain, b, forks)
    return !chain.index.range(fork + 1, tip.height, tip.height - fork).some(c => c.signer === keyId && c.rowsRoot === b.rowsRoot)
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
