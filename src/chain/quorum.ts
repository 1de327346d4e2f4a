import type { QuorumRule } from '../block/index.js'

/** Daisy's rule: 1 below height 149, then floor(2·ln H), whatever the number of signatories. */
export function daisyQuorum (height: number): number {
  return height < 149 ? 1 : Math.floor(2 * Math.log(height))
}

/**
 * Endorsements each key operation in a block at `height` needs, given the number of active
 * signatories at its parent.
 * - `daisy`: Daisy's formula; a chain with fewer signatories than Q can no longer change its keys.
 * - `daisy-capped` (default): the same, capped at the active count, so a small chain never freezes.
 * - `majority`: more than half of the active signatories.
 */
export function quorumFor (rule: QuorumRule, height: number, activeSigners: number): number {
  switch (rule) {
    case 'daisy': return daisyQuorum(height)
    case 'daisy-capped': return Math.max(1, Math.min(daisyQuorum(height), activeSigners))
    case 'majority': return Math.floor(activeSigners / 2) + 1
  }
}
