import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { ChainError } from '../chain/index.js'
import { parseChainParams, type ChainParams } from '../storage/index.js'
import { NetworkError } from './errors.js'
import { createPetalLibp2p } from './libp2p.js'
import { parseDialAddress, parseMultiaddr } from './addresses.js'
import { fetchBlock, type FetchedBlock } from './protocols/block.js'
import { requestChainParams } from './protocols/chainparams.js'
import { errorMessage } from '../util/index.js'

export interface FetchedChain { params: ChainParams, peer: string }

/**
 * First contact of `petal pull`: ask the peer at `addr` which chain it serves and, given
 * `genesisDest`, download that chain's genesis block there, with a short-lived outbound-only
 * libp2p node. The caller checks the genesis against the parameters (installGenesis) before
 * trusting either. `expectedGenesis` is checked before a single byte of the block is downloaded;
 * a resumed pull passes its own chain's genesis, so a peer down or of another chain fails at once.
 */
export async function fetchChainFromPeer (addr: string, o: { privateKey: PrivateKey, signal?: AbortSignal, version?: string, expectedGenesis?: string, genesisDest?: string }): Promise<FetchedChain> {
  const { ma, peer } = parseDialAddress(addr)
  const node = await createPetalLibp2p({
    privateKey: o.privateKey, chainId: 'pull', listen: [], announce: [],
    maxConnections: 4, inboundPerSecond: 1, gater: {}, version: o.version ?? '0.1.0'
  })
  try {
    const text = await requestChainParams(node, ma, o.signal)
    let params: ChainParams
    try {
      params = parseChainParams(text)
    } catch (err) {
      throw new NetworkError('MALFORMED', `peer sent unusable chain parameters: ${errorMessage(err)}`, { hint: 'that peer does not serve a chain this Petal can read: pull from another node of the chain', details: { peer } })
    }
    if (o.expectedGenesis !== undefined && params.genesisHash !== o.expectedGenesis) {
      throw new ChainError('GENESIS_MISMATCH', `the peer serves chain ${params.genesisHash}, not ${o.expectedGenesis}`, { hint: 'check the address, or the --genesis hash' })
    }
    if (o.genesisDest !== undefined) await fetchBlock(node, peerIdFromString(peer), params.genesisHash, params.genesisHash, o.genesisDest, { maxBytes: params.maxBlockBytes, signal: o.signal })
    return { params, peer }
  } finally {
    await node.stop()
  }
}

/** Fetches single blocks by hash from named peers over a short-lived, outbound-only libp2p node. */
export interface BlockFetcher {
  fetch: (peer: string, hash: string, dest: string, o: { maxBytes: number, signal?: AbortSignal }) => Promise<FetchedBlock>
  stop: () => Promise<void>
}

/**
 * A fetcher for `petal verify --repair`: it knows the given peers' addresses (ids with full
 * multiaddrs, from `--peer`, peers.json or the bootstrap list), dials on demand and fetches with
 * the block protocol, which checks every byte against the requested hash.
 */
export async function openBlockFetcher (o: { privateKey: PrivateKey, chainId: string, peers: ReadonlyArray<{ id: string, addrs: readonly string[] }>, version?: string }): Promise<BlockFetcher> {
  const node = await createPetalLibp2p({
    privateKey: o.privateKey, chainId: o.chainId, listen: [], announce: [],
    maxConnections: 16, inboundPerSecond: 1, gater: {}, version: o.version ?? '0.1.0'
  })
  try {
    for (const p of o.peers) await node.peerStore.merge(peerIdFromString(p.id), { multiaddrs: p.addrs.map(a => parseMultiaddr(a)) })
  } catch (err) {
    await node.stop()
    throw err
  }
  return {
    fetch: async (peer, hash, dest, f) => await fetchBlock(node, peerIdFromString(peer), o.chainId, hash, dest, f),
    stop: async () => { await node.stop() }
  }
}
