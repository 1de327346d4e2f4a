import type { PeerId } from '@libp2p/interface'
import { INBOUND_STREAMS, LIMITS, protocolId, TIMEOUTS } from '../constants.js'
import type { PetalLibp2p } from '../libp2p.js'
import { deadline, exchange, finish, openStream, toNetworkError } from '../rpc.js'
import type { BlockSource } from '../source.js'
import { decodeJson, encodeJson, parseHeadersReply, parseHeadersRequest, type WireHeader } from '../wire.js'
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
  const d = deadline(TIMEOUTS.headers, signal)
  let stream
  try {
    stream = await openStream(node, peer, protocolId(chainId, 'headers'), d, signal)
    const reply = await exchange(stream, encodeJson(req), LIMITS.headersResponse, d.signal)
    finish(stream)
    return parseHeadersReply(decodeJson(reply, LIMITS.headersResponse, 'headers reply'), req)
  } catch (err) {
    const e = toNetworkError(err, 'headers request', peer.toString(), d.timedOut(), signal)
    finish(stream, e)
    throw e
  }
}
