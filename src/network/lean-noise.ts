import type { MessageStream } from '@libp2p/interface'
import { Uint8ArrayList } from 'uint8arraylist'
import { IN_PLACE } from './noise-crypto.js'

// Noise transport messages (@libp2p/noise 17: a ciphertext of at most 65535 bytes, its 16-byte tag included).
const NOISE_MAX_MESSAGE = 65535
const TAG_BYTES = 16
// @libp2p/noise's default crypto decrypts ciphertexts below this size with its WebAssembly
// ChaCha20-Poly1305, which writes the plaintext into the `dst` it is given; larger ones with
// node:crypto, which ignores `dst` and returns a buffer of its own.
const IN_PLACE_BELOW = 1200

/** What this module relies on in @libp2p/noise's encrypted stream (checked before use). */
interface NoiseStream {
  handshake: { decrypt: (ciphertext: Uint8Array | Uint8ArrayList, dst?: Uint8Array) => Uint8Array | Uint8ArrayList }
  decrypt: (chunk: Uint8Array | Uint8ArrayList) => Uint8ArrayList
  /** AbstractMessageStream's: hands decrypted bytes on to the stream's reader (yamux). */
  onData?: (data: Uint8ArrayList) => void
  /** Its length-prefix decoder: `for (const m of decoder.decode(received)) onData(decrypt(m))`. */
  decoder?: { buffer?: unknown, decode: (data: Uint8Array | Uint8ArrayList) => Iterable<Uint8Array | Uint8ArrayList> }
}

// The received bytes noise's decoder holds at most (its own limit: @libp2p/noise 17, utils.ts).
const MAX_BUFFERED = 16 * 1024 * 1024
const LENGTH_BYTES = 2

/** The ciphertext lengths of the messages a batch holds, each after its 2-byte length (BatchDecoder). */
const batches = new WeakMap<Uint8ArrayList, number[]>()

/**
 * Noise's length-prefix decoding, every complete message of what was received at once as one
 * batch: @libp2p/noise decrypts and hands on each message by itself (an event to yamux, its frame
 * decoder, a read-buffer round for each 64 KiB), so a socket read of many messages (pooled-reads.ts)
 * costs that many rounds. A batch is the received bytes from the first complete message to the
 * end of the last one, length prefixes included, its messages' lengths kept beside it; the
 * decryption (`decrypter`) opens them one by one into one list, handed on in one event. The same
 * messages in the same order: empty ones skipped undecrypted (noise's decoder yields none), the
 * same buffer limit.
 */
export class BatchDecoder {
  constructor (readonly buffer: Uint8ArrayList = new Uint8ArrayList()) {}

  decode (data: Uint8Array | Uint8ArrayList): Uint8ArrayList[] {
    const b = this.buffer
    b.append(data)
    if (b.byteLength > MAX_BUFFERED) throw new Error(`Buffer length limit exceeded - ${b.byteLength}/${MAX_BUFFERED}`)
    const lengths: number[] = []
    let end = 0
    while (b.byteLength - end >= LENGTH_BYTES) {
      const n = b.getUint16(end)
      if (b.byteLength - end - LENGTH_BYTES < n) break
      lengths.push(n)
      end += LENGTH_BYTES + n
    }
    if (end === 0) return []
    const batch = b.sublist(0, end)
    b.consume(end)
    batches.set(batch, lengths)
    return [batch]
  }
}

function isNoiseStream (s: unknown): s is NoiseStream {
  if (typeof s !== 'object' || s === null) return false
  const h: unknown = Reflect.get(s, 'handshake')
  return typeof Reflect.get(s, 'decrypt') === 'function' && typeof h === 'object' && h !== null && typeof Reflect.get(h, 'decrypt') === 'function'
}

type DstOf = (chunk: Uint8Array | Uint8ArrayList, from: number, end: number) => Uint8Array | undefined

/**
 * A stream's `decrypt`: noise's loop over the transport messages of a chunk (a message, cut at
 * 65,535 bytes as noise does, or a BatchDecoder's batch, cut at its lengths), each decrypted into
 * `dstOf`'s answer.
 */
