// lean-noise.ts against @libp2p/noise's own decrypt, both inside noise's real EncryptedMessageStream
// (its length-prefix decoder, its abort on a failed message): the same wire bytes, cut into the
// same socket reads, must give the same plaintext and the same end. Random message sizes (with the
// 1,200-byte switch between noise's WebAssembly and node:crypto, the 65,535-byte maximum, a tag
// alone, a message shorter than its tag) and random reads (a byte at a time, a length prefix cut
// in two, several messages in one read); then tampered, reordered, replayed and dropped messages,
// which must stop the stream at that message and close the connection under it. A third receiver
// decrypts in place with the native cipher (noise-crypto.ts), when the OpenSSL addon is built:
// the same plaintext and the same ends as upstream's (its failures carry its own message).
import { describe, expect, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import { StreamMessageEvent } from '@libp2p/interface'
import { defaultCrypto } from '@libp2p/noise/crypto'
import { Uint8ArrayList } from 'uint8arraylist'
// noise's internals, not exported: the stream and cipher state its connections use.
import { toMessageStream } from '../../../node_modules/@libp2p/noise/dist/src/utils.js'
import { CipherState, ZEROLEN } from '../../../node_modules/@libp2p/noise/dist/src/protocol.js'
import { wrapCrypto } from '../../../node_modules/@libp2p/noise/dist/src/crypto.js'
import { BatchDecoder, inPlaceDecrypt, leanDecrypt, useLeanDecrypt } from '../../../src/network/lean-noise.js'
import { noiseCrypto } from '../../../src/network/noise-crypto.js'
import { nativeOpensslBuilt } from '../../helpers/native-build.js'
import { silentLog } from '../../helpers/silent-log.js'

const crypto = wrapCrypto(defaultCrypto)
const cipher = noiseCrypto()
const nativeCrypto = wrapCrypto(cipher.crypto)
const log = silentLog

/** The connection under the encrypted stream: reads are dispatched to it, and noise aborts it on a bad message. */
class FakeConnection extends EventTarget {
  readonly log = log
  readonly direction = 'inbound'
  readonly maxReadBufferLength = 64 * 1024 * 1024
  aborted: Error | undefined
  abort (err: Error): void { this.aborted ??= err }
  pause (): void {}
  resume (): void {}
  send (): boolean { return true }
  async close (): Promise<void> {}
}

interface Receiver { conn: FakeConnection, stream: ReturnType<typeof toMessageStream>, plain: Buffer[] }

function receiver (key: Uint8Array, lean: boolean | 'native'): Receiver {
  const cs = new CipherState(lean === 'native' ? nativeCrypto : crypto, key)
  const conn = new FakeConnection()
  const handshake = {
    encrypt: () => { throw new Error('receive only') },
    decrypt: (c: Uint8Array | Uint8ArrayList, dst?: Uint8Array) => cs.decryptWithAd(ZEROLEN, c, dst)
  }
  const stream = toMessageStream(conn as never, handshake as never)
  if (lean !== false) expect(useLeanDecrypt(stream, lean === 'native')).toBe(true)
  const plain: Buffer[] = []
  stream.addEventListener('message', (e: StreamMessageEvent) => {
    const d = e.data
    plain.push(Buffer.from(d instanceof Uint8Array ? d : d.subarray()))
  })
  return { conn, stream, plain }
}

/** Each read delivered as the socket would (a fresh copy: in-place decryption writes into it). */
function feed (r: Receiver, reads: Uint8Array[]): void {
  for (const b of reads) {
    if (r.stream.status !== 'open') break
    r.conn.dispatchEvent(new StreamMessageEvent(Uint8Array.from(b)))
  }
}

/** A deterministic generator, so that a failure can be replayed. */
function prng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Plaintext sizes: noise's boundaries (ciphertext 1,199 / 1,200 / 1,201 and 65,535 bytes), tiny, random. */
const EDGES = [0, 1, 15, 16, 17, 1183, 1184, 1185, 1199, 1200, 1201, 65_518, 65_519]

function size (rand: () => number): number {
  const r = rand()
  if (r < 0.5) return EDGES[Math.floor(rand() * EDGES.length)] as number
  if (r < 0.8) return Math.floor(rand() * 2_000)
  return Math.floor(rand() * 65_520)
}

/** Transport messages as noise sends them (2-byte big-endian length, ciphertext with its tag), one per plaintext. */
function seal (key: Uint8Array, plaintexts: Uint8Array[]): Uint8Array[] {
  const cs = new CipherState(crypto, key)
  return plaintexts.map(p => {
    const c = cs.encryptWithAd(ZEROLEN, p)
    const body = c instanceof Uint8Array ? c : c.subarray()
    const m = new Uint8Array(2 + body.byteLength)
    new DataView(m.buffer).setUint16(0, body.byteLength)
    m.set(body, 2)
    return m
  })
}

/** Cut the wire into reads of random lengths: single bytes, a few, up to a socket's 64 KiB, or more. */
function cut (wire: Uint8Array, rand: () => number): Uint8Array[] {
  const reads: Uint8Array[] = []
  for (let at = 0; at < wire.byteLength;) {
    const r = rand()
    const n = r < 0.1 ? 1 : r < 0.2 ? 1 + Math.floor(rand() * 3) : r < 0.6 ? 1 + Math.floor(rand() * 3_000) : r < 0.9 ? 65_536 : 1 + Math.floor(rand() * 140_000)
    reads.push(wire.subarray(at, at + n))
    at += n
  }
  return reads
}

function concat (parts: Uint8Array[]): Uint8Array { return Buffer.concat(parts) }

/** Run the same reads through upstream's decrypt and leanDecrypt; both must agree on everything observable. */
function both (key: Uint8Array, reads: Uint8Array[]): { upstream: Receiver, lean: Receiver } {
  const upstream = receiver(key, false)
  const lean = receiver(key, true)
  feed(upstream, reads)
  feed(lean, reads)
  expect(lean.stream.status).toBe(upstream.stream.status)
  expect(Buffer.concat(lean.plain).equals(Buffer.concat(upstream.plain))).toBe(true)
  expect(lean.conn.aborted?.message).toBe(upstream.conn.aborted?.message)
  if (cipher.native) {
    const native = receiver(key, 'native')
    feed(native, reads)
    expect(native.stream.status).toBe(upstream.stream.status)
    expect(Buffer.concat(native.plain).equals(Buffer.concat(upstream.plain))).toBe(true)
    expect(native.conn.aborted === undefined).toBe(upstream.conn.aborted === undefined)
    if (upstream.conn.aborted?.message === 'Invalid chunk') expect(native.conn.aborted?.message).toBe('Invalid chunk')
  }
  return { upstream, lean }
}

describe('leanDecrypt against @libp2p/noise\'s decrypt', () => {
  it('uses leanDecrypt on the stream under test, and upstream\'s is a different function', () => {
    const r = receiver(randomBytes(32), true)
    expect(Reflect.get(r.stream, 'decrypt')).toBe(leanDecrypt)
    expect(Reflect.get(receiver(randomBytes(32), 'native').stream, 'decrypt')).toBe(inPlaceDecrypt)
    // The native receiver is compared in every test below whenever the addon is built.
    expect(cipher.native).toBe(nativeOpensslBuilt() && process.env.PETAL_NATIVE_SHA256 !== '0')
    expect(Reflect.get(Object.getPrototypeOf(r.stream) as object, 'decrypt')).not.toBe(leanDecrypt)
    // And noise's length-prefix decoder is the batch decoder, on both lean receivers.
    expect(Reflect.get(r.stream, 'decoder')).toBeInstanceOf(BatchDecoder)
    expect(Reflect.get(receiver(randomBytes(32), false).stream, 'decoder')).not.toBeInstanceOf(BatchDecoder)
  })

  it('a read of several messages is handed on in one event, where upstream hands on one per message', () => {
    const key = randomBytes(32)
    const plaintexts = [randomBytes(65_519), randomBytes(65_519), randomBytes(300), randomBytes(0), randomBytes(65_519)]
    const wire = concat(seal(key, plaintexts))
    // One read with all five messages and the first bytes of a sixth (which waits for the rest).
    const [next] = seal(key, [randomBytes(10)]) as [Uint8Array]
    const { upstream, lean } = both(key, [concat([wire, next.subarray(0, 5)])])
    expect(upstream.plain.length).toBe(4) // the empty message is skipped by both
    expect(lean.plain.length).toBe(1)
    expect(lean.plain[0]?.equals(Buffer.concat(plaintexts))).toBe(true)
  })

  it('random sizes and random reads: the same plaintext, in order, and the stream stays open', () => {
    const rand = prng(0x5e55_1014)
    for (let round = 0; round < 60; round++) {
      const key = randomBytes(32)
      const plaintexts = Array.from({ length: 1 + Math.floor(rand() * 24) }, () => randomBytes(size(rand)))
      const wire = concat(seal(key, plaintexts))
      const { lean } = both(key, cut(wire, rand))
      expect(lean.stream.status).toBe('open')
      expect(lean.conn.aborted).toBeUndefined()
      expect(Buffer.concat(lean.plain).equals(Buffer.concat(plaintexts))).toBe(true)
    }
  })

  it('each boundary size alone, whole and split at every interesting point (length prefix cut in two, tag cut off)', () => {
    for (const n of EDGES) {
      const key = randomBytes(32)
      const p = randomBytes(n)
      const [m] = seal(key, [p]) as [Uint8Array]
      const points = new Set([1, 2, 3, m.byteLength - 16, m.byteLength - 1, m.byteLength >> 1].filter(k => k > 0 && k < m.byteLength))
      for (const at of [undefined, ...points]) {
        const reads = at === undefined ? [m] : [m.subarray(0, at), m.subarray(at)]
        const { lean } = both(key, reads)
        expect(lean.stream.status).toBe('open')
        expect(Buffer.concat(lean.plain).equals(p)).toBe(true)
        // Truncated: nothing of the message is delivered, nothing fails, it waits for the rest.
        if (at !== undefined) {
          const t = both(key, [m.subarray(0, at)])
          expect(t.lean.plain).toEqual([])
          expect(t.lean.stream.status).toBe('open')
        }
      }
    }
  })

  it('every plaintext size from 0 to 2,100 bytes and the 64 largest: the same as upstream, in one read and split in two', () => {
    const rand = prng(0x512e5)
    const sizes = [...Array.from({ length: 2_101 }, (_, i) => i), ...Array.from({ length: 64 }, (_, i) => 65_519 - i)]
    const key = randomBytes(32)
    const plaintexts = sizes.map(n => randomBytes(n))
    const msgs = seal(key, plaintexts)
    // Whole messages, one per read; then each message cut at a random point.
    const { lean } = both(key, msgs)
    expect(Buffer.concat(lean.plain).equals(Buffer.concat(plaintexts))).toBe(true)
    const split = msgs.flatMap(m => { const at = 1 + Math.floor(rand() * (m.byteLength - 1)); return [m.subarray(0, at), m.subarray(at)] })
    const again = both(key, split)
    expect(again.lean.stream.status).toBe('open')
    expect(Buffer.concat(again.lean.plain).equals(Buffer.concat(plaintexts))).toBe(true)
  })

  it('a message shorter than its tag fails the stream; a zero length is skipped without using a nonce', () => {
    const key = randomBytes(32)
    const [good] = seal(key, [randomBytes(40)]) as [Uint8Array]
    const zero = Uint8Array.of(0, 0)
    const skipped = both(key, [zero, good, zero])
    expect(skipped.lean.stream.status).toBe('open')
    expect(Buffer.concat(skipped.lean.plain).byteLength).toBe(40)
    for (const n of [1, 15]) {
      const short = concat([Uint8Array.of(0, n), randomBytes(n)])
      const { lean } = both(key, [short])
      expect(lean.stream.status).toBe('aborted')
      expect(lean.conn.aborted?.message).toBe('Invalid chunk')
    }
  })

  it('a tampered byte, a reordered, replayed or dropped message: the stream stops right there and the connection is aborted', () => {
    const rand = prng(0xbad_5eed)
    for (let round = 0; round < 80; round++) {
      const key = randomBytes(32)
      const plaintexts = Array.from({ length: 4 + Math.floor(rand() * 8) }, () => randomBytes(Math.max(1, size(rand))))
      const msgs = seal(key, plaintexts)
      const at = 1 + Math.floor(rand() * (msgs.length - 2))
      const kind = round % 4
      const bad = msgs.slice()
      if (kind === 0) {
        // A flipped bit in the ciphertext or the tag (not the length prefix: that only shifts where messages end).
        const m = Uint8Array.from(msgs[at] as Uint8Array)
        const i = 2 + Math.floor(rand() * (m.byteLength - 2))
        m[i] = (m[i] as number) ^ (1 << Math.floor(rand() * 8))
        bad[at] = m
      } else if (kind === 1) {
        bad[at] = msgs[at + 1] as Uint8Array
        bad[at + 1] = msgs[at] as Uint8Array
      } else if (kind === 2) {
        bad.splice(at, 0, msgs[at - 1] as Uint8Array)
      } else {
        bad.splice(at, 1)
      }
      const { lean } = both(key, cut(concat(bad), rand))
      expect(lean.stream.status, `round ${round}, kind ${kind}`).toBe('aborted')
      expect(lean.conn.aborted).toBeInstanceOf(Error)
      // Exactly the messages before the bad one were delivered.
      expect(Buffer.concat(lean.plain).equals(Buffer.concat(plaintexts.slice(0, at)))).toBe(true)
    }
  })

  it('a length prefix that was tampered with: the same end as upstream (a failed message, or a wait for bytes that never come)', () => {
    const rand = prng(0x1e_4617)
    for (let round = 0; round < 40; round++) {
      const key = randomBytes(32)
      const plaintexts = Array.from({ length: 3 + Math.floor(rand() * 5) }, () => randomBytes(size(rand)))
      const msgs = seal(key, plaintexts)
      const at = Math.floor(rand() * msgs.length)
      const m = Uint8Array.from(msgs[at] as Uint8Array)
      const i = Math.floor(rand() * 2)
      m[i] = (m[i] as number) ^ (1 << Math.floor(rand() * 8))
      msgs[at] = m
      const { lean } = both(key, cut(concat(msgs), rand))
      // Whatever was delivered is a prefix of the messages before the tampered one.
      expect(Buffer.concat(plaintexts.slice(0, at)).subarray(0, Buffer.concat(lean.plain).byteLength).equals(Buffer.concat(lean.plain))).toBe(true)
      expect(Buffer.concat(lean.plain).byteLength).toBeLessThanOrEqual(Buffer.concat(plaintexts.slice(0, at)).byteLength)
    }
  })
})
