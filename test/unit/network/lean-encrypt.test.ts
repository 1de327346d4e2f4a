// lean-encrypt.ts against @libp2p/noise's own encrypt, both inside noise's real EncryptedMessageStream
// and its CipherState (the nonce it keeps): every send, of any size (noise's 65,519-byte cut and
// around it, empty, a megabyte) and of any shape (one buffer, or a list of parts cut anywhere, as
// yamux hands a frame's header and data), must put the same bytes on the wire, send after send.
// With the native cipher (noise-crypto.ts, when the OpenSSL addon is built) a send is one buffer,
// each message sealed in place; with noise's default crypto its ciphertexts are copied in.
import { describe, expect, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import { defaultCrypto } from '@libp2p/noise/crypto'
import { Uint8ArrayList } from 'uint8arraylist'
// noise's internals, not exported: the stream and cipher state its connections use.
import { toMessageStream } from '../../../node_modules/@libp2p/noise/dist/src/utils.js'
import { CipherState, ZEROLEN } from '../../../node_modules/@libp2p/noise/dist/src/protocol.js'
import { wrapCrypto } from '../../../node_modules/@libp2p/noise/dist/src/crypto.js'
import { leanEncrypt, leanEncryptConnections, useLeanEncrypt } from '../../../src/network/lean-encrypt.js'
import { nativeNoiseMessages, noiseCrypto, sealInto } from '../../../src/network/noise-crypto.js'
import { silentLog } from '../../helpers/silent-log.js'

const cipher = noiseCrypto()

const log = silentLog

/** The connection under the encrypted stream: what the stream sends is kept, as the socket would get it. */
class FakeConnection extends EventTarget {
  readonly log = log
  readonly direction = 'outbound'
  readonly maxReadBufferLength = 64 * 1024 * 1024
  readonly sent: Uint8ArrayList[] = []
  abort (): void {}
  pause (): void {}
  resume (): void {}
  send (data: Uint8ArrayList): boolean { this.sent.push(data); return true }
  async close (): Promise<void> {}
}

/** A sender over noise's stream with a cipher state keyed by `key` (its own nonce counter from 0). */
function sender (key: Uint8Array, native: boolean, lean: boolean): { conn: FakeConnection, stream: ReturnType<typeof toMessageStream> } {
  const cs = new CipherState(wrapCrypto(native ? cipher.crypto : defaultCrypto), key)
  const conn = new FakeConnection()
  const handshake = {
    encrypt: (p: Uint8Array | Uint8ArrayList) => cs.encryptWithAd(ZEROLEN, p),
    decrypt: () => { throw new Error('send only') }
  }
  const stream = toMessageStream(conn as never, handshake as never)
  if (lean) expect(useLeanEncrypt(stream)).toBe(true)
  return { conn, stream }
}

/** `data` as a list cut at `cuts` (yamux hands noise a frame's 12-byte header and its data as two parts). */
function list (data: Uint8Array, cuts: number[]): Uint8ArrayList {
  const l = new Uint8ArrayList()
  let at = 0
  for (const c of [...cuts, data.byteLength]) { l.append(data.subarray(at, c)); at = c }
  return l
}

const SIZES = [0, 1, 12, 65_518, 65_519, 65_520, 131_038, 131_039, 262_064, 1_048_292, 1_048_576 + 12]

describe('leanEncrypt', () => {
  for (const native of [false, true]) {
    it(`puts noise's own bytes on the wire, send after send (${native ? 'native cipher' : 'noise\'s default crypto'})`, () => {
      if (native && !cipher.native) return // the addon is not built here: noise's default crypto only
      const key = randomBytes(32)
      const upstream = sender(key, native, false)
      const lean = sender(key, native, true)
      for (const [i, size] of SIZES.entries()) {
        const data = randomBytes(size)
        // Every other send as a list of parts, one of them cut inside a noise message.
        const send = (): Uint8Array | Uint8ArrayList => i % 2 === 0 ? data : list(data, size > 12 ? [12, Math.floor(size / 3)] : [])
        upstream.stream.send(send())
        lean.stream.send(send())
      }
      expect(lean.conn.sent.length).toBe(SIZES.filter(n => n > 0).length)
      expect(Buffer.concat(lean.conn.sent.map(l => l.subarray())).equals(Buffer.concat(upstream.conn.sent.map(l => l.subarray())))).toBe(true)
      // One buffer a send where noise's stream made two a message (a length, then the ciphertext).
      for (const l of lean.conn.sent) expect([...l].length).toBe(1)
      expect(Math.max(...upstream.conn.sent.map(l => [...l].length))).toBeGreaterThanOrEqual(2 * 17)
    })
  }

  it('has the native cipher seal into the place it is given, one message per sealInto', () => {
    if (!cipher.native) return
    const key = randomBytes(32)
    const cs = new CipherState(wrapCrypto(cipher.crypto), key)
    const plain = randomBytes(1000)
    const place = Buffer.alloc(1016)
    const before = nativeNoiseMessages().sealed
    expect(sealInto(place, () => cs.encryptWithAd(ZEROLEN, plain))).toBe(place)
    // A place of another size, and a seal after sealInto, get buffers of their own.
    const wrong = Buffer.alloc(1017)
    expect(sealInto(wrong, () => cs.encryptWithAd(ZEROLEN, plain))).not.toBe(wrong)
    expect(cs.encryptWithAd(ZEROLEN, plain)).not.toBe(place)
    expect(nativeNoiseMessages().sealed - before).toBe(3)
    expect(wrong.equals(Buffer.alloc(1017))).toBe(true)
  })

  it('encrypts an empty send to nothing, as noise does', () => {
    const lean = sender(randomBytes(32), cipher.native, true)
    const out = (lean.stream as unknown as { encrypt: (c: Uint8Array) => Uint8ArrayList }).encrypt(new Uint8Array(0))
    expect(out.byteLength).toBe(0)
    expect([...out]).toEqual([])
  })

  it('leaves a stream it does not know alone', () => {
    const before = leanEncryptConnections()
    expect(useLeanEncrypt({ encrypt: leanEncrypt })).toBe(false)
    expect(useLeanEncrypt(null)).toBe(false)
    expect(leanEncryptConnections()).toBe(before)
  })
})
