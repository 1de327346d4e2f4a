import type { PeerId } from '@libp2p/interface'
import { INBOUND_STREAMS, LIMITS, protocolId, TIMEOUTS } from '../constants.js'
import type { PetalLibp2p } from '../libp2p.js'
import { jsonRequest } from '../rpc.js'
import type { BlockSource } from '../source.js'
import { parseHeadersReply, parseHeadersRequest, type WireHeader } from '../wire.js'
import { jsonHandler, type ServeContext } from './serve.js'

/** `headers`: request `{from, count}` (count ≤ 512), reply `{headers: [...]}` of the canonical chain. */
export async function registerHeaders (node: PetalLibp2p, source: BlockSource, ctx: ServeContext): Promise<void> {
  await node.handle(protocolId(source.chainId, 'headers'),
    jsonHandler('headers', LIMITS.headersRequest, ctx, req => {
      const { from, count } = parseHeadersRequest(req)
      return { headers: source.headers(from, count) }
    }),
    { maxInboundStreams: INBOUND_STREAMS.headers })
}

export async function requestHeaders (node: PetalLibp2p, peer: PeerId, chainId: string, from: number, count: number, signal?: AbortSignal): Promise<WireHeader[]> {
  const req = { from, count: Math.min(count, LIMITS.maxHeaders) }
  return await jsonRequest(node, peer, protocolId(chainId, 'headers'), req, { what: 'headers', limit: LIMITS.headersResponse, timeoutMs: TIMEOUTS.headers, parse: r => parseHeadersReply(r, req), signal })
}
