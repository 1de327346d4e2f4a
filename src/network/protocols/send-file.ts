import { read as readFd } from 'node:fs'
import { promisify } from 'node:util'
import type { Stream } from '@libp2p/interface'
import { SLOW_SYNC_READ_MS, TIMEOUTS, UPLOAD_CHUNK } from '../constants.js'
import { NetworkError } from '../errors.js'
import { cpuWait } from '../cpu-wait.js'
import { linkSignals, readFullySync, Watchdog, type LinkedSignal } from '../../util/index.js'
import type { OpenBlock } from '../source.js'

const read = promisify(readFd)

/** Messages of up to UPLOAD_CHUNK bytes made of whole small blocks, each after its reply frame. */
export class SendBatch {
  private msg: Buffer | undefined
  private bytes = 0
  private readonly slowSyncReadMs: number
  private slowRead: number | undefined
  private readonly chunk: number
  private readonly stallMs: number
  /** The drain waits' deadline, one timer for the batch's life (stall). */
  private stallDog: Watchdog | undefined

  /**
   * `slowSyncReadMs`: how long a synchronous read may take before the batch reads through the pool
   * (default SLOW_SYNC_READ_MS). `chunk`: the size of the messages addFile fills (default
   * UPLOAD_CHUNK; LARGE_UPLOAD_CHUNK on a link that has shown it is fast, upload-links.ts); small
   * blocks (add) are gathered into messages of UPLOAD_CHUNK whatever it is. `stallMs`: how long a
   * message may wait for the stream to take it (default TIMEOUTS.serverStall).
   */
  constructor (private readonly raw: Stream, private readonly limit: AbortSignal, o: { slowSyncReadMs?: number, chunk?: number, stallMs?: number } = {}) {
    this.slowSyncReadMs = o.slowSyncReadMs ?? SLOW_SYNC_READ_MS
    this.chunk = Math.max(UPLOAD_CHUNK, o.chunk ?? UPLOAD_CHUNK)
    this.stallMs = o.stallMs ?? TIMEOUTS.serverStall
  }

  /** Stop the batch's stall timer (in the upload's `finally`; an undisposed one only fires once, idle). */
  dispose (): void { this.stallDog?.dispose() }

  /** Whether the batch reads through the thread pool (since a synchronous read was slow). */
  get pooled (): boolean { return this.slowRead !== undefined }

  /** How long the synchronous read that switched the batch to the pool took (ms), if one did. */
  get slowReadMs (): number | undefined { return this.slowRead }

  /**
   * Add a block (`head` + the whole file, at most UPLOAD_CHUNK bytes), sending what is gathered
   * first if it would not fit. The file is read straight into the message, synchronously while
   * reads are fast: a page-cache read of a small file costs a fifth of the CPU of one through the
   * thread pool (a round trip, a promise). Once one synchronous read took longer than
   * `slowSyncReadMs` of its own (a cold or slow disk; the time the thread waited for a CPU does not
   * count: cpu-wait.ts), the rest of the batch reads through the pool, so that the disk no longer
   * holds the node's event loop (gossip, the API, other streams).
   */
  async add (head: Uint8Array, file: OpenBlock): Promise<void> {
    if (this.bytes + head.byteLength + file.size > UPLOAD_CHUNK) await this.flush()
    const msg = this.msg ??= Buffer.allocUnsafe(UPLOAD_CHUNK)
    msg.set(head, this.bytes)
    const at = this.bytes + head.byteLength
    const got = await this.read(file.fd, msg.subarray(at, at + file.size), 0)
    if (got !== file.size) throw new Error('block file shrank while being sent')
    this.bytes = at + file.size
  }

  /**
   * Add a block of any size (`head` + the whole file): its bytes continue the message being
   * gathered, after what the range's previous blocks left in it, and every message that fills is
   * sent. So a range is one run of full UPLOAD_CHUNK messages, each four whole noise messages,
   * where each large block ended in a message of its own: a 1 MB block went out in five frames and
   * seventeen noise messages (the fifth frame ~8.6 KB), now ~4.03 and ~16.1 (docs/performance/pull.md,
   * "Session 33: the 1 MB pull"). What is left of the block's last message waits in the batch for
   * the next block or the range's final flush. A message add began (UPLOAD_CHUNK) is filled to its
   * size; the next ones are of the batch's `chunk`.
   */
  async addFile (head: Uint8Array, file: OpenBlock, limit: AbortSignal): Promise<void> {
    if (this.bytes + head.byteLength > (this.msg?.byteLength ?? UPLOAD_CHUNK)) await this.flush()
    let msg = this.msg ??= Buffer.allocUnsafe(this.chunk)
    msg.set(head, this.bytes)
    this.bytes += head.byteLength
    let off = 0
    while (off < file.size) {
      if (limit.aborted) throw new NetworkError('TIMEOUT', 'upload took longer than a block transfer may')
      const n = Math.min(msg.byteLength - this.bytes, file.size - off)
      const got = await this.read(file.fd, msg.subarray(this.bytes, this.bytes + n), off)
      if (got !== n) throw new Error('block file shrank while being sent')
      this.bytes += n
      off += n
      if (this.bytes === msg.byteLength) {
        await this.flush()
        msg = this.msg ??= Buffer.allocUnsafe(this.chunk)
      }
    }
  }

