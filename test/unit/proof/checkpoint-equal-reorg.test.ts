import { describe, expect, it } from 'vitest'
import { importBlock } from '../../../src/chain/index.js'
import { findCheckpoint, readCheckpointNote, signTipCheckpoints, storedChainTree, storedTipCheckpoints, treeRoot } from '../../../src/proof/index.js'
import { readSeal } from '../../../src/storage/index.js'
import { toHex } from '../../../src/util/index.js'
import { extendChain, fixtureKey, forkedPair } from '../../helpers/chain.js'

const alice = fixtureKey('alice')

describe('a signatory\'s checkpoints after a reorg to a branch of the same height', () => {
  it('are signed for the new tip\'s tree, and the notes gossiped again are the new root\'s, not the abandoned branch\'s', async () => {
    let { a, b } = await forkedPair(alice, 2, { maxReorgDepth: 10 })
    await extendChain(a, alice, 1, 2)
    await extendChain(b, alice, 1, 3)
    // At equal height the lower tip hash wins: `a` holds the higher one, and reorgs to b's.
    if (a.tip().hash < b.tip().hash) [a, b] = [b, a]
    expect(await signTipCheckpoints(a, alice)).toHaveLength(1)
    const p = b.dir.blockPath(b.tip().height)
    expect((await importBlock(a, p, readSeal(p))).status).toBe('reorg')
    expect(a.tip().hash).toBe(b.tip().hash)
    const tree = storedChainTree(a)
    const root = toHex(treeRoot(tree, tree.size))
    // Before session 48: no note (the abandoned branch's of this height stood for it), so no proof
    // of the new tip could be made, and the node gossiped the abandoned root's note.
    const signed = await signTipCheckpoints(a, alice)
    expect(signed.map(n => toHex(readCheckpointNote(n).checkpoint.root))).toEqual([root])
    expect(storedTipCheckpoints(a, alice)).toEqual(signed)
    expect(findCheckpoint(a, { height: a.tip().height })?.root).toBe(root)
    // Each (size, tip, root) once.
    expect(await signTipCheckpoints(a, alice)).toEqual([])
    a.close()
    b.close()
  })
})
