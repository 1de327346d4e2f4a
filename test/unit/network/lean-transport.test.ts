// lean-transport.ts. lean-noise.ts: noise transport messages decrypted without @libp2p/noise's
// copy of each one: the same plaintext from messages split across reads (as a socket delivers
// them), large ones through node:crypto and small ones in place through noise's WebAssembly; a
// tampered byte or a message shorter than its tag fails. corked-writes.ts: a send's buffers reach
// the peer whole and in order, and a full socket still asks for 'drain'. Real libp2p connections
// use both (an upgrade of @libp2p/noise or @libp2p/tcp that they no longer fit is caught here), and
// the dialling end reads its socket into pools (pooled-reads.ts); a node's process keeps freed memory
// (crypto/openssl-native.ts's keepFreedMemory).
import { describe, expect, it } from 'vitest'
import { createHash, randomBytes } from 'node:crypto'
import { createServer, connect, type Socket } from 'node:net'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { defaultCrypto } from '@libp2p/noise/crypto'
import type { Stream } from '@libp2p/interface'
import { Uint8ArrayList } from 'uint8arraylist'
import { loadOrCreateNodeKey } from '../../../src/network/index.js'
import { createPetalLibp2p, type PetalLibp2p } from '../../../src/network/libp2p.js'
import { corkedConnections, useCorkedWrites } from '../../../src/network/corked-writes.js'
import { batchDecoderConnections, leanDecrypt, leanDecryptConnections } from '../../../src/network/lean-noise.js'
import { pooledReadStats } from '../../../src/network/pooled-reads.js'
import { leanEncryptConnections } from '../../../src/network/lean-encrypt.js'
import { noiseCrypto } from '../../../src/network/noise-crypto.js'
import { freedMemoryKept } from '../../../src/crypto/openssl-native.js'
import { tmpDir } from '../../helpers/tmp.js'

const KEY = randomBytes(32)
const AD = new Uint8Array(0)

/** noise's nonce: 4 zero bytes, then the message counter, little-endian. */
function nonce (n: number): Uint8Array {
  const b = new Uint8Array(12)
  new DataView(b.buffer).setUint32(4, n, true)
  return b
}

/** The sending side: each plaintext as one transport message (ciphertext and tag), with the counter noise keeps. */
function seal (plaintexts: Uint8Array[]): Uint8Array[] {
  return plaintexts.map((p, i) => defaultCrypto.chaCha20Poly1305Encrypt(p, nonce(i), AD, KEY).subarray())
}

/** The receiving side's cipher state, as @libp2p/noise's handshake result gives it to the stream. */
function receiver (): { handshake: { decrypt: (c: Uint8Array | Uint8ArrayList, dst?: Uint8Array) => Uint8Array | Uint8ArrayList }, decrypt: typeof leanDecrypt } {
  let n = 0
  return { handshake: { decrypt: (c, dst) => defaultCrypto.chaCha20Poly1305Decrypt(c, nonce(n++), AD, KEY, dst) }, decrypt: leanDecrypt }
}

/** A message as two reads of a socket, split at `at`. */
function split (m: Uint8Array, at: number): Uint8ArrayList {
  return new Uint8ArrayList(m.slice(0, at), m.slice(at))
}