function decrypter (dstOf: DstOf): (this: NoiseStream, chunk: Uint8Array | Uint8ArrayList) => Uint8ArrayList {
  return function decryptMessages (this: NoiseStream, chunk: Uint8Array | Uint8ArrayList): Uint8ArrayList {
    const output = new Uint8ArrayList()
    const open = (i: number, end: number): void => {
      if (end - TAG_BYTES < i) throw new Error('Invalid chunk')
      const encrypted = chunk instanceof Uint8Array ? chunk.subarray(i, end) : chunk.sublist(i, end)
      output.append(this.handshake.decrypt(encrypted, dstOf(chunk, i, end)))
    }
    const lengths = chunk instanceof Uint8Array ? undefined : batches.get(chunk)
    if (lengths !== undefined) {
      let i = 0
      try {
        for (const n of lengths) {
          i += LENGTH_BYTES
          if (n > 0) open(i, i + n)
          i += n
        }
      } catch (err) {
        // As noise, which hands on each message before it opens the next: what came before the
        // failed message is delivered, then the stream fails.
        if (output.byteLength > 0) this.onData?.(output)
        throw err
      }
      return output
    }
    for (let i = 0; i < chunk.byteLength; i += NOISE_MAX_MESSAGE) open(i, Math.min(i + NOISE_MAX_MESSAGE, chunk.byteLength))
    return output
  }
}

/**
 * The decryption of @libp2p/noise 17's transport messages without its copy of each message.
 * Its `decrypt` builds `dst` (the plaintext's place in the received bytes) for every message
 * before decrypting it: `Uint8ArrayList.subarray`, which copies whenever a message spans two of
 * the socket's reads, and a noise message of 65,537 bytes on the wire always spans two 64 KiB
 * reads. node:crypto, which decrypts every message above 1,200 bytes, never uses it: a received
 * megabyte cost one more megabyte allocated and copied, for nothing (docs/performance/pull.md,
 * "Session 13: the 1 MB pull"). This one builds `dst` only for the messages that are decrypted
 * into it. Same messages, same errors: a ciphertext shorter than its tag fails the stream.
 */
export const leanDecrypt = decrypter((chunk, i, end) => end - i < IN_PLACE_BELOW ? chunk.subarray(i, end - TAG_BYTES) : undefined)

/**
 * The decryption of connections whose crypto is noise-crypto.ts's native cipher: every message
 * decrypted over its own received bytes (`IN_PLACE`), also when it spans two reads; no output
 * buffer at all (docs/performance/pull.md, "Session 29: the 1 MB pull"). Same messages, same errors.
 */
export const inPlaceDecrypt = decrypter(() => IN_PLACE)

let leanConnections = 0

/** How many connections of this process decrypt with `leanDecrypt` (0 after an upgrade of @libp2p/noise that this module no longer fits: a test checks it). */
export function leanDecryptConnections (): number { return leanConnections }

/**
 * Give a secured connection's encrypted stream `leanDecrypt`, or `inPlaceDecrypt` when `inPlace`
 * (only for a connection secured with noise-crypto.ts's native crypto); false (and nothing
 * changed) if it is not @libp2p/noise's as this module knows it.
 */
export function useLeanDecrypt (connection: MessageStream, inPlace = false): boolean {
  if (!isNoiseStream(connection)) return false
  connection.decrypt = inPlace ? inPlaceDecrypt : leanDecrypt
  leanConnections++
  // Its decoder too, when it is noise's as this module knows it (what it holds carried over).
  const d = connection.decoder
  if (typeof d === 'object' && d !== null && typeof d.decode === 'function' && d.buffer instanceof Uint8ArrayList) {
    connection.decoder = new BatchDecoder(d.buffer)
    batchConnections++
  }
  return true
}

let batchConnections = 0

/** How many connections of this process decode noise messages in batches (0 after an upgrade of @libp2p/noise that this module no longer fits: a test checks it). */
export function batchDecoderConnections (): number { return batchConnections }
