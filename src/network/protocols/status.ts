import type { PeerId } from '@libp2p/interface'
import { INBOUND_STREAMS, LIMITS, protocolId, TIMEOUTS } from '../constants.js'
import type { PetalLibp2p } from '../libp2p.js'
import { jsonRequest } from '../rpc.js'
import type { BlockSource } from '../source.js'
import { parseStatus, type StatusMessage } from '../wire.js'
import { jsonHandler, type ServeContext } from './serve.js'

/** `status`: request `{}`, reply `{genesis, tip, signer}` (docs/protocol.md). */
export async function registerStatus (node: PetalLibp2p, source: BlockSource, ctx: ServeContext): Promise<void> {
  await node.handle(protocolId(source.chainId, 'status'),
    jsonHandler('status', LIMITS.statusRequest, ctx, () => ({ genesis: source.chainId, tip: source.tip(), ...(source.signer === undefined ? {} : { signer: source.signer(node.peerId.toString()) }) })),
    { maxInboundStreams: INBOUND_STREAMS.status })
}

export async function requestStatus (node: PetalLibp2p, peer: PeerId, chainId: string, signal?: AbortSignal): Promise<StatusMessage> {
  return await jsonRequest(node, peer, protocolId(chainId, 'status'), {}, { what: 'status', limit: LIMITS.statusResponse, timeoutMs: TIMEOUTS.status, parse: parseStatus, signal })
}