describe('noise transport messages decrypted without a copy', () => {
  it('gives back the plaintext of large and small messages, whole or split across reads', () => {
    const plain = [randomBytes(65_519), randomBytes(500), randomBytes(40_000), randomBytes(1), randomBytes(65_519)]
    const sealed = seal(plain)
    expect(sealed[0]?.byteLength).toBe(65_535)
    const r = receiver()
    const got = [
      r.decrypt(split(sealed[0] as Uint8Array, 65_536 - 2)),
      r.decrypt(split(sealed[1] as Uint8Array, 100)),
      r.decrypt(sealed[2] as Uint8Array),
      r.decrypt(split(sealed[3] as Uint8Array, 16)),
      r.decrypt(new Uint8ArrayList(...Array.from({ length: 7 }, (_, i) => (sealed[4] as Uint8Array).slice(i * 10_000, (i + 1) * 10_000))))
    ]
    for (const [i, g] of got.entries()) expect(Buffer.from(g.subarray()).equals(plain[i] as Uint8Array)).toBe(true)
  })

  it('fails on a tampered byte, in a large message and in a small one, and on a message shorter than its tag', () => {
    for (const size of [65_519, 300]) {
      const [m] = seal([randomBytes(size)])
      const bad = Uint8Array.from(m as Uint8Array)
      bad[size >> 1] = (bad[size >> 1] ?? 0) ^ 1
      expect(() => receiver().decrypt(split(bad, size >> 2))).toThrow()
      // The untampered message decrypts with a fresh counter: the failure was the byte's.
      expect(receiver().decrypt(split(m as Uint8Array, size >> 2)).byteLength).toBe(size)
    }
    expect(() => receiver().decrypt(new Uint8Array(10))).toThrow('Invalid chunk')
  })

  it('corked: every buffer of a send arrives in order; a send larger than the socket takes asks for drain', async () => {
    const received: Buffer[] = []
    let server!: Socket
    const listener = createServer(s => { server = s; s.pause(); s.on('data', b => { received.push(b) }) })
    await new Promise<void>(resolve => { listener.listen(0, '127.0.0.1', resolve) })
    const port = (listener.address() as { port: number }).port
    const socket = connect(port, '127.0.0.1')
    await new Promise<void>(resolve => { socket.once('connect', resolve) })
    try {
      const conn = { socket, sendData: (_d: Uint8ArrayList) => ({ sentBytes: 0, canSendMore: false }) }
      expect(useCorkedWrites(conn)).toBe(true)
      expect(useCorkedWrites({ sendData: () => {} })).toBe(false)
      // Many small buffers and a few large ones, as noise hands them over (length, pieces, tag).
      const parts = Array.from({ length: 200 }, (_, i) => randomBytes(i % 3 === 0 ? 2 : i % 3 === 1 ? 60_000 : 16))
      const all = Buffer.concat(parts)
      let sent = 0
      let askedForDrain = false
      for (let i = 0; i < parts.length; i += 10) {
        const r = conn.sendData(new Uint8ArrayList(...parts.slice(i, i + 10)))
        sent += r.sentBytes
        if (!r.canSendMore) askedForDrain = true
      }
      expect(sent).toBe(all.byteLength)
      // The receiver reads nothing yet: 4 MB do not fit the socket's buffers, so the sender must wait for 'drain'.
      expect(askedForDrain).toBe(true)
      const drained = new Promise<void>(resolve => { socket.once('drain', resolve) })
      server.resume()
      await drained
      socket.end()
      await new Promise<void>(resolve => { server.once('end', resolve) })
      expect(Buffer.concat(received).equals(all)).toBe(true)
    } finally {
      socket.destroy()
      listener.close()
    }
  })

  it('is what real connections use: megabytes between two nodes arrive whole', async () => {
    const nodes: PetalLibp2p[] = []
    const node = async (name: string): Promise<PetalLibp2p> => {
      const n = await createPetalLibp2p({
        privateKey: await loadOrCreateNodeKey(join(tmpDir(), `${name}.key`)), chainId: 'lean-noise-test', listen: ['/ip4/127.0.0.1/tcp/0'], announce: [],
        maxConnections: 8, inboundPerSecond: 10, gater: {}, version: 'test'
      })
      nodes.push(n)
      return n
    }
    try {
      const before = leanDecryptConnections()
      const batchBefore = batchDecoderConnections()
      const corkedBefore = corkedConnections()
      const encryptBefore = leanEncryptConnections()
      const readsBefore = pooledReadStats()
      const server = await node('server')
      const client = await node('client')
      const data = randomBytes(5 * 1024 * 1024 + 12_345)
      await server.handle('/lean-noise-test/1.0.0', async (stream: Stream) => {
        for (let off = 0; off < data.byteLength; off += 256 * 1024 + 7) {
          if (!stream.send(data.subarray(off, off + 256 * 1024 + 7))) await stream.onDrain()
        }
        await stream.close()
      })
      const stream = await client.dialProtocol(multiaddr(server.getMultiaddrs()[0]?.toString() ?? ''), '/lean-noise-test/1.0.0')
      const hash = createHash('sha256')
      let bytes = 0
      for await (const chunk of stream) {
        for (const part of chunk instanceof Uint8Array ? [chunk] : chunk) hash.update(part)
        bytes += chunk.byteLength
      }
      expect(bytes).toBe(data.byteLength)
      expect(hash.digest('hex')).toBe(createHash('sha256').update(data).digest('hex'))
      // Both ends of the connection (one process here) decrypt with leanDecrypt.
      expect(leanDecryptConnections() - before).toBe(2)
      expect(batchDecoderConnections() - batchBefore).toBe(2)
      expect(corkedConnections() - corkedBefore).toBe(2)
      // With the native cipher, both ends also seal each send's messages into one buffer (lean-encrypt.ts).
      expect(leanEncryptConnections() - encryptBefore).toBe(noiseCrypto().native ? 2 : 0)
      // The dialling end reads its socket into pools (pooled-reads.ts): one socket, and it read.
      expect(pooledReadStats().sockets - readsBefore.sockets).toBe(1)
      expect(pooledReadStats().reads).toBeGreaterThan(readsBefore.reads)
      // The process keeps freed memory for the next buffers (malloc-keep.c) where the cipher's addon is loaded (on glibc).
      if (noiseCrypto().native) expect(freedMemoryKept()).toBe((process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header?.glibcVersionRuntime !== undefined)
    } finally {
      await Promise.all(nodes.map(async n => { await n.stop() }))
    }
  })
})
