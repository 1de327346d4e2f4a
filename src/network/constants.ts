/**
 * Protocol ids, message size limits and timeouts of the Petal wire protocol. Every number here is
 * documented in docs/protocol.md; change both together.
 */

/** `/petal/<chain>/<name>/1.0.0`: request/response protocols are private to one chain. */
export function protocolId (chainId: string, name: 'status' | 'headers' | 'block' | 'blocks' | 'checkpoints' | 'kad'): string {
  return `/petal/${chainId}/${name}/1.0.0`
}

/** Chain-agnostic: what chain a peer serves (used by `petal pull` before it knows the chain). */
export const CHAINPARAMS_PROTOCOL = '/petal/chainparams/1.0.0'

/** Gossip topic of block announcements (header + seal) of one chain. */
export function announceTopic (chainId: string): string {
  return `/petal/${chainId}/announce/1`
}

/** Gossip topic of signed checkpoints (C2SP notes) of one chain. */
export function checkpointTopic (chainId: string): string {
  return `/petal/${chainId}/checkpoints/1`
}

const KiB = 1024
const MiB = 1024 * KiB
/** The plaintext of one noise transport message (@libp2p/noise: 65,535 bytes with the 16-byte tag). */
export const NOISE_MAX_PLAINTEXT = 65535 - 16
/** A yamux frame's header. */
export const YAMUX_HEADER_BYTES = 12

/** docs/protocol.md "Limits": the largest frame each side accepts, per message. */
export const LIMITS = {
  statusRequest: 64,
  statusResponse: 8 * KiB,
  headersRequest: 128,
  headersResponse: 1 * MiB,
  /** headers per `headers` response */
  maxHeaders: 512,
  blockRequest: 256,
  blockResponseMeta: 4 * KiB,
  /** a `blocks` request: up to maxRangeBlocks hashes */
  blocksRequest: 4 * KiB,
  /** blocks per `blocks` request */
  maxRangeBlocks: 32,
  chainparamsRequest: 64,
  chainparamsResponse: 64 * KiB,
  /** a `checkpoints` request `{maxSize}` / its reply `{notes}`: at most maxCheckpointNotes notes of at most `checkpoint` bytes */
  checkpointsRequest: 128,
  checkpointsResponse: 32 * KiB,
  maxCheckpointNotes: 2,
  announcement: 8 * KiB,
  /** one signed checkpoint note (text, signatures and cosignatures) */
  checkpoint: 8 * KiB,
  /** one gossipsub RPC (many messages plus control); libp2p's default is 4 MiB */
  gossipRpc: 1 * MiB,
  /** one header's signature fields, in hex digits (a P-256 DER signature is at most 72 bytes) */
  signatureHex: 160
} as const

/** docs/protocol.md "Limits and timeouts", in milliseconds. */
export const TIMEOUTS = {
  dial: 10_000,
  /** a whole status, chainparams or checkpoints exchange */
  status: 5_000,
  /** a whole headers exchange */
  headers: 10_000,
  /** block request until its response header arrives */
  blockMeta: 10_000,
  /** no block bytes for this long aborts the transfer */
  blockIdle: 20_000,
  /** a whole block transfer: this plus size / blockMinRate */
  blockBase: 30_000,
  /** server side: reading a request */
  serverRequest: 5_000,
  /** server side: a peer that reads nothing for this long is cut off */
  serverStall: 30_000,
  /**
   * libp2p's connection monitor (a ping every 10 s on every connection): the least time a ping may
   * wait for its reply before the connection is aborted (libp2p's adaptive timeout, whose own least
   * is 5 s, and whose most, 60 s, stays). A peer or a process whose event loop is held for seconds
   * (a loaded machine, a long collection) is busy, not dead; 5 s cut such live connections.
   */
  ping: 30_000
} as const

/** Slowest transfer rate a block download may have before it times out (bytes per second). */
export const BLOCK_MIN_RATE = 128 * KiB

/**
 * The rate floor of a block download: after a grace period of one window, every window must
 * bring this many bytes per second, or the transfer is cut (TOO_SLOW) and the peer scored down.
 * Far below any real link, it only stops a peer that trickles a block to hold a download slot.
 */
