import type { Stream } from '@libp2p/interface'
import { LARGE_UPLOAD_CHUNK, LARGE_UPLOAD_MIN_RATE, UPLOAD_CHUNK } from '../constants.js'

/**
 * The message size of a range upload by connection: LARGE_UPLOAD_CHUNK on a connection whose last
 * range upload was delivered at `minRate` bytes/s or more, else UPLOAD_CHUNK (a connection's first
 * range, a slow link, a range that failed). Delivered means read by the peer: a range's time runs
 * from its request to its stream's close, which needs the peer's own close, sent once it has read
 * the whole reply (fetchBlocks); the bytes are the range's blocks. So the rate is a lower bound of
 * the link's, never the rate at which bytes left for Node's or the kernel's buffers.
 *
 * Why: a 1 MB block went out in four yamux frames, each a send, a wait for the socket's drain and
 * a corked writev here, and a frame decode, a stream event, a read wake-up and window accounting on
 * the puller; in 1 MiB frames, about one (docs/performance/pull.md, "Session 38: the 1 MB pull"). Why not
 * always: a frame is delivered only when whole, and the puller's rate floor (16 KiB/s over 10 s
 * windows) would cut an honest peer sending 1 MiB frames below ~105 KiB/s; on a link that carried
 * 1 MiB/s, a frame is cut only if the link slows tenfold within a range.
 */
export class UploadLinks {
  private readonly fast = new WeakMap<object, boolean>()

  constructor (private readonly minRate = LARGE_UPLOAD_MIN_RATE, private readonly now = () => performance.now()) {}

  /** The message size for a range upload on `connection`. */
  chunk (connection: object): number {
    return this.fast.get(connection) === true ? LARGE_UPLOAD_CHUNK : UPLOAD_CHUNK
  }

  /** A range upload on `connection` failed (the reader cut it, a deadline, a reset): its next ranges are small again. */
  failed (connection: object): void {
    this.fast.delete(connection)
  }

  /**
   * A range of `bytes` bytes was sent on `stream` of `connection`, its request taken at `start`
   * (this clock's ms): once the stream has closed, whether the connection delivered at the rate.
   * A stream that ends with an error (reset, aborted) counts as slow.
   */
  measure (connection: object, stream: Stream, start: number, bytes: number): void {
    const done = (failed: boolean): void => {
      const ms = this.now() - start
      this.fast.set(connection, !failed && bytes * 1000 >= this.minRate * Math.max(ms, 1))
    }
    if (stream.status === 'closed' || stream.status === 'aborted' || stream.status === 'reset') { done(stream.status !== 'closed'); return }
    stream.addEventListener('close', (evt: Event) => { done('error' in evt && evt.error instanceof Error) }, { once: true })
  }
}

/** The process's uploads: what a connection has shown holds for all its ranges. */
export const uploadLinks = new UploadLinks()
