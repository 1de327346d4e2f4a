import { join } from 'node:path'
import { Chain } from '../../src/chain/index.js'
import { chainSource, loadOrCreateNodeKey, Network, type BlockSource } from '../../src/network/index.js'
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
