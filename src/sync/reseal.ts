import type { Chain } from '../chain/index.js'
import type { BlockRecord } from '../storage/index.js'

/**
 * Blocks this signatory published that lost a fork and whose content is not yet back on the
 * canonical chain: side blocks signed by `keyId`, recent enough not to be pruned, for which no
 * canonical block at or above their height carries the same signer and rows root. Derived from
 * the index alone, so it survives restarts and needs no bookkeeping. Lowest first.
 */
export function pendingOrphans (chain: Chain, keyId: string): BlockRecord[] {
  const tip = chain.tip()
  const floor = tip.height - chain.params.maxReorgDepth
  return chain.index.sideBlocks()
    .filter(b => b.signer === keyId && b.height > floor && b.height > 0)
    .filter(b => !chain.index.range(b.height, tip.height, tip.height - b.height + 1).some(c => c.signer === keyId && c.rowsRoot === b.rowsRoot))
}