  /**
   * Fill `into` from the file at `pos` (fewer bytes only at its end): synchronously while reads are
   * fast, else through the pool (see add). addFile reads a large block of the range this way too:
   * through the pool, a page-cache read of 256 KiB cost the server twice the CPU (1.5 against 0.7 ms
   * per MB, docs/performance/pull.md, "Session 9: the 1 MB pull").
   */
  async read (fd: number, into: Uint8Array, pos: number): Promise<number> {
    if (this.pooled) return await readFully(fd, into, pos)
    const waited = cpuWait.now()
    const start = performance.now()
    const got = readFullySync(fd, into, into.byteLength, pos)
    const wall = performance.now() - start
    if (wall >= this.slowSyncReadMs) {
      // Slow only because the thread waited for a CPU (preempted on a busy machine): not the disk.
      const ms = cpuWait.ownMs(wall, waited)
      if (ms >= this.slowSyncReadMs) this.slowRead = ms
    }
    return got
  }

  async flush (): Promise<void> {
    if (this.msg === undefined || this.bytes === 0) return
    // A new buffer for the next message: the stream may hold this one until the window opens.
    const msg = this.msg.subarray(0, this.bytes)
    this.msg = undefined
    this.bytes = 0
    if (!this.raw.send(msg)) await drained(this.raw, this.limit, this.stallMs, this.stallDog ??= new Watchdog(this.limit))
  }
}

/** Fill `buf` from the file at `pos` through the thread pool; the bytes read (fewer at the end of the file). */
async function readFully (fd: number, buf: Uint8Array, pos: number): Promise<number> {
  let got = 0
  while (got < buf.byteLength) {
    const { bytesRead } = await read(fd, buf, got, buf.byteLength - got, pos + got)
    if (bytesRead === 0) break
    got += bytesRead
  }
  return got
}

/**
 * Wait until the stream takes more and has handed on what it held, at most TIMEOUTS.serverStall
 * (a reader that stops reading is cut). The connection's drain wakes every stream of it, also one
 * whose own flow-control window is still closed: that stream still holds its last message, and
 * each further one would pile up behind it at every drain of the socket (up to 9 MB of a server's
 * four ranges, alive across V8's young collections: docs/performance/pull.md, "Session 14: the 1 MB
 * pull"). So this also waits until the stream's write buffer is empty. That wait is also what holds
 * the sender back at all after the stream's first drain: @libp2p/utils 7.4's `onDrain()` keeps the
 * promise of the first drain it waited for, so every later call resolves at once (a loop that
 * awaited it alone read a whole chain into the write buffer: docs/performance/pull.md, "Session 31: the
 * 1 MB pull").
 */
async function drained (raw: Stream, limit: AbortSignal, stallMs: number = TIMEOUTS.serverStall, dog?: Watchdog): Promise<void> {
  if (limit.aborted) throw new NetworkError('TIMEOUT', 'upload took longer than a block transfer may')
  // A batch's waits share its watchdog, re-armed for each, where each wait made a linked signal, a
  // timer and their subscriptions (docs/performance/pull.md, "Session 39: the 1 MB pull"); a lone
  // file's upload links its own.
  let own: LinkedSignal | undefined
  let signal: AbortSignal
  if (dog === undefined) {
    own = linkSignals([limit], stallMs)
    signal = own.signal
  } else {
    dog.arm(stallMs, 'stall')
    signal = dog.signal
  }
  try {
    await raw.onDrain({ signal })
    while (raw.writeBufferLength > 0 && raw.status === 'open') await handedOn(raw, signal)
  } finally {
    own?.dispose()
    // No deadline between waits (its pending timer fires once and finds none).
    dog?.armAt(Infinity, 'stall')
  }
}

/** Until the stream's write buffer empties ('idle'), it closes, or `signal` aborts. */
async function handedOn (raw: Stream, signal: AbortSignal): Promise<void> {
  signal.throwIfAborted()
  await new Promise<void>((resolve, reject) => {
    const off = (): void => {
      raw.removeEventListener('idle', done)
      raw.removeEventListener('close', done)
      signal.removeEventListener('abort', aborted)
    }
    const done = (): void => { off(); resolve() }
    const aborted = (): void => { off(); reject(signal.reason) }
    raw.addEventListener('idle', done)
    raw.addEventListener('close', done)
    signal.addEventListener('abort', aborted)
  })
}

/**
 * Send the file's bytes, after `head` (sent in the same message as the first chunk) if given.
 * `reader`: the range's batch, whose reads (synchronous while fast) this file's use too; without
 * it, every chunk is read through the thread pool.
 */
export async function sendFile (raw: Stream, file: OpenBlock, limit: AbortSignal, head?: Uint8Array, reader?: SendBatch): Promise<void> {
  let off = 0
  let prefix = head?.byteLength ?? 0
  if (head !== undefined && file.size === 0) raw.send(head)
  while (off < file.size) {
    if (limit.aborted) throw new NetworkError('TIMEOUT', 'upload took longer than a block transfer may')
    // The first chunk carries the head within UPLOAD_CHUNK: one more byte is one more noise message.
    const buf = Buffer.allocUnsafe(prefix + Math.min(Math.max(1, UPLOAD_CHUNK - prefix), file.size - off))
    if (head !== undefined && prefix > 0) buf.set(head)
    const into = buf.subarray(prefix)
    const bytesRead = reader === undefined ? (await read(file.fd, into, 0, into.byteLength, off)).bytesRead : await reader.read(file.fd, into, off)
    if (bytesRead === 0) throw new Error('block file shrank while being sent')
    off += bytesRead
    const sent = raw.send(buf.subarray(0, prefix + bytesRead))
    prefix = 0
    if (!sent) await drained(raw, limit)
  }
}
