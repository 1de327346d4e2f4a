import { close as closeFd, read as readFd } from 'node:fs'
import { promisify } from 'node:util'
import { lpStream } from '@libp2p/utils'
import type { Connection, PeerId, Stream } from '@libp2p/interface'
import { BLOCK_RATE_FLOOR, blockTransferBudgetMs, INBOUND_STREAMS, LIMITS, MAX_CONCURRENT_UPLOADS, MAX_UPLOADS_PER_PEER, protocolId, STREAM_READ_BUFFER, TIMEOUTS, UPLOAD_CHUNK } from '../constants.js'
import { NetworkError } from '../errors.js'
import type { PetalLibp2p } from '../libp2p.js'
import { linkSignals } from '../../util/index.js'
import { deadline, finish, openStream, toNetworkError } from '../rpc.js'
import type { BlockSource, OpenBlock } from '../source.js'
import { decodeJson, encodeJson, parseBlockMeta, parseBlockRequest } from '../wire.js'
import { receiveToFile, type RateFloor } from './receive-file.js'
import { onServeError, type ServeContext } from './serve.js'

const read = promisify(readFd)

/** How long a request for a block this node is fetching right now may wait for it (relaying). */
const AWAIT_BLOCK_MS = 3_000

/**
 * `block`: request `{hash}`, reply one frame `{ok:true, size, seal}` (or `{ok:false, error}`)
 * followed by exactly `size` raw bytes of the file, streamed with backpressure.
 */
export async function registerBlock (node: PetalLibp2p, source: BlockSource, ctx: ServeContext): Promise<void> {
  let uploads = 0
  const perPeer = new Map<string, number>()
  await node.handle(protocolId(source.chainId, 'block'), async (stream: Stream, connection: Connection) => {
    const peer = connection.remotePeer.toString()
    let file: OpenBlock | undefined
    let counted = false
    try {
      const lp = lpStream(stream, { maxDataLength: LIMITS.blockRequest })
      const req = parseBlockRequest(decodeJson((await lp.read({ signal: AbortSignal.timeout(TIMEOUTS.serverRequest) })).subarray(), LIMITS.blockRequest, 'block request'))
      const reply = async (v: unknown): Promise<void> => { await lp.write(encodeJson(v), { signal: AbortSignal.timeout(TIMEOUTS.serverStall) }) }
      if (uploads >= MAX_CONCURRENT_UPLOADS || (perPeer.get(peer) ?? 0) >= MAX_UPLOADS_PER_PEER) { await reply({ ok: false, error: 'BUSY' }); finish(stream); return }
      counted = true
      uploads++
      perPeer.set(peer, (perPeer.get(peer) ?? 0) + 1)
      file = source.openBlock(req.hash)
      if (file === undefined && source.awaitBlock !== undefined) {
        if (await source.awaitBlock(req.hash, AWAIT_BLOCK_MS, AbortSignal.timeout(AWAIT_BLOCK_MS + 1000))) file = source.openBlock(req.hash)
      }
      if (file === undefined) { await reply({ ok: false, error: 'NOT_FOUND' }); finish(stream); return }
      await reply({ ok: true, size: file.size, seal: file.seal })
      // The whole upload has the same deadline as the client's download: a reader that takes a
      // little every now and then cannot hold the slot for ever.
      await sendFile(lp.unwrap(), file, AbortSignal.timeout(blockTransferBudgetMs(file.size)))
      finish(stream)
    } catch (err) {
      onServeError(ctx, 'block request', peer, err, stream)
    } finally {
      if (counted) {
        uploads--
        const n = (perPeer.get(peer) ?? 1) - 1
        if (n <= 0) perPeer.delete(peer)
        else perPeer.set(peer, n)
      }
      if (file !== undefined) closeFd(file.fd, () => {})
    }
  }, { maxInboundStreams: INBOUND_STREAMS.block })
}

async function sendFile (raw: Stream, file: OpenBlock, limit: AbortSignal): Promise<void> {
  let off = 0
  while (off < file.size) {
    if (limit.aborted) throw new NetworkError('TIMEOUT', 'upload took longer than a block transfer may')
    const buf = Buffer.allocUnsafe(Math.min(UPLOAD_CHUNK, file.size - off))
    const { bytesRead } = await read(file.fd, buf, 0, buf.byteLength, off)
    if (bytesRead === 0) throw new Error('block file shrank while being sent')
    off += bytesRead
    if (!raw.send(buf.subarray(0, bytesRead))) {
      const stall = linkSignals([limit], TIMEOUTS.serverStall)
      try {
        await raw.onDrain({ signal: stall.signal })
      } finally {
        stall.dispose()
      }
    }
  }
}

export interface FetchedBlock { seal: string, size: number }

/**
 * Fetch one block by hash into `dest` (a new file): the bytes are hashed as they arrive and the
 * transfer fails with TRANSFER_HASH_MISMATCH, OVERSIZED or MALFORMED if the peer sends anything else, and
 * with TIMEOUT or TOO_SLOW if it sends too slowly (`minRate`, default BLOCK_RATE_FLOOR).
 */
export async function fetchBlock (node: PetalLibp2p, peer: PeerId, chainId: string, hash: string, dest: string,
  o: { maxBytes: number, signal?: AbortSignal, idleMs?: number, minRate?: RateFloor, onBytes?: (n: number) => void }): Promise<FetchedBlock> {
  const d = deadline(TIMEOUTS.blockMeta, o.signal)
  let total: ReturnType<typeof deadline> | undefined
  let stream: Stream | undefined
  try {
    stream = await openStream(node, peer, protocolId(chainId, 'block'), d, o.signal)
    // The raw block bytes follow the reply frame at once: the buffer must hold what arrives
    // before the reader switches to raw mode (at most one flow-control window).
    const lp = lpStream(stream, { maxDataLength: LIMITS.blockResponseMeta, maxBufferSize: STREAM_READ_BUFFER })
    await lp.write(encodeJson({ hash }), { signal: d.signal })
    const meta = parseBlockMeta(decodeJson((await lp.read({ signal: d.signal })).subarray(), LIMITS.blockResponseMeta, 'block reply'))
    if (!meta.ok) throw new NetworkError(meta.error === 'BUSY' ? 'BUSY' : 'PEER_LACKS_BLOCK', meta.error === 'BUSY' ? 'peer is busy' : 'peer does not have the block', { details: { peer: peer.toString(), hash } })
    if (meta.size > o.maxBytes) throw new NetworkError('OVERSIZED', `block of ${meta.size} bytes exceeds the chain's max_block_bytes`, { details: { peer: peer.toString(), hash } })
    // The reply frame arrived: from here the whole transfer has its own, size-based deadline.
    d.dispose()
    const t = total = deadline(blockTransferBudgetMs(meta.size), o.signal)
    try {
      await receiveToFile(lp.unwrap(), dest, { size: meta.size, hash, signal: t.signal, idleMs: o.idleMs ?? TIMEOUTS.blockIdle, minRate: o.minRate ?? BLOCK_RATE_FLOOR, onBytes: o.onBytes })
    } catch (err) {
      throw toNetworkError(err, 'block transfer', peer.toString(), t.timedOut(), o.signal)
    }
    finish(stream)
    return { seal: meta.seal, size: meta.size }
  } catch (err) {
    const e = toNetworkError(err, 'block request', peer.toString(), d.timedOut(), o.signal)
    finish(stream, e)
    throw e
  } finally {
    d.dispose()
    total?.dispose()
  }
}
