import type { PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Libp2p } from 'libp2p'
import { CHAINPARAMS_PROTOCOL, INBOUND_STREAMS, LIMITS, TIMEOUTS } from '../constants.js'
import { jsonRequest } from '../rpc.js'
import type { BlockSource } from '../source.js'
import { parseChainParamsReply } from '../wire.js'
import { jsonHandler, type ServeContext } from './serve.js'

/** `/petal/chainparams/1.0.0`: request `{}`, reply `{chainparams: "<chainparams.json text>"}`. */
export async function registerChainParams (node: Libp2p, source: BlockSource, ctx: ServeContext): Promise<void> {
  await node.handle(CHAINPARAMS_PROTOCOL,
    jsonHandler('chainparams', LIMITS.chainparamsRequest, ctx, () => ({ chainparams: source.chainParamsJson() })),
    { maxInboundStreams: INBOUND_STREAMS.chainparams })
}

/** Ask a peer (by id or full multiaddr) which chain it serves; returns chainparams.json text. */
export async function requestChainParams (node: Libp2p, peer: PeerId | Multiaddr, signal?: AbortSignal): Promise<string> {
  return await jsonRequest(node, peer, CHAINPARAMS_PROTOCOL, {}, { what: 'chainparams', limit: LIMITS.chainparamsResponse, timeoutMs: TIMEOUTS.dial + TIMEOUTS.status, parse: parseChainParamsReply, signal })
}
