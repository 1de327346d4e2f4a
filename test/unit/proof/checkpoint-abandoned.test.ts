import { describe, expect, it } from 'vitest'
import { checkpointText, findCheckpoint, proveConsistency, readCheckpointNote, signCheckpoint } from '../../../src/proof/index.js'
import { fromHex } from '../../../src/util/index.js'
import { fixtureKey, newTestChain } from '../../helpers/chain.js'
import { checkpointRows, reorgRounds } from '../../helpers/reorg-rounds.js'

const alice = fixtureKey('alice')

// docs/proofs.md, "Notes of an abandoned branch": a node that reorgs again and again kept every
// note of every branch it left (two a round here), where its side blocks are pruned.
describe('a signatory\'s node that reorgs again and again', () => {
  it('drops the notes of the branches it left once their trees are final, and keeps what proofs use', async () => {
    const made = await newTestChain({ key: alice, consensus: { maxReorgDepth: 2 } })
    // A note over another root that claims to be final (a signatory's statement that two histories
    // were final): kept, whatever becomes of its tree.
    const twoFinals = signCheckpoint(checkpointText({ chainId: made.chain.chainId, size: 5, root: fromHex('ab'.repeat(32)) as Uint8Array, tip: 9, maxReorgDepth: 2 }), [alice])
    await made.chain.index.withWriteLock(async () => { made.chain.index.checkpoints.insert({ size: 5, root: 'ab'.repeat(32), tip: 9, note: twoFinals, receivedAt: 0, source: 'peer x' }) })
    const a = await reorgRounds(made.chain, made.dir, alice, 6, 2)
    expect(a.tip().height).toBe(18)
    const rows = checkpointRows(a)
    // Until session 53: 12 abandoned (2 a reorg), 31 rows in all. Now only the last reorg's notes
    // whose trees are not final yet, and the one claiming final.
    expect(rows.abandoned - rows.abandonedFinal).toBeLessThanOrEqual(2)
    expect(rows.abandonedFinal).toBe(1)
    expect(a.index.checkpoints.list({ minSize: 5, maxSize: 5 }).map(r => r.note)).toContain(twoFinals)
    // What proofs use stays: the final notes of every size, consistency between them.
    for (let size = 1; size <= a.tip().height - 1; size++) expect(findCheckpoint(a, { size, final: true })?.size).toBe(size)
    expect(proveConsistency(a, 3, 17).type).toBe('consistency')
    expect(readCheckpointNote((findCheckpoint(a) as { note: string }).note).checkpoint.size).toBe(19)
    a.close()
  })
})
