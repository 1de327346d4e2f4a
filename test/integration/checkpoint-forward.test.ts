import { afterAll, describe, expect, it } from 'vitest'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import { addCosignature, findCheckpoint, signTipCheckpoints, witnessKeyOf, WITNESSES_FILE } from '../../src/proof/index.js'
import { extendChain, fixtureKey, newTestChain } from '../helpers/chain.js'
import { addrOf, cloneGenesis, startNode, stopAll, waitConverged } from '../helpers/network.js'
import { waitFor } from '../helpers/wait.js'

afterAll(stopAll)

// docs/proofs.md, "Which cosignatures a node keeps": a node passes on only the lines of a
// gossiped checkpoint note it verified. Until session 51 a note whose signatory line verified was
// accepted and gossipsub forwarded it whole, junk lines included, to peers that drop them.

const alice = fixtureKey('alice')
const w1 = { name: 'witness.example/w1', key: fixtureKey('carol') }
const JUNK = '— junk.example/x AAAAAAA=\n'

describe('checkpoint gossip through a node', () => {
  it('forwards the lines it verified, not a hostile peer\'s junk line', async () => {
    // M holds the chain and its signed checkpoints (signed here, by alice, as a signatory's node
    // would); C and H sync from M only (no discovery: H reaches C through M alone).
    const { chain, dir: mDir } = await newTestChain({ key: alice, consensus: { maxReorgDepth: 1 } })
    await extendChain(chain, alice, 2, 2)
    const final = (await signTipCheckpoints(chain, alice))[1]
    if (final === undefined) throw new Error('no final checkpoint')
    const cDir = await cloneGenesis(chain)
    const hDir = await cloneGenesis(chain)
    chain.close()
    for (const d of [mDir, cDir]) writeFileSync(join(d, WITNESSES_FILE), `${await witnessKeyOf(w1)}\n`)
    const m = await startNode(mDir, { name: 'M', discovery: false, ingest: false as const })
    const c = await startNode(cDir, { name: 'C', discovery: false, bootstrap: [addrOf(m)], ingest: false as const })
    const h = await startNode(hDir, { name: 'H', discovery: false, bootstrap: [addrOf(m)], ingest: false as const })
    // Without discovery C and H may still meet (each learns the other's address from M: the CI met
    // it once), so C refuses H outright: H reaches C only through M.
    while (!c.network.scores.penalise(h.peerId, 'invalid-block')) { /* until banned */ }
    await c.network.libp2p.hangUp(peerIdFromString(h.peerId))
    await waitConverged([m, c, h], { height: 2 })
    await waitFor(() => m.network.subscribers().includes(c.peerId) && m.network.subscribers().includes(h.peerId), { what: 'C and H to join M\'s gossip' })
    expect(c.network.connectedPeers()).not.toContain(h.peerId)

    // What reaches C, and from whom.
    const seen: Array<{ note: string, from: string }> = []
    c.network.libp2p.services.pubsub.addEventListener('gossipsub:message', e => {
      seen.push({ note: new TextDecoder().decode(e.detail.msg.data), from: e.detail.propagationSource.toString() })
    })
    // H gossips the final checkpoint with a cosignature of w1 that M and C list, and a junk line.
    const cosigned = addCosignature(final, w1, 1_700_000_000)
    await waitFor(async () => (await h.network.publishCheckpoint(cosigned + JUNK)) > 0, { what: 'H to gossip the note' })
    const got = await waitFor(() => seen.find(s => s.from === m.peerId && s.note.includes(`— ${w1.name} `)), { what: 'C to receive the cosigned checkpoint from M' })
    expect(got.note).toBe(cosigned)
    expect(seen.filter(s => s.note.includes(JUNK))).toEqual([])
    // Both keep the cosignature; the junk line is nowhere.
    for (const n of [m, c]) {
      await waitFor(() => findCheckpoint(n.chain, { final: true })?.note.includes(`— ${w1.name} `), { what: 'the cosignature to be kept' })
      expect(n.chain.index.checkpoints.list().filter(r => r.note.includes(JUNK))).toEqual([])
    }
  })
})
