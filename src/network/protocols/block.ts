import { close as closeFd, closeSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { byteStream, lpStream, type ByteStream } from '@libp2p/utils'
import type { Connection, PeerId, Stream } from '@libp2p/interface'
import { BLOCK_RATE_FLOOR, blockTransferBudgetMs, INBOUND_STREAMS, LIMITS, MAX_CONCURRENT_UPLOADS, MAX_UPLOADS_PER_PEER, protocolId, STREAM_READ_BUFFER, STREAM_WINDOW, TIMEOUTS, UPLOAD_CHUNK } from '../constants.js'
import { NetworkError } from '../errors.js'
import { systemFailure } from '../../storage/index.js'
import type { PetalLibp2p } from '../libp2p.js'
import { Watchdog } from '../../util/index.js'
import { deadline, finish, openStream, toNetworkError } from '../rpc.js'
import type { BlockSource, OpenBlock } from '../source.js'
import { decodeJson, encodeJson, parseBlockMeta, parseBlockRequest, parseBlocksRequest } from '../wire.js'
import { nextRead } from './range-reads.js'
import { rangeWrites, writeSmallBlock, type RangeWrites } from './range-writes.js'
import { receiveToFile, type RateFloor } from './receive-file.js'
import { SendBatch, sendFile } from './send-file.js'
import { onServeError, type ServeContext } from './serve.js'
import { uploadHeap } from '../upload-heap.js'
import { uploadLinks } from './upload-links.js'

// Blocks up to this size (and the rate floor's quota) arrive in one read and are written synchronously (receiveRangeBlock).
const SMALL_BLOCK = 128 * 1024
// A block file's SQLite header and page 1 at the usual page size (FetchedBlock's `head`): the
// checks take the header from it, and reuse the schema's reads for a page 1 seen before. A small
// block up to WHOLE_HEAD_BYTES is its own head, whole: its checks read it there, not in its file.
const HEAD_BYTES = 4096
const WHOLE_HEAD_BYTES = 16 * 1024

/** How long a request for a block this node is fetching right now may wait for it (relaying). */
const AWAIT_BLOCK_MS = 3_000

/** Uploads in progress, shared by `block` and `blocks` (a range takes one slot for all its blocks). */
class Uploads {
  private all = 0
  private readonly perPeer = new Map<string, number>()

  /** Take a slot for `peer`, or false when the node or that peer is at its limit. */
  take (peer: string): boolean {
    if (this.all >= MAX_CONCURRENT_UPLOADS || (this.perPeer.get(peer) ?? 0) >= MAX_UPLOADS_PER_PEER) return false
    this.all++
    this.perPeer.set(peer, (this.perPeer.get(peer) ?? 0) + 1)
    uploadHeap.enter() // V8's old generation may grow while blocks are served (upload-heap.ts)
    return true
  }

  release (peer: string): void {
    uploadHeap.leave()
    this.all--
    const n = (this.perPeer.get(peer) ?? 1) - 1
    if (n <= 0) this.perPeer.delete(peer)
    else this.perPeer.set(peer, n)
  }
}

/**
 * `block`: request `{hash}`, reply one frame `{ok:true, size, seal}` (or `{ok:false, error}`)
 * followed by exactly `size` raw bytes of the file, streamed with backpressure.
 * `blocks`: request `{hashes:[…]}` (1…LIMITS.maxRangeBlocks), reply the same frame and bytes for
 * each block in order; a block the node lacks ends the reply with `{ok:false, error:"NOT_FOUND"}`.
 * `o.slowSyncReadMs`: SendBatch's threshold for switching a range to thread-pool reads.
 */
export async function registerBlock (node: PetalLibp2p, source: BlockSource, ctx: ServeContext, o: { slowSyncReadMs?: number } = {}): Promise<void> {
  const uploads = new Uploads()
  await node.handle(protocolId(source.chainId, 'block'), async (stream: Stream, connection: Connection) => {
    const peer = connection.remotePeer.toString()
    let file: OpenBlock | undefined
    let counted = false
    try {
      const lp = lpStream(stream, { maxDataLength: LIMITS.blockRequest })
      const req = parseBlockRequest(decodeJson((await lp.read({ signal: AbortSignal.timeout(TIMEOUTS.serverRequest) })).subarray(), LIMITS.blockRequest, 'block request'))
      const reply = async (v: unknown): Promise<void> => { await lp.write(encodeJson(v), { signal: AbortSignal.timeout(TIMEOUTS.serverStall) }) }
      if (!uploads.take(peer)) { await reply({ ok: false, error: 'BUSY' }); finish(stream); return }
      counted = true
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
      if (counted) uploads.release(peer)
      if (file !== undefined) closeFd(file.fd, () => {})
    }
  }, { maxInboundStreams: INBOUND_STREAMS.block })

  await node.handle(protocolId(source.chainId, 'blocks'), async (stream: Stream, connection: Connection) => {
    const peer = connection.remotePeer.toString()
    let file: OpenBlock | undefined
    let counted = false
    // One timer for the request and the whole reply (a timer per block, per frame or per request
    // cost more than a small block's bytes: AbortSignal.timeout's fires, with a DOMException, later).
    const limit = new Watchdog()
    try {
      const lp = lpStream(stream, { maxDataLength: LIMITS.blocksRequest })
      limit.arm(TIMEOUTS.serverRequest, 'request')
      const req = parseBlocksRequest(decodeJson((await lp.read({ signal: limit.signal })).subarray(), LIMITS.blocksRequest, 'blocks request'))
      const reply = async (v: unknown): Promise<void> => { await lp.write(encodeJson(v), { signal: AbortSignal.timeout(TIMEOUTS.serverStall) }) }
      if (!uploads.take(peer)) { await reply({ ok: false, error: 'BUSY' }); finish(stream); return }
      counted = true
      // Small blocks with their reply frames gathered into messages of up to UPLOAD_CHUNK (one yamux
      // frame and one window update each, where every reply frame and block was one); large blocks
      // in 1 MiB messages on a link that delivered the last range fast (upload-links.ts).
      const batch = new SendBatch(stream, limit.signal, { ...o, chunk: uploadLinks.chunk(connection) })
      const start = performance.now()
      let bytes = 0
      try {
        for (const hash of req.hashes) {
          // No waiting for blocks being fetched here (ranges serve catching up, not relaying).
          file = source.openBlock(hash)
          if (file === undefined) { await batch.flush(); await reply({ ok: false, error: 'NOT_FOUND' }); break }
          bytes += file.size
          limit.arm(blockTransferBudgetMs(file.size), 'upload')
          const head = frame(encodeJson({ ok: true, size: file.size, seal: file.seal }))
          // A large block continues the message its range's previous blocks left (addFile).
          if (head.byteLength + file.size <= UPLOAD_CHUNK) await batch.add(head, file)
          else await batch.addFile(head, file, limit.signal)
          const done = file
          file = undefined
          // Closing a file opened for reading does no I/O: synchronously, not a thread-pool round trip per block.
          closeSync(done.fd)
        }
        await batch.flush()
      } finally {
        batch.dispose()
        if (batch.pooled) ctx.logger.debug('a synchronous block read was slow: the rest of the range was read through the thread pool', { peer, ms: batch.slowReadMs })
      }
      finish(stream)
      uploadLinks.measure(connection, stream, start, bytes)
    } catch (err) {
      uploadLinks.failed(connection)
      onServeError(ctx, 'blocks request', peer, err, stream)
    } finally {
      limit.dispose()
      if (counted) uploads.release(peer)
      if (file !== undefined) closeFd(file.fd, () => {})
    }
  }, { maxInboundStreams: INBOUND_STREAMS.blocks })
}

export interface FetchedBlock {
  seal: string
  size: number
  /**
   * The file's first HEAD_BYTES bytes (all of it up to WHOLE_HEAD_BYTES), for a block of a range (the
   * receive wrote these very bytes to its new file, a small block in one write): its checks take the
   * SQLite header (and page 1) from here, and a whole block's bytes (checkLoad), not its file's again.
   */
  head?: Uint8Array
}

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

/** One block of a `blocks` request: its hash, the file its bytes go to (new, or `made`: empty, created ahead for it); `hashLater`: not hashed by the receive, the caller checks the file's hash before anything uses it (sync: the block's checks). */
export interface RangeItem { hash: string, dest: string, made?: boolean, hashLater?: boolean }

/** Read one length-prefixed frame of at most `limit` bytes from a byte stream. */
async function readFrame (bs: ByteStream<Stream>, limit: number, signal: AbortSignal): Promise<Uint8Array> {
  let len = 0
  for (let i = 0; ; i++) {
    // 4 KiB needs 2 varint bytes; a third is already too long.
    if (i >= 3) throw new NetworkError('OVERSIZED', 'reply frame length too long')
    const b = (await bs.read({ bytes: 1, signal })).get(0)
    len += (b & 0x7f) * 2 ** (7 * i)
    if ((b & 0x80) === 0) break
  }
  if (len > limit) throw new NetworkError('OVERSIZED', `reply frame of ${len} bytes (limit ${limit})`)
  return (await bs.read({ bytes: len, signal })).subarray()
}

function frame (data: Uint8Array): Uint8Array {
  const prefix: number[] = []
  let n = data.byteLength
  while (n >= 0x80) { prefix.push((n & 0x7f) | 0x80); n = Math.floor(n / 0x80) }
  prefix.push(n)
  return Buffer.concat([Uint8Array.from(prefix), data])
}

/**
 * Receive `size` bytes of one block of a range into a new file, hashing them (with `hash`). The rate floor is
 * enforced per window: each read asks for one window's worth of bytes (`bytesPerSecond ×
 * windowMs`; more only of what is already buffered: range-reads.ts) and must complete within the
 * window (two for the first: the grace period), and the whole block within `budgetMs`; both are
 * deadlines of the range's one watchdog. Time spent on this node's own disk (writes waiting for the
 * pool, a slow close) is not the peer's: no deadline runs then, and the block's budget moves by it.
 * The disk's failures are coded where they happen (StorageError: DISK_FULL…), so that no one
 * blames the peer for them.
 */
export async function receiveRangeBlock (bs: ByteStream<Stream>, dest: string, o: { size: number, hash?: string, made?: boolean, watchdog: Watchdog, budgetMs: number, minRate: RateFloor, writes: RangeWrites, onBytes?: (n: number) => void }): Promise<Uint8Array> {
  const w = o.watchdog
  let budgetDue = performance.now() + o.budgetMs
  const local = async <T>(op: () => T | Promise<T>): Promise<T> => {
    const start = performance.now()
    w.armAt(Infinity, 'local disk')
    try {
      return await op()
    } catch (err) {
      throw systemFailure(err) ?? err
    } finally {
      budgetDue += performance.now() - start
    }
  }
  const quota = Math.max(1, Math.floor(o.minRate.bytesPerSecond * o.minRate.windowMs / 1000))
  const hasher = o.hash === undefined ? undefined : createHash('sha256') // none: the caller checks the file's (RangeItem's `hashLater`)
  const take = async (want: number, received: number): Promise<Uint8Array[]> => {
    const windowDue = performance.now() + o.minRate.windowMs * (received === 0 ? 2 : 1)
    if (windowDue < budgetDue) w.armAt(windowDue, 'rate floor')
    else w.armAt(budgetDue, 'transfer')
    let chunk
    try {
      chunk = await bs.read({ bytes: want, signal: w.signal })
    } catch (err) {
      if (w.firedBy() === 'rate floor') throw new NetworkError('TOO_SLOW', `block transfer slower than ${o.minRate.bytesPerSecond} bytes/s (fewer than ${want} bytes in ${o.minRate.windowMs} ms)`, { details: { received, size: o.size } })
      throw err
    }
    const parts = [...chunk]
    if (hasher !== undefined) for (const part of parts) hasher.update(part)
    return parts
  }
  const check = (): void => {
    if (hasher !== undefined && hasher.digest('hex') !== o.hash) throw new NetworkError('TRANSFER_HASH_MISMATCH', 'block bytes do not match the requested hash', { details: { hash: o.hash ?? '' } })
  }
  if (o.size <= Math.min(quota, SMALL_BLOCK)) {
    // A small block comes in one read and goes to disk in one synchronous open, write and close
    // (into the page cache): three asynchronous file operations cost the main thread more than the
    // bytes. Nothing is fsynced here (placement does that). Handing the bytes to the load thread to
    // create the file there was measured slower in all (docs/performance/catchup.md, "Session 10").
    // One native call where the addon is loaded (a catch-up's main thread: it checks seals and
    // decrypts noise there); anything it declines goes the node:fs way (session 31).
    const parts = await take(o.size, 0)
    o.onBytes?.(o.size)
    check()
    await local(() => { writeSmallBlock(dest, parts, o.size, o.made) })
    return headOf(parts, o.size, o.size <= WHOLE_HEAD_BYTES ? o.size : HEAD_BYTES)
  }
  // Its first bytes too (filled from the first reads): the load thread then takes the SQLite
  // header and page 1 from them instead of opening and reading the file for them, and skips the
  // schema's statements for a page 1 seen before (schema-memo.ts), as for a small block.
  const head = new Uint8Array(Math.min(HEAD_BYTES, o.size))
  let headAt = 0
  const fh = await local(async () => await o.writes.open(dest, o.made))
  try {
    let received = 0
    while (received < o.size) {
      // Every whole quota already buffered in one read (range-reads.ts). One write for all the parts
      // of a read (a write per part cost more than the bytes), synchronous while writes are fast
      // (range-writes.ts: through the pool, V8 ran a full collection every ~10 MB received).
      const want = nextRead(bs, quota, o.size - received)
      const parts = await take(want, received)
      if (headAt < head.length) headAt = fillHead(head, headAt, parts)
      await local(async () => { await o.writes.write(fh, parts, want, received) })
      received += want
      o.onBytes?.(want)
    }
    await local(async () => { await o.writes.settle(fh) })
    check()
  } finally {
    // No write of the file may still be in flight when its descriptor closes.
    await o.writes.settle(fh).catch(() => {})
    await local(async () => { await fh.close() })
  }
  return head
}

/** The first `max` bytes of `parts`, copied into a buffer of their own: a view into a larger buffer (a read's chunk, Buffer's pool) would be posted to a load thread whole. */
function headOf (parts: readonly Uint8Array[], size: number, max: number): Uint8Array {
  const head = new Uint8Array(Math.min(max, size))
  fillHead(head, 0, parts)
  return head
}

/** Copy the start of `parts` into `head` from offset `at` on, as far as `head` goes; returns how far it is filled. */
function fillHead (head: Uint8Array, at: number, parts: readonly Uint8Array[]): number {
  for (const part of parts) {
    if (at === head.length) break
    const n = Math.min(part.byteLength, head.length - at)
    head.set(part.subarray(0, n), at)
    at += n
  }
  return at
}

/**
 * Let the sender fill the whole STREAM_WINDOW on a stream this node reads as fast as it can (a
 * range). Yamux starts every stream at 256 KiB and grows the window only when data arrives within
 * four ping round trips of the last update, which a loaded machine rarely meets: 1 MB blocks then
 * crossed in 256 KiB steps, each waiting for a window update. The next window update grants the
 * difference (how yamux grows a window: any peer understands it; the initial window itself must
 * stay 256 KiB, which both sides assume). The read buffer (STREAM_READ_BUFFER) holds a whole
 * window. Window updates are sent once half the window is used (halfOpen). A no-op on a stream
 * that has no yamux `recvWindow`.
 */
export function widenWindow (stream: Stream): void {
  const w: unknown = Reflect.get(stream, 'recvWindow')
  if (typeof w === 'number' && w < STREAM_WINDOW) Reflect.set(stream, 'recvWindow', STREAM_WINDOW)
  const update: unknown = Reflect.get(stream, 'sendWindowUpdate')
  if (typeof update === 'function') Reflect.set(stream, 'sendWindowUpdate', function (this: object): void { if (!halfOpen(this)) update.call(this) })
}

// yamux's StreamState.Established (a window update of another state carries SYN or ACK: always sent).
const ESTABLISHED = 3

/**
 * Whether an established stream still has at least half its window open to the sender: then no
 * window update is needed yet, since the sender cannot stall before the next one (yamux sent one
 * after every data frame it received: one per 64 KiB, half a one per small block of a range, each
 * a frame to encrypt and a socket write here, and a frame to decrypt and handle on the sender).
 */
export function halfOpen (s: object): boolean {
  const cap: unknown = Reflect.get(s, 'recvWindowCapacity')
  const win: unknown = Reflect.get(s, 'recvWindow')
  return Reflect.get(s, 'state') === ESTABLISHED && typeof cap === 'number' && typeof win === 'number' && cap >= win / 2
}

/**
 * Fetch several blocks on one stream (`blocks`): each arrives like a `block` reply (frame, then
 * `size` bytes, hashed unless `hashLater`, into its own new file) and is reported to `onBlock` as soon as
 * it is complete, so the caller checks it while the next one arrives. Each block has the
 * deadline and rate floor of a single download; what is buffered is bounded by the stream read
 * buffer (a range is a few MiB). Rejects with the error that ended the reply (PEER_LACKS_BLOCK
 * when the peer lacks the next block); the blocks reported until then stand.
 */
export async function fetchBlocks (node: PetalLibp2p, peer: PeerId, chainId: string, items: readonly RangeItem[],
  o: { maxBytes: number, signal?: AbortSignal, minRate?: RateFloor, onBytes?: (i: number, n: number) => void, onBlock: (i: number, b: FetchedBlock) => void }): Promise<void> {
  const who = peer.toString()
  // One timer for every deadline of the reply: each block's reply frame, transfer and reads.
  const w = new Watchdog(o.signal)
  let stream: Stream | undefined
  try {
    w.arm(TIMEOUTS.blockMeta, 'reply')
    stream = await openStream(node, peer, protocolId(chainId, 'blocks'), w, o.signal)
    widenWindow(stream)
    const bs = byteStream(stream, { maxBufferSize: STREAM_READ_BUFFER })
    await bs.write(frame(encodeJson({ hashes: items.map(i => i.hash) })), { signal: w.signal })
    for (const [i, item] of items.entries()) {
      w.arm(TIMEOUTS.blockMeta, 'reply')
      const meta = parseBlockMeta(decodeJson(await readFrame(bs, LIMITS.blockResponseMeta, w.signal), LIMITS.blockResponseMeta, 'blocks reply'))
      if (!meta.ok) throw new NetworkError(meta.error === 'BUSY' ? 'BUSY' : 'PEER_LACKS_BLOCK', meta.error === 'BUSY' ? 'peer is busy' : 'peer does not have the block', { details: { peer: who, hash: item.hash } })
      if (meta.size > o.maxBytes) throw new NetworkError('OVERSIZED', `block of ${meta.size} bytes exceeds the chain's max_block_bytes`, { details: { peer: who, hash: item.hash } })
      let head: Uint8Array | undefined
      try {
        head = await receiveRangeBlock(bs, item.dest, { size: meta.size, hash: item.hashLater === true ? undefined : item.hash, made: item.made, watchdog: w, budgetMs: blockTransferBudgetMs(meta.size), minRate: o.minRate ?? BLOCK_RATE_FLOOR, writes: rangeWrites, onBytes: n => { o.onBytes?.(i, n) } })
      } catch (err) {
        throw toNetworkError(err, 'block transfer', who, w.timedOut(), o.signal)
      }
      o.onBlock(i, { seal: meta.seal, size: meta.size, head })
    }
    finish(stream)
  } catch (err) {
    const e = toNetworkError(err, 'blocks request', who, w.timedOut(), o.signal)
    finish(stream, e)
    throw e
  } finally {
    w.dispose()
  }
}
