import { describe, expect, it } from 'vitest'
import { Chain, reindexChain } from '../../../src/chain/index.js'
import { checkpointText, cosignCheckpoint, findCheckpoint, keepReceivedCheckpoint, OWN_WITNESS_META, signCheckpoint, signTipCheckpoints, storedChainTree, treeRoot } from '../../../src/proof/index.js'
import { extendChain, fixtureKey, newTestChain } from '../../helpers/chain.js'

const alice = fixtureKey('alice')

// `petal reindex` rebuilds chain.db's derived tables from the block files and keeps its checkpoints
// (signatures are not derived). What chain.db's meta holds of them is not derived either: a
// witness's promise (the last tree it cosigned, which a later one must extend) and its own verifier
// key (its lines count as verified here), and what each peer sent (PROOF_NO_CHECKPOINT's hint).
// Until review53b, reindex emptied meta but for schema_version: the witness forgot what it had
// cosigned, and its directory's proofs dropped its cosignatures until it cosigned again.
describe('reindex keeps the checkpoints\' meta', () => {
  it('a witness\'s last cosigned tree and key, and what a peer sent, stay across petal reindex', async () => {
    const { chain: a0, dir } = await newTestChain({ key: alice, consensus: { maxReorgDepth: 1 } })
    await extendChain(a0, alice, 3)
    const w = { name: 'witness.example/w', key: fixtureKey('carol') }
    const notes = await signTipCheckpoints(a0, alice)
    const final = notes[1]
    if (final === undefined) throw new Error('no final checkpoint')
    expect(await cosignCheckpoint(a0, final, w)).toContain('— witness.example/w ')
    // A peer sends a checkpoint this node holds already: remembered (sentBy), nothing kept.
    const size = a0.tip().height
    const sent = signCheckpoint(checkpointText({ chainId: a0.chainId, size, root: treeRoot(storedChainTree(a0), size), tip: size, maxReorgDepth: 1 }), [alice])
    await keepReceivedCheckpoint(a0, sent, 'PeerX')
    const before = { vkey: a0.index.getMeta(OWN_WITNESS_META), last: a0.index.getMeta(`witness_last_cosigned ${w.key.publicKey.hex}`), sent: a0.index.checkpoints.sentUpTo('peer PeerX') }
    expect(before.vkey).toBeDefined()
    expect(before.last).toBeDefined()
    expect(before.sent).toBe(size - 1)
    a0.close()

    await reindexChain(dir)
    const a = Chain.open(dir)
    try {
      expect({ vkey: a.index.getMeta(OWN_WITNESS_META), last: a.index.getMeta(`witness_last_cosigned ${w.key.publicKey.hex}`), sent: a.index.checkpoints.sentUpTo('peer PeerX') }).toEqual(before)
      // Its proofs still carry its cosignature (its own key is known from the meta), and it does not cosign that tree again.
      expect(findCheckpoint(a, { final: true })?.note).toContain('— witness.example/w ')
      expect(await cosignCheckpoint(a, final, w)).toBeUndefined()
    } finally {
      a.close()
    }
  })
})
