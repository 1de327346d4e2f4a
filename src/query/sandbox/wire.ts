import type * as V8 from 'node:v8'
import type { ChildMessage, ParentMessage } from './protocol.js'

/**
 * How the query sandbox and its parent frame their messages on the socket between them (the
 * sandbox's descriptor 3), instead of Node's IPC channel: a process started with one sets it up
 * before any of its code runs, loading child_process, net, stream and v8 (~25 M instructions, a
 * quarter of a bare Node start, on the path of every first answer; docs/performance/query.md,
 * "Session 39: petal query"). The sandbox reads and writes the socket with plain blocking system
 * calls.
 *
 * A frame is the payload's length (4 bytes, big-endian), one byte saying how it is encoded, then
 * the payload: JSON for the messages that hold only strings and numbers (the path of a text
 * answer, which then never loads node:v8), V8's serializer (as Node's 'advanced' IPC) for
 * anything else: raw rows (bigint, Uint8Array), errors' details, decryption keys.
 */
const JSON_KIND = 0x4a
const V8_KIND = 0x56
const HEAD = 5
/** Larger than any message the protocol sends (a chunk is cut at 256 K characters): a corrupt length is an error, not an allocation. */
export const MAX_FRAME = 1 << 30

let v8: typeof V8 | undefined
const loadV8 = (): typeof V8 => (v8 ??= process.getBuiltinModule('node:v8'))

/** Messages whose fields are only strings, numbers, booleans, arrays and plain objects of those. */
const PLAIN = new Set(['ready', 'caching', 'cached', 'ack', 'text', 'columns', 'plan', 'done'])

/**
 * Whether `m` can go as JSON without losing anything: its type says so, or a run holds no
 * decryption key. Every `petal query` asks decryption (unless --no-decrypt), most with no key
 * to give: such a run went through V8's serializer, and the sandbox loaded node:v8 to read it,
 * with node:stream's modules (~3 M instructions on the first answer's path; docs/performance/query.md,
 * "Session 41: petal query").
 */
function plain (m: ChildMessage | ParentMessage): boolean {
  return PLAIN.has(m.type) || (m.type === 'run' && (m.decrypt === undefined || m.decrypt.keys.length === 0))
}

/** One message as a frame. */
export function encodeFrame (m: ChildMessage | ParentMessage): Buffer {
  const json = plain(m)
  const payload = json ? Buffer.from(JSON.stringify(m), 'utf8') : loadV8().serialize(m)
  const frame = Buffer.allocUnsafe(HEAD + payload.length)
  frame.writeUInt32BE(payload.length, 0)
  frame[4] = json ? JSON_KIND : V8_KIND
  payload.copy(frame, HEAD)
  return frame
}

/** The message a frame's payload holds. */
function decodePayload (kind: number | undefined, payload: Buffer): unknown {
  if (kind === JSON_KIND) return JSON.parse(payload.toString('utf8'))
  if (kind === V8_KIND) return loadV8().deserialize(payload)
  throw new Error(`unknown frame kind ${String(kind)}`)
}

/** Cuts a byte stream into messages, whatever its chunks' boundaries. */
export class FrameReader {
  private chunks: Buffer[] = []
  private size = 0
  /** The payload length of the frame being read, once its head is in. */
  private length: number | undefined

  /** Add bytes read; returns the messages they complete, in order. */
  push (chunk: Buffer): unknown[] {
    this.chunks.push(chunk)
    this.size += chunk.length
    const out: unknown[] = []
    for (;;) {
      this.length ??= this.readLength()
      if (this.length === undefined || this.size < HEAD + this.length) return out
      const all = this.take(HEAD + this.length)
      this.length = undefined
      out.push(decodePayload(all[4], all.subarray(HEAD)))
    }
  }

  /** Bytes of an incomplete frame still held (0 between messages). */
  get pending (): number {
    return this.size
  }

  private readLength (): number | undefined {
    if (this.size < HEAD) return undefined
    if ((this.chunks[0]?.length ?? 0) < HEAD) this.chunks = [Buffer.concat(this.chunks)]
    const length = this.chunks[0]?.readUInt32BE(0) ?? 0
    if (length > MAX_FRAME) throw new Error(`frame of ${length} bytes`)
    return length
  }

  /** The first `n` bytes held (a frame), as one buffer. */
  private take (n: number): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0] ?? Buffer.alloc(0) : Buffer.concat(this.chunks)
    const rest = all.subarray(n)
    this.chunks = rest.length > 0 ? [rest] : []
    this.size = rest.length
    return all.subarray(0, n)
  }
}
