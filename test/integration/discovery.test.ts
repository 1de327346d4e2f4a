import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { chainCid } from '../../src/network/index.js'
import { fixtureKey, newTestChain } from '../helpers/chain.js'
import { addrOf, cloneGenesis, startNode, stopAll, stopNode } from '../helpers/network.js'
import { waitFor } from '../helpers/wait.js'

afterAll(stopAll)

describe('peer discovery', () => {
  it('node C that knows only A finds B through the DHT, and re-dials known peers after a restart', async () => {
    const { chain, dir: aDir } = await newTestChain({ key: fixtureKey('alice') })
    const bDir = await cloneGenesis(chain)
    const cDir = await cloneGenesis(chain)
    chain.close()
    const a = await startNode(aDir, { name: 'A' })
    const b = await startNode(bDir, { name: 'B', bootstrap: [addrOf(a)] })
    let c = await startNode(cDir, { name: 'C', bootstrap: [addrOf(a)] })
    expect(c.network.knownPeers().map(p => p.id)).toEqual([a.peerId])

    // B registers as a provider of the chain; C's DHT search returns it and C dials it.
    await waitFor(() => c.network.connectedPeers().includes(b.peerId), { what: 'C to connect to B' })
    await waitFor(async () => {
      for await (const p of c.network.libp2p.contentRouting.findProviders(chainCid(c.chain.chainId), { signal: AbortSignal.timeout(5_000) })) {
        if (p.id.toString() === b.peerId) return true
      }
      return false
    }, { what: 'B to be listed as a provider of the chain' })

    // C restarts with no bootstrap list at all: peers.json brings it back to A and B.
    await stopNode(c)
    // A came from the bootstrap flag only: it is remembered like any peer met.
    const saved = (JSON.parse(readFileSync(join(cDir, 'peers.json'), 'utf8')) as { peers: Array<{ id: string }> }).peers.map(p => p.id)
    expect(saved).toEqual(expect.arrayContaining([a.peerId, b.peerId]))
    c = await startNode(cDir, { name: 'C2', discovery: false })
    await waitFor(() => [a.peerId, b.peerId].every(p => c.network.connectedPeers().includes(p)), { what: 'C to re-dial its known peers' })
  }, 120_000)
})