export const BLOCK_RATE_FLOOR = { bytesPerSecond: 16 * KiB, windowMs: 10_000 } as const

/** Concurrent inbound streams per connection and protocol; further streams are refused by libp2p. */
export const INBOUND_STREAMS = { status: 4, headers: 4, block: 16, blocks: 8, chainparams: 2, checkpoints: 2 } as const

/** Block uploads served at once by one node (beyond that, requests are answered BUSY). */
export const MAX_CONCURRENT_UPLOADS = 16
/** Uploads one peer may hold at once, so that a slow or hostile reader cannot take every slot. */
export const MAX_UPLOADS_PER_PEER = 4

/**
 * Chunk size of block uploads: each chunk goes out as one yamux frame (when the window allows),
 * and the receiver answers each frame with a window update, so larger chunks mean fewer of both.
 * Noise encrypts each frame (its 12-byte yamux header included) in messages of at most 65,519
 * bytes of plaintext: a frame of exactly four full messages, where 256 KiB made four and one of
 * 80 bytes, each a decryption, a length-prefix decode and a yamux read on the receiver and an
 * encryption on the sender (docs/performance/pull.md, "Session 23: the 1 MB pull").
 */
export const UPLOAD_CHUNK = 4 * NOISE_MAX_PLAINTEXT - YAMUX_HEADER_BYTES

/**
 * Messages of a range's large blocks on a connection whose previous range was delivered at
 * LARGE_UPLOAD_MIN_RATE or more (upload-links.ts): one yamux frame of sixteen full noise messages,
 * a quarter of the frames, window accounting and stream events of UPLOAD_CHUNK's. A frame reaches
 * the reader only when whole, so at the rate floor (16 KiB/s) one would take 64 s and cut an honest
 * slow peer: hence only on a link that has shown it carries ~1 MiB in a second.
 */
export const LARGE_UPLOAD_CHUNK = 16 * NOISE_MAX_PLAINTEXT - YAMUX_HEADER_BYTES
/** Bytes per second a connection's last range upload must have been delivered at for LARGE_UPLOAD_CHUNK messages. */
export const LARGE_UPLOAD_MIN_RATE = 1 * MiB

/**
 * A synchronous read of a block file that took longer than this (ms) switches the rest of that
 * range to thread-pool reads: the file was not in the page cache, or the disk is slow, and every
 * such read holds the node's whole event loop (a page-cache read of a small block takes µs).
 */
export const SLOW_SYNC_READ_MS = 1

/**
 * Synchronous writes of received blocks' bytes (into the page cache) that stalled, each for
 * SYNC_WRITE_STALL_MS or more, adding up to SLOW_SYNC_WRITE_MS within a second send every range's
 * writes of this process through the thread pool for SYNC_WRITES_PAUSE_MS: the kernel is throttling
 * a writer with too many dirty pages, or the disk is slow, and each such write holds the node's
 * whole event loop (a page-cache write of 160 KiB takes ~50 µs; one waiting for ext4's journal a
 * few ms). A write's stall is the time its thread slept in it (cpu-wait.ts): not the time it waited
 * for a CPU, nor the time it ran on one (copying into pages a hypervisor faults in, 2-3 ms per
 * 160 KiB on this project's VM, which the pool would not make cheaper).
 */
export const SLOW_SYNC_WRITE_MS = 20
export const SYNC_WRITE_STALL_MS = 2
export const SYNC_WRITES_PAUSE_MS = 10_000
/** While they go through the pool, the bytes of a process's range writes in flight before a receive waits for one. */
export const POOLED_WRITES_IN_FLIGHT = 2 * MiB

/**
 * Yamux flow control: the stream window caps the bytes in flight per stream, so a paused reader
 * buffers at most this much; the read buffer limit is set above it.
 */
export const STREAM_WINDOW = 4 * MiB
export const STREAM_READ_BUFFER = 8 * MiB

/** The longest a legitimate transfer of a block of `size` bytes may take (server and client deadline). */
export function blockTransferBudgetMs (size: number): number {
  return TIMEOUTS.blockBase + Math.ceil(size / BLOCK_MIN_RATE) * 1000
}
