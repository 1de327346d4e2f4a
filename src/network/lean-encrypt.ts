import { Uint8ArrayList } from 'uint8arraylist'
import { adviseHugeHeap } from '../crypto/index.js'
import { sealInto } from './noise-crypto.js'

// Noise transport messages (@libp2p/noise 17): at most 65,535 bytes on the wire after their 2-byte
// length, the 16-byte tag included, so a send is cut into plaintexts of 65,519 bytes.
const NOISE_MAX_MESSAGE = 65535
const TAG_BYTES = 16
const LENGTH_BYTES = 2
const MAX_PLAINTEXT = NOISE_MAX_MESSAGE - TAG_BYTES
/** A send this large (a range's upload message) may have grown the heap. */
const LARGE_SEND = 256 * 1024

/** What this module relies on in @libp2p/noise's encrypted stream (checked before use). */
interface NoiseSender {
  handshake: { encrypt: (plaintext: Uint8Array | Uint8ArrayList) => Uint8Array | Uint8ArrayList }
  encrypt: (chunk: Uint8Array | Uint8ArrayList) => Uint8ArrayList
}

function isNoiseSender (s: unknown): s is NoiseSender {
  if (typeof s !== 'object' || s === null) return false
  const h: unknown = Reflect.get(s, 'handshake')
  return typeof Reflect.get(s, 'encrypt') === 'function' && typeof h === 'object' && h !== null && typeof Reflect.get(h, 'encrypt') === 'function'
}

/**
 * A stream's `encrypt`: noise's transport messages of one send (a yamux frame: up to 1 MiB of a
 * range's upload, sixteen messages) laid out in one buffer, each length and each ciphertext with
 * its tag in place, the native cipher sealing straight into it (noise-crypto.ts's `sealInto`).
 * @libp2p/noise makes a new buffer for every length and every ciphertext and hands the socket
 * 32 buffers a megabyte: 32 writes into the corked socket (corked-writes.ts), 16 allocations of
 * 64 KiB that the collector must account for. Here it is one buffer and one write. The same
 * messages, cut at the same places, sealed in the same order with the same nonces: the same bytes
 * on the wire. A cipher that does not seal into the place (noise's default crypto) returns its
 * own buffer, which is copied there.
 */
export function leanEncrypt (this: NoiseSender, chunk: Uint8Array | Uint8ArrayList): Uint8ArrayList {
  const size = chunk.byteLength
  if (size === 0) return new Uint8ArrayList() // as noise: no message, nothing to write
  const messages = Math.ceil(size / MAX_PLAINTEXT)
  const out = Buffer.allocUnsafe(size + messages * (LENGTH_BYTES + TAG_BYTES))
  if (size >= LARGE_SEND) adviseHugeHeap() // the heap may have grown for it: on 2 MiB pages too (crypto/openssl-native.ts)
  let at = 0
  for (let i = 0; i < size; i += MAX_PLAINTEXT) {
    const end = Math.min(i + MAX_PLAINTEXT, size)
    const sealed = end - i + TAG_BYTES
    out.writeUInt16BE(sealed, at)
    const place = out.subarray(at + LENGTH_BYTES, at + LENGTH_BYTES + sealed)
    const plaintext = chunk instanceof Uint8Array ? chunk.subarray(i, end) : chunk.sublist(i, end)
    const data = sealInto(place, () => this.handshake.encrypt(plaintext))
    if (data !== place) {
      if (data.byteLength !== sealed) throw new Error(`noise sealed ${end - i} bytes into ${data.byteLength}, not ${sealed}`)
      if (data instanceof Uint8Array) place.set(data)
      else place.set(data.subarray())
    }
    at += LENGTH_BYTES + sealed
  }
  return new Uint8ArrayList(out)
}

let leanEncrypting = 0

/** How many connections of this process encrypt with `leanEncrypt` (0 after an upgrade of @libp2p/noise that this module no longer fits: a test checks it). */
export function leanEncryptConnections (): number { return leanEncrypting }

/**
 * Give a secured connection's encrypted stream `leanEncrypt`; false (and nothing changed) if it is
 * not @libp2p/noise's as this module knows it. Meant for connections whose crypto is
 * noise-crypto.ts's native cipher (lean-transport.ts), which seals in place.
 */
export function useLeanEncrypt (connection: unknown): boolean {
  if (!isNoiseSender(connection)) return false
  connection.encrypt = leanEncrypt
  leanEncrypting++
  return true
}
