import { describe, expect, it } from 'vitest'
import { importBlock, type Chain } from '../../../src/chain/index.js'
import { checkpointText, findCheckpoint, judgeCheckpoint, keepReceivedCheckpoint, proveConsistency, readCheckpointNote, signCheckpoint, signTipCheckpoints, storedChainTree, treeRoot } from '../../../src/proof/index.js'
import { readSeal } from '../../../src/storage/index.js'
import { extendChain, fixtureKey, forkedPair, keyOpBlock } from '../../helpers/chain.js'

const alice = fixtureKey('alice')
const bob = fixtureKey('bob')

/** Place `from`'s canonical blocks `lo`…`hi` on `to` (as a peer's would be): the statuses. */
async function placeFrom (to: Chain, from: Chain, lo: number, hi: number): Promise<string[]> {
  const statuses: string[] = []
  for (let h = lo; h <= hi; h++) {
    const p = from.dir.blockPath(h)
    statuses.push((await importBlock(to, p, readSeal(p))).status)
  }
  return statuses
}

// docs/proofs.md, "Which signatories vouch for a checkpoint": a key vouches for a tree of size n
// when it was added at or below height n − 1 (and is active at the tip), so a final checkpoint's
// authority is that of blocks no reorg can take away.
describe('a final checkpoint whose signer was added above its tree, and a reorg that abandons the key\'s block', () => {
  it('is not signed nor accepted, so the note it would have replaced stays and a consistency proof from its size still holds', async () => {
    // Three common blocks (tip 3), max_reorg_depth 2. `a` adds bob at height 4 and bob seals 5;
    // `b`, alice's, grows to 6 without bob, and `a` reorgs to it (depth 2, within the limit).
    const { a, b } = await forkedPair(alice, 3, { maxReorgDepth: 2 })
    // Alice's note of size 4 at tip 3 (not final), which `a` receives from b.
    const [aliceLatest] = await signTipCheckpoints(b, alice)
    expect(readCheckpointNote(aliceLatest as string).checkpoint.size).toBe(4)
    expect(await keepReceivedCheckpoint(a, aliceLatest as string, 'B')).toBe(true)
    await keyOpBlock(a, alice, 'A', bob)
    await extendChain(a, bob, 1, 2)
    expect(a.tip().height).toBe(5)
    // Bob, a signatory at a's tip, signs its latest tree only: the final one, size 4 (heights
    // 0…3), is older than his key. Until session 53 he signed it too, and that final note
    // replaced alice's note of the same tree.
    const signed = (await signTipCheckpoints(a, bob)).map(n => readCheckpointNote(n).checkpoint.size)
    expect(signed).toEqual([6])
    // The same final note from a peer (bob's node elsewhere) is not taken either.
    const tree = storedChainTree(a)
    const bobFinal = signCheckpoint(checkpointText({ chainId: a.chainId, size: 4, root: treeRoot(tree, 4), tip: 5, maxReorgDepth: 2 }), [bob])
    expect(judgeCheckpoint(a, bobFinal)).toBe('ignore')
    expect(await keepReceivedCheckpoint(a, bobFinal, 'C')).toBe(false)
    // The reorg: bob's key is gone with block 4.
    await extendChain(b, alice, 3, 3)
    expect(await placeFrom(a, b, 4, 6)).toContain('reorg')
    expect(a.tip().hash).toBe(b.tip().hash)
    expect(a.keysAt(a.tip()).get(bob.id)).toBeUndefined()
    // Alice signs the new tip's checkpoints (sizes 7 and 5, the latter final): a consistency proof
    // from size 4 to the final 5 is what DESIGN.md promises once 4 is final too.
    expect((await signTipCheckpoints(a, alice)).map(n => readCheckpointNote(n).checkpoint.size)).toEqual([7, 5])
    expect(findCheckpoint(a, { size: 4 })?.note).toBe(aliceLatest)
    expect(proveConsistency(a, 4, 5).type).toBe('consistency')
    a.close()
    b.close()
  })
})
