import { afterAll, describe, expect, it } from 'vitest'
import { findCheckpoint, proveRows, signTipCheckpoints } from '../../src/proof/index.js'
import { extendChain, fixtureKey } from '../helpers/chain.js'
import { caughtUpFollower, stopAll, waitConverged } from '../helpers/network.js'
import { waitFor } from '../helpers/wait.js'

afterAll(stopAll)

const alice = fixtureKey('alice')

// A follower asked its peers for checkpoints only when one connected (session 48): one that
// caught up from a peer that gossips nothing (a follower node beside which `petal seal` or
// `petal signimportblock` signed the blocks and their checkpoints) had no checkpoint past the
// tip it had when it connected, and no proof on it could be made (PROOF_NO_CHECKPOINT). It asks
// again each time its sync goes idle on a tip no stored checkpoint covers (user49).
describe('a follower asks its peers for checkpoints once caught up', () => {
  it('gets the checkpoint of the tip it caught up to, and of the next one its peer sealed', async () => {
    // P holds the chain and its checkpoints but no key: it signs and gossips nothing.
    const { node: p, follower: f } = await caughtUpFollower(alice, { name: 'P' })
    const first = await waitFor(() => findCheckpoint(f.chain, { height: 2 }), { what: 'F to ask P for the checkpoint of the tip it caught up to' })
    expect(first.source).toBe(`peer ${p.peerId}`)

    // Another process seals a block beside P, with its checkpoints (as signimportblock does).
    await extendChain(p.chain, alice, 1)
    expect((await signTipCheckpoints(p.chain, alice)).length).toBeGreaterThan(0)
    await p.announceTip()
    await waitConverged([p, f], { height: 3 })
    const next = await waitFor(() => findCheckpoint(f.chain, { height: 3 }), { what: 'F to ask P for the checkpoint of the new tip' })
    expect(next.size).toBe(4)
    const proof = await proveRows(f.chain, { height: 3, table: 't', rows: [{ rowid: 1n }] })
    expect(proof.checkpoint).toBe(next.note)
  }, 60_000)
})
