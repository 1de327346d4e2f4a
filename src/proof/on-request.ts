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
 * Why a signatory's node did not sign a size a peer asked for (the `unsignedCode` of its
 * `checkpoints` reply, docs/protocol.md, "checkpoints"): its tree is smaller (`tree`), the size is
 * not final at its tip (`not-final`), its key does not vouch for it (`not-vouched`: not an active
 * signatory at its tip, or added above height size − 1), its budget is spent (`budget`), its index
 * was busy (`busy`), or keeping the note failed (`disk`); a node holding no signatory's key signs
 * nothing (`not-signatory`).
 */
export type UnsignedCode = 'tree' | 'not-final' | 'not-vouched' | 'budget' | 'busy' | 'disk' | 'not-signatory'

/**
 * Sign and keep a final checkpoint of exactly `size` with `key`, when a peer asks for that size
 * and none is kept: `size` must be final at the tip (`size − 1 ≤ tip − max_reorg_depth`), the key
 * must vouch for it (active at the tip, added at or below `size − 1`), and the budget must allow
 * it. `signed`, `kept`, or why not (the asker's pull shows it: until session 57 it said nothing).
 * Waits for the write lock at most `waitMs` (the asker's answer comes without it then: thrown).
 */
export async function signRequestedSize (chain: Chain, key: SigningKey, size: number, budget: SignBudget, waitMs = 2000): Promise<'signed' | 'kept' | Exclude<UnsignedCode, 'busy' | 'disk' | 'not-signatory'>> {
  const depth = chain.params.maxReorgDepth
  const fits = (): 'fits' | 'kept' | 'tree' | 'not-final' | 'not-vouched' => {
    const tip = chain.tip()
    if (!Number.isSafeInteger(size) || size < 1 || size > storedChainTree(chain).size) return 'tree'
    if (size - 1 > tip.height - depth) return 'not-final'
    const signer = chain.keysAt(tip).get(key.id)
    if (signer === undefined || signer.revokedAt !== null || !vouchesFor(signer.addedAt, size)) return 'not-vouched'
    return findCheckpoint(chain, { size, final: true }) === undefined ? 'fits' : 'kept'
  }
  const before = fits()
  if (before !== 'fits') return before
  if (!budget.take(chain.clock.now())) return 'budget'
  return await chain.index.withWriteLock(async () => {
    const now = fits()
    if (now !== 'fits') return now
    const tip = chain.tip()
    const root = treeRoot(storedChainTree(chain), size)
    const text = checkpointText({ chainId: chain.chainId, size, root, tip: tip.height, maxReorgDepth: depth })
    const note = signCheckpoint(text, [key])
    const kept = chain.index.checkpoints.ofText(size, text).length === 0 ? note : unionWithStored(chain, text, note).keep ?? note
    chain.index.checkpoints.keep({ size, root: toHex(root), tip: tip.height, note: kept, receivedAt: chain.clock.now(), source: 'self' }, text, depth)
    chain.logger.debug('signed a checkpoint a peer asked for', { size, tip: tip.height })
    return 'signed' as const
  }, { signal: AbortSignal.timeout(waitMs) })
}
