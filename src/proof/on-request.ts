import type { Chain } from '../chain/index.js'
import type { SigningKey } from '../crypto/index.js'
import { toHex } from '../util/index.js'
import { checkpointText, signCheckpoint } from './checkpoint.js'
import { unionWithStored, vouchesFor } from './note-lines.js'
import { findCheckpoint, storedChainTree } from './stored.js'
import { treeRoot } from './tree/index.js'

// A checkpoint of a size signed on request (docs/proofs.md, "A size signed on request"): a
// signatory's node signs at the tips it reaches, so a size between two of them (blocks a catch-up
// placed at once) had no note there, and `petal pull --checkpoint-size N` came back with a smaller
// one or none. A final checkpoint of size N is a statement about a prefix of the signer's chain
// that fork choice never abandons: as safe to sign as the final checkpoint it signs at each tip.
// What bounds it: each size once (kept, so the next asker gets the stored note), only final sizes
// of its current tree, and a budget of signatures a minute over all peers.

/** How many notes a node signs on request: a token bucket over all peers. */
export interface SignBudget { take: (nowMs: number) => boolean }

/** At most `burst` at once, `perMinute` a minute sustained (defaults: 16, 30). */
export function signBudget (o: { burst?: number, perMinute?: number } = {}): SignBudget {
  const burst = o.burst ?? 16
  const rate = (o.perMinute ?? 30) / 60_000
  let tokens = burst
  let last: number | undefined
  return {
    take: now => {
      tokens = Math.min(burst, tokens + (last === undefined ? 0 : Math.max(0, now - last) * rate))
      last = now
      if (tokens < 1) return false
      tokens -= 1
      return true
    }
  }
}

/**
 * Sign and keep a final checkpoint of exactly `size` with `key`, when a peer asks for that size
 * and none is kept: `size` must be final at the tip (`size − 1 ≤ tip − max_reorg_depth`), the key
 * must vouch for it (active at the tip, added at or below `size − 1`), and the budget must allow
 * it. Whether a note was signed. Waits for the write lock at most `waitMs` (the asker's answer
 * comes without it then).
 */
export async function signRequestedSize (chain: Chain, key: SigningKey, size: number, budget: SignBudget, waitMs = 2000): Promise<boolean> {
  const depth = chain.params.maxReorgDepth
  const fits = (): boolean => {
    const tip = chain.tip()
    if (!Number.isSafeInteger(size) || size < 1 || size - 1 > tip.height - depth || size > storedChainTree(chain).size) return false
    const signer = chain.keysAt(tip).get(key.id)
    return signer !== undefined && signer.revokedAt === null && vouchesFor(signer.addedAt, size) && findCheckpoint(chain, { size, final: true }) === undefined
  }
  if (!fits() || !budget.take(chain.clock.now())) return false
  return await chain.index.withWriteLock(async () => {
    if (!fits()) return false
    const tip = chain.tip()
    const root = treeRoot(storedChainTree(chain), size)
    const text = checkpointText({ chainId: chain.chainId, size, root, tip: tip.height, maxReorgDepth: depth })
    const note = signCheckpoint(text, [key])
    const kept = chain.index.checkpoints.ofText(size, text).length === 0 ? note : unionWithStored(chain, text, note).keep ?? note
    chain.index.checkpoints.keep({ size, root: toHex(root), tip: tip.height, note: kept, receivedAt: chain.clock.now(), source: 'self' }, text, depth)
    chain.logger.debug('signed a checkpoint a peer asked for', { size, tip: tip.height })
    return true
  }, { signal: AbortSignal.timeout(waitMs) })
}
