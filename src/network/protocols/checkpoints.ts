import type { PeerId } from '@libp2p/interface'
import { INBOUND_STREAMS, LIMITS, protocolId, TIMEOUTS } from '../constants.js'
import type { PetalLibp2p } from '../libp2p.js'
import { jsonRequest } from '../rpc.js'
import type { BlockSource } from '../source.js'
import { parseCheckpointsReply, parseCheckpointsRequest, type CheckpointsReply } from '../wire.js'
import { jsonHandler, type ServeContext } from './serve.js'

/**
 * `checkpoints`: request `{maxSize}`, reply `{notes: [...]}`: the signed checkpoints the peer keeps
 * of its current chain, no larger than `maxSize` (docs/protocol.md). So a node that joined after
 * the last gossip (a one-off `petal pull`, a follower that connects) gets them at once.
 */
export async function registerCheckpoints (node: PetalLibp2p, source: BlockSource, ctx: ServeContext): Promise<void> {
  await node.handle(protocolId(source.chainId, 'checkpoints'),
    jsonHandler('checkpoints', LIMITS.checkpointsRequest, ctx, async req => {
      const { maxSize } = parseCheckpointsRequest(req)
      const a = (await source.checkpoints?.(maxSize)) ?? []
      const { notes, unsigned, unsignedCode } = Array.isArray(a) ? { notes: a, unsigned: undefined, unsignedCode: undefined } : a
      // `unsigned`: why a size asked for was not signed (since session 56; older askers ignore it),
      // and since session 57 `unsignedCode`, by which an asker's pull says what to do.
      return { notes: notes.slice(0, LIMITS.maxCheckpointNotes), ...(unsigned === undefined ? {} : { unsigned: unsigned.slice(0, 200) }), ...(unsignedCode === undefined ? {} : { unsignedCode }) }
    }),
    { maxInboundStreams: INBOUND_STREAMS.checkpoints })
}

export async function requestCheckpoints (node: PetalLibp2p, peer: PeerId, chainId: string, maxSize: number, signal?: AbortSignal): Promise<CheckpointsReply> {
  return await jsonRequest(node, peer, protocolId(chainId, 'checkpoints'), { maxSize }, { what: 'checkpoints', limit: LIMITS.checkpointsResponse, timeoutMs: TIMEOUTS.status, parse: parseCheckpointsReply, signal })
}
