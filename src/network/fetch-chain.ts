import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { parseChainParams, type ChainParams } from '../storage/index.js'
import { NetworkError } from './errors.js'
import { createPetalLibp2p } from './libp2p.js'
import { parseMultiaddr } from './network.js'
import { fetchBlock } from './protocols/block.js'
import { requestChainParams } from './protocols/chainparams.js'

export interface FetchedChain { params: ChainParams, peer: string, genesisSeal: string }

/**
 * First contact of `petal pull`: ask the peer at `addr` which chain it serves and download that
 * chain's genesis block into `genesisDest`, with a short-lived outbound-only libp2p node. The
 * caller checks the genesis against the parameters (installGenesis) before trusting either.
 */
export async function fetchChainFromPeer (addr: string, genesisDest: string, o: { privateKey: PrivateKey, signal?: AbortSignal, version?: string }): Promise<FetchedChain> {
  const ma = parseMultiaddr(addr, true)
  const peer = ma.getComponents().findLast(c => c.name === 'p2p')?.value as string
  const node = await createPetalLibp2p({
    privateKey: o.privateKey, chainId: 'pull', listen: [], announce: [], bootstrap: [], bootstrapDelayMs: 10,
    maxConnections: 4, inboundPerSecond: 1, gater: {}, version: o.version ?? '0.1.0'
  })
  try {
    const text = await requestChainParams(node, ma, o.signal)
    let params: ChainParams
    try {
      params = parseChainParams(text)
    } catch (err) {
      throw new NetworkError('MALFORMED', `peer sent unusable chain parameters: ${(err as Error).message}`, { details: { peer } })
    }
    const g = await fetchBlock(node, peerIdFromString(peer), params.genesisHash, params.genesisHash, genesisDest, { maxBytes: params.maxBlockBytes, signal: o.signal })
    return { params, peer, genesisSeal: g.seal }
  } finally {
    await node.stop()
  }
}
