import { cpSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { Chain, importBlock } from '../../../src/chain/index.js'
import { findCheckpoint, missingSizeHint, servedCheckpoints, signTipCheckpoints } from '../../../src/proof/index.js'
import { readSeal } from '../../../src/storage/index.js'
import { extendChain, fixtureKey, newTestChain } from '../../helpers/chain.js'
import { tmpDir } from '../../helpers/tmp.js'

const alice = fixtureKey('alice')

// PROOF_NO_CHECKPOINT's hint for a size this directory lacks (`petal prove --consistency N`, `petal
// checkpoint --height N-1`) sends a reader to `petal pull --checkpoint-size N`, and said "a
// signatory's node keeps the final one of every size" (ca786df8). It keeps those of the tips it
// signed at: each block it sealed, not each of the blocks a catch-up placed between two of its
// signings, so a peer asked for such a size answers a smaller one, or none (review54b).
describe('the hint for a checkpoint size not stored here', () => {
  it('promises no checkpoint of every size from a signatory\'s node, which keeps those of the tips it signed at', async () => {
    const { chain: made, dir } = await newTestChain({ key: alice, consensus: { maxReorgDepth: 2 } })
    // A signatory's node restored from a copy at the genesis, which catches up on blocks 1…6
    // sealed meanwhile (each signed in the commit of its block where it was sealed).
    const behind = join(tmpDir(), 'behind')
    cpSync(dir, behind, { recursive: true })
    for (let h = 1; h <= 6; h++) {
      await extendChain(made, alice, 1, 2)
      await signTipCheckpoints(made, alice)
    }
    expect(findCheckpoint(made, { size: 3, final: true })).toBeDefined()
    const node = Chain.open(behind)
    try {
      for (let h = 1; h <= 6; h++) await importBlock(node, made.dir.blockPath(h), readSeal(made.dir.blockPath(h)))
      // It signs at the tip it reached (sizes 7 and 5), none of the sizes it passed.
      expect((await signTipCheckpoints(node, alice)).length).toBe(2)
      expect(findCheckpoint(node, { size: 3 })).toBeUndefined()
      expect(servedCheckpoints(node, 3)).toEqual([])
      const hint = missingSizeHint({ kind: 'reader', pullFrom: '/ip4/127.0.0.1/tcp/2017/p2p/12D3KooWExample' }, 3)
      expect(hint).not.toMatch(/every size/)
      expect(hint).toContain('petal pull /ip4/127.0.0.1/tcp/2017/p2p/12D3KooWExample --checkpoint-size 3')
    } finally {
      node.close()
      made.close()
    }
  })
})
