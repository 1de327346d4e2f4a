import { join } from 'node:path'
import { lpStream } from '@libp2p/utils'
import type { Connection, Stream } from '@libp2p/interface'
import { Chain } from '../../src/chain/index.js'
import { chainSource, decodeJson, encodeJson, loadOrCreateNodeKey, Network, protocolId, type BlockSource } from '../../src/network/index.js'
import { testLogger } from './network.js'
import { tmpDir } from './tmp.js'

export interface EvilPeer { network: Network, chain: Chain, stop: () => Promise<void> }

/**
 * A misbehaving peer: a real libp2p node of the chain (fresh identity) that serves what
 * `hostile(source)` returns instead of its chain, and accepts anything it is told.
 */
export async function startEvilPeer (dir: string, bootstrap: string[], hostile: (honest: BlockSource) => BlockSource = s => s): Promise<EvilPeer> {
  const chain = Chain.open(dir)
  const network = await Network.create({
    privateKey: await loadOrCreateNodeKey(join(tmpDir(), 'evil.key')),
    source: hostile(chainSource(chain)),
    logger: testLogger('evil'),
    events: { onPeerConnected: () => {}, onPeerDisconnected: () => {}, validateAnnouncement: () => 'accept', onAnnouncement: () => {} }
  }, { listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap, discovery: false, redialTickMs: 100, redial: { baseMs: 100, maxMs: 500, maxRemembered: 8, parallel: 4 } })
  await network.start()
  return { network, chain, stop: async () => { await network.stop(); chain.close() } }
}

export interface Trickle {
  /** Hashes of the blocks the peer was asked for, in order. */
  requested: string[]
  /** The peers that asked, in the same order. */
  requesters: string[]
}

/**
 * Make the evil peer answer every block request (single or range) as if it had the block — the reply frame says
 * `size` bytes (default: the requested block's real size, or `fake.size` for a block it only
 * claims) — then send one byte every `everyMs`, for ever: never idle, never done.
 */
export async function trickleBlocks (e: EvilPeer, o: { everyMs: number, fake?: { hash: string, size: number, seal: string } }): Promise<Trickle> {
  const t: Trickle = { requested: [], requesters: [] }
  // Single requests and range requests alike: a range is answered with its first block, trickled.
  for (const name of ['block', 'blocks'] as const) {
    const protocol = protocolId(e.chain.chainId, name)
    await e.network.libp2p.unhandle(protocol)
    await e.network.libp2p.handle(protocol, async (stream: Stream, connection: Connection) => {
      const lp = lpStream(stream)
      const req = decodeJson((await lp.read()).subarray(), 4096, 'block request')
      const hash = String(name === 'block' ? req.hash : (Array.isArray(req.hashes) ? req.hashes[0] : undefined))
      t.requested.push(hash)
      t.requesters.push(connection.remotePeer.toString())
      const real = e.chain.index.byHash(hash)
      const meta = real !== undefined ? { size: real.size, seal: real.seal } : hash === o.fake?.hash ? o.fake : undefined
      if (meta === undefined) { await lp.write(encodeJson({ ok: false, error: 'NOT_FOUND' })); await stream.close(); return }
      await lp.write(encodeJson({ ok: true, size: meta.size, seal: meta.seal }))
      const raw = lp.unwrap()
      await new Promise<void>(resolve => {
        const timer = setInterval(() => {
          if (raw.status !== 'open' || raw.writeStatus !== 'writable') { clearInterval(timer); resolve(); return }
          try { raw.send(new Uint8Array([0])) } catch { clearInterval(timer); resolve() }
        }, o.everyMs)
      })
    }, { maxInboundStreams: 64 })
  }
  return t
}
