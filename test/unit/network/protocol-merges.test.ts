// libp2p writes a stream's protocol into its peer store for every stream it opens or accepts; a
// node of ours reads the peer's record once, not once per stream, and the record still holds
// every protocol used. Real libp2p nodes on 127.0.0.1.
// (A deleted peer is forgotten too: protocol-merges.ts; libp2p re-adds a connected peer at once, so
// that is not observable here.)
import { afterAll, describe, expect, it, vi } from 'vitest'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { loadOrCreateNodeKey } from '../../../src/network/index.js'
import { createPetalLibp2p, type PetalLibp2p } from '../../../src/network/libp2p.js'
import { protocolMergeNodes, protocolMergePeers } from '../../../src/network/protocol-merges.js'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { tmpDir } from '../../helpers/tmp.js'

describe('protocol merges into the peer store', () => {
  const nodes: PetalLibp2p[] = []
  afterAll(async () => { await Promise.all(nodes.map(async n => { await n.stop() })) })

  async function node (name: string): Promise<PetalLibp2p> {
    const n = await createPetalLibp2p({
      privateKey: await loadOrCreateNodeKey(join(tmpDir(), `${name}.key`)), chainId: 'merges', listen: ['/ip4/127.0.0.1/tcp/0'], announce: [],
      maxConnections: 8, inboundPerSecond: 10, gater: {}, version: 'test'
    })
    nodes.push(n)
    return n
  }

  it('reads the peer\'s record for the first stream of a protocol, not for each of the next, on both sides; a new protocol is still recorded', async () => {
    const before = protocolMergeNodes()
    const server = await node('server')
    const client = await node('client')
    expect(protocolMergeNodes()).toBe(before + 2)
    for (const p of ['/merges/a/1.0.0', '/merges/b/1.0.0']) {
      await server.handle(p, async stream => { await stream.close() }, { maxInboundStreams: 64 })
    }
    await client.dial(multiaddr(server.getMultiaddrs()[0]?.toString() ?? ''))
    const open = async (p: string): Promise<void> => {
      const s = await client.dialProtocol(server.peerId, p)
      await s.close()
    }
    await open('/merges/a/1.0.0')
    // What each side reads of its datastore from here: the peer records' keys (/peers/…).
    const reads = (n: PetalLibp2p): () => number => {
      const ds = Reflect.get(Reflect.get(n, 'components') as object, 'datastore') as { get: (...a: unknown[]) => unknown }
      const spy = vi.spyOn(ds, 'get')
      return () => spy.mock.calls.filter(c => String(c[0]).startsWith('/peers/')).length
    }
    const clientReads = reads(client)
    const serverReads = reads(server)
    // Each of 40 streams read the record once on each side before; identify and the DHT, which
    // read it too after a connection opens, are not this and read it a few times.
    for (let i = 0; i < 40; i++) await open('/merges/a/1.0.0')
    expect(clientReads()).toBeLessThan(20)
    expect(serverReads()).toBeLessThan(20)
    await open('/merges/b/1.0.0')
    expect(clientReads()).toBeGreaterThan(0)
    expect((await client.peerStore.get(server.peerId)).protocols).toEqual(expect.arrayContaining(['/merges/a/1.0.0', '/merges/b/1.0.0']))
    expect((await server.peerStore.get(client.peerId)).protocols).toEqual(expect.arrayContaining(['/merges/a/1.0.0', '/merges/b/1.0.0']))
  })

  it('a handler removed and added again is in this node\'s own record again', async () => {
    const n = await node('self')
    const has = async (): Promise<boolean> => (await n.peerStore.get(n.peerId)).protocols.includes('/merges/self/1.0.0')
    await n.handle('/merges/self/1.0.0', async stream => { await stream.close() })
    expect(await has()).toBe(true)
    await n.unhandle('/merges/self/1.0.0')
    expect(await has()).toBe(false)
    await n.handle('/merges/self/1.0.0', async stream => { await stream.close() })
    expect(await has()).toBe(true)
  })

  it('forgets peers it has not seen for a while: a long-running node\'s DHT does not grow it without bound', { timeout: 20_000 }, async () => {
    const n = await node('bounded')
    const merge = async (): Promise<void> => {
      const id = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
      await n.peerStore.merge(id, { protocols: ['/merges/dht/1.0.0'] })
    }
    for (let i = 0; i < 30; i++) await merge()
    expect(protocolMergePeers(n)).toBeGreaterThanOrEqual(30)
    // Real time (5 s): libp2p's own timers run on the same clock.
    await new Promise(resolve => setTimeout(resolve, 5_100))
    await merge()
    // The 30 are gone: what is left was seen since (the one merged, this node's own record if it changed).
    expect(protocolMergePeers(n)).toBeLessThanOrEqual(2)
  })
})
