import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { askCheckpoints, pulledCheckpoints } from '../../src/node/checkpoint-ask.js'
import { findCheckpoint, proveRows, readCheckpointNote, signatoryNoteKeyId } from '../../src/proof/index.js'
import { fixtureKey } from '../helpers/chain.js'
import { caughtUpFollower, stopAll } from '../helpers/network.js'
import { waitFor } from '../helpers/wait.js'

afterAll(stopAll)

const alice = fixtureKey('alice')

// A signatory node A (alice) started on a chain of 4 blocks (max_reorg_depth 2) whose tip's
// checkpoints were signed before it started (sizes 5 and 3, final), and a follower F caught up to it.
let s: Awaited<ReturnType<typeof caughtUpFollower>>
beforeAll(async () => { s = await caughtUpFollower(alice, { name: 'A', key: alice, blocks: 4, maxReorgDepth: 2 }) })

// A user's walk (user47): blocks sealed by `petal signimportblock` or `petal seal` beside a node
// carry their checkpoints, signed in the block's own commit; so does the tip of a node that was
// restarted. The node found nothing new to sign at that tip and gossiped nothing, so a follower
// (or a `petal pull`) never got a checkpoint past the node's last own seal, and every proof on it
// failed with PROOF_NO_CHECKPOINT.
describe('a signatory node gossips the checkpoints of its tip signed before it started', () => {
  it('a follower gets a checkpoint covering the tip and proves rows against it', async () => {
    const { node: a, follower: f, tip } = s
    const c = await waitFor(() => findCheckpoint(f.chain, { height: tip }), { what: 'the follower to receive a checkpoint of the tip' })
    expect(c.size).toBe(tip + 1)
    expect(c.source).toBe(`peer ${a.peerId}`)
    const proof = await proveRows(f.chain, { height: tip, table: 't', rows: [{ rowid: 1n }] })
    expect(proof.checkpoint).toBe(c.note)
  })
})

// docs/proofs.md, "A size signed on request" (350ee40c): asked over the wire for a final size it
// keeps no note of, a signatory's node signs one of exactly that size; a size not final at its tip
// it does not sign, and the asker's pull says why. Until 350ee40c the answer was the largest note
// kept below it (size 1 or none here), and `pull --checkpoint-size 2` could get size 2 from nobody.
describe('a signatory signs a checkpoint of the size a peer asks for', () => {
  it('signs final size 2 for F\'s request, and not size 4, which is not final at its tip 4', async () => {
    const { node: a, follower: f } = s
    expect(findCheckpoint(a.chain, { size: 2 }), 'no note of size 2 before the request').toBeUndefined()
    const asked = [await askCheckpoints(f.chain, f.network, a.peerId, { logger: f.chain.logger, maxSize: 2 })]
    const two = findCheckpoint(f.chain, { size: 2 })
    expect(two?.source).toBe(`peer ${a.peerId}`)
    const { note, checkpoint } = readCheckpointNote(two?.note ?? '')
    expect([checkpoint.size, checkpoint.final]).toEqual([2, true])
    expect(note.signatures.map(l => l.keyId)).toEqual([signatoryNoteKeyId(alice)])
    expect(findCheckpoint(a.chain, { size: 2 })?.source, 'A keeps what it signed').toBe('self')

    asked.push(await askCheckpoints(f.chain, f.network, a.peerId, { logger: f.chain.logger, maxSize: 4 }))
    expect(asked.map(r => r.error)).toEqual([undefined, undefined])
    expect(findCheckpoint(a.chain, { size: 4 }), 'A signs no size that is not final').toBeUndefined()
    // A said why, over the wire (session 57: no pull read a reason); F's pull keeps it beside its own.
    const why = 'size 4 not signed: not final at this node\'s tip #4 (final once it reaches #5)'
    expect(asked[1]?.unsigned).toEqual([{ size: 4, code: 'not-final', reason: why }])
    expect(pulledCheckpoints(f.chain, asked, [2, 4]).sizes).toEqual([
      { size: 2, got: true },
      { size: 4, got: false, below: 3, why: 'not-final', finalAt: 5, unsigned: [{ peer: a.peerId, code: 'not-final', reason: why }] }
    ])
  })
})
