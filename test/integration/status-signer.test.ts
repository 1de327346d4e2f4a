import { afterAll, describe, expect, it } from 'vitest'
import { checkpointAudience } from '../../src/cli/checkpoint-audience.js'
import { CliContext } from '../../src/cli/context.js'
import { Chain } from '../../src/chain/index.js'
import { readKnownPeers } from '../../src/node/state-file.js'
import { fixtureKey, newTestChain } from '../helpers/chain.js'
import { addrOf, cloneGenesis, startNode, stopAll, stopNode } from '../helpers/network.js'
import { waitFor } from '../helpers/wait.js'

afterAll(stopAll)

const alice = fixtureKey('alice')

// A node's status reply shows its signing key, signed for its peer id (docs/protocol.md "status"):
// a follower learns that the peer it met is a signatory's node, remembers it in peers.json, and a
// reader's PROOF_NO_CHECKPOINT hint on its directory says so for certain (docs/proofs.md, "When
// there is no checkpoint"). Before session 50 the reply carried no key, and peers.json nothing.
describe('the signer a status reply shows', () => {
  it('is checked and remembered by the peer that asks, on 127.0.0.1', async () => {
    const { chain, dir } = await newTestChain({ key: alice })
    const fDir = await cloneGenesis(chain)
    chain.close()
    const a = await startNode(dir, { name: 'A', key: alice, ingest: false as const })
    const f = await startNode(fDir, { name: 'F', bootstrap: [addrOf(a)], ingest: false as const })
    await waitFor(() => f.network.knownPeers().find(p => p.id === a.peerId)?.signer === alice.id, { what: 'F to learn that A is alice\'s node' })
    await waitFor(() => a.network.knownPeers().find(p => p.id === f.peerId)?.signer === null, { what: 'A to learn that F holds no key' })
    await stopNode(f)
    expect(readKnownPeers(fDir).find(p => p.id === a.peerId)?.signer).toBe(alice.id)
    const reader = Chain.open(fDir)
    const ctx = new CliContext({ dir: fDir }, { stdout: () => {}, stderr: () => {}, env: {}, stderrIsTTY: false, packageRoot: '.' }, new AbortController().signal)
    expect(checkpointAudience(ctx, reader)).toMatchObject({ kind: 'reader', signs: true })
    reader.close()
  })
})
