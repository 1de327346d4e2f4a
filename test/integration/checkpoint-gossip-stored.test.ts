import { afterAll, describe, expect, it } from 'vitest'
import { findCheckpoint, proveRows } from '../../src/proof/index.js'
import { fixtureKey } from '../helpers/chain.js'
import { caughtUpFollower, stopAll } from '../helpers/network.js'
import { waitFor } from '../helpers/wait.js'

afterAll(stopAll)

const alice = fixtureKey('alice')

// A user's walk (user47): blocks sealed by `petal signimportblock` or `petal seal` beside a node
// carry their checkpoints, signed in the block's own commit; so does the tip of a node that was
// restarted. The node found nothing new to sign at that tip and gossiped nothing, so a follower
// (or a `petal pull`) never got a checkpoint past the node's last own seal, and every proof on it
// failed with PROOF_NO_CHECKPOINT.
describe('a signatory node gossips the checkpoints of its tip signed before it started', () => {
  it('a follower gets a checkpoint covering the tip and proves rows against it', async () => {
    // Its tip's checkpoints signed as signimportblock does in its commit (or this node did before a restart).
    const { node: a, follower: f, tip } = await caughtUpFollower(alice, { name: 'A', key: alice })
    const c = await waitFor(() => findCheckpoint(f.chain, { height: tip }), { what: 'the follower to receive a checkpoint of the tip' })
    expect(c.size).toBe(tip + 1)
    expect(c.source).toBe(`peer ${a.peerId}`)
    const proof = await proveRows(f.chain, { height: tip, table: 't', rows: [{ rowid: 1n }] })
    expect(proof.checkpoint).toBe(c.note)
  })
})
