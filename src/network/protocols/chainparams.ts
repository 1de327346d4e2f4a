import type { PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Libp2p } from 'libp2p'
import { CHAINPARAMS_PROTOCOL, INBOUND_STREAMS, LIMITS, TIMEOUTS } from '../constants.js'
import { deadline, exchange, finish, openStream, toNetworkError } from '../rpc.js'
import type { BlockSource } from '../source.js'
import { decodeJson, encodeJson, parseChainParamsReply } from '../wire.js'
import { jsonHandler, type ServeContext } from './serve.js'

/** `/petal/chainparams/1.0.0`: request `{}`, reply `{chainparams: "<chainparams.json text>"}`. */
export async function registerChainParams (node: Libp2p, source: BlockSource, ctx: ServeContext): Promise<void> {
  await node.handle(CHAINPARAMS_PROTOCOL,
    jsonHandler('chainparams', LIMITS.chainparamsRequest, ctx, () => ({ chainparams: source.chainParamsJson() })),
    { maxInboundStreams: INBOUND_STREAMS.chainparams })
}

/** Ask a peer (by id or full multiaddr) which chain it serves; returns chainparams.json text. */
export async function requestChainParams (node: Libp2p, peer: PeerId | Multiaddr, signal?: AbortSignal): Promise<string> {
  const d = deadline(TIMEOUTS.dial + TIMEOUTS.status, signal)
  let stream
  try {
    stream = await openStream(node, peer, CHAINPARAMS_PROTOCOL, d, signal)
    const reply = await exchange(stream, encodeJson({}), LIMITS.chainparamsResponse, d.signal)
    finish(stream)
    return parseChainParamsReply(decodeJson(reply, LIMITS.chainparamsResponse, 'chainparams reply'))
  } catch (err) {
    const e = toNetworkError(err, 'chainparams request', peer.toString(), d.timedOut(), signal)
    finish(stream, e)
    throw e
  }
}
