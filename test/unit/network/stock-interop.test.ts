// The wire stays stock libp2p's: a node with none of Petal's transport changes (tcp, noise with its
// own crypto, yamux, as createLibp2p gives them) and a Petal libp2p node (corked writes, lean and
// in-place decryption, noise messages decoded in batches, the dialled socket's pooled reads:
// lean-transport.ts, pooled-reads.ts) stream megabytes to each other, whichever dials.
import { describe, expect, it } from 'vitest'
import { createHash, randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import type { Stream } from '@libp2p/interface'
import { loadOrCreateNodeKey } from '../../../src/network/index.js'
import { createPetalLibp2p } from '../../../src/network/libp2p.js'
import { batchDecoderConnections } from '../../../src/network/lean-noise.js'
import { pooledReadStats } from '../../../src/network/pooled-reads.js'
import { tmpDir } from '../../helpers/tmp.js'

const PROTOCOL = '/stock-interop-test/1.0.0'
const data = randomBytes(6 * 1024 * 1024 + 4_321)
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

async function serve (node: Libp2p): Promise<void> {
  await node.handle(PROTOCOL, async (stream: Stream) => {
    for (let off = 0; off < data.byteLength; off += 262_064) {
      if (!stream.send(data.subarray(off, off + 262_064))) await stream.onDrain()
    }
    await stream.close()
  })
}

async function fetchAll (node: Libp2p, from: Libp2p): Promise<string> {
  const stream = await node.dialProtocol(multiaddr(from.getMultiaddrs()[0]?.toString() ?? ''), PROTOCOL)
  const hash = createHash('sha256')
  for await (const chunk of stream) for (const part of chunk instanceof Uint8Array ? [chunk] : chunk) hash.update(part)
  return hash.digest('hex')
}

async function petal (name: string): Promise<Libp2p> {
  return await createPetalLibp2p({
    privateKey: await loadOrCreateNodeKey(join(tmpDir(), `${name}.key`)), chainId: 'stock-interop-test', listen: ['/ip4/127.0.0.1/tcp/0'], announce: [],
    maxConnections: 8, inboundPerSecond: 10, gater: {}, version: 'test'
  })
}

async function stock (): Promise<Libp2p> {
  return await createLibp2p({ addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] }, transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()] })
}

describe('a stock libp2p node and a Petal one', () => {
  it('a Petal node dials a stock one and receives its stream whole (pooled reads, batches)', async () => {
    const [server, client] = [await stock(), await petal('client')]
    try {
      await serve(server)
      const reads = pooledReadStats().sockets
      const batches = batchDecoderConnections()
      expect(await fetchAll(client, server)).toBe(sha(data))
      expect(pooledReadStats().sockets - reads).toBe(1)
      expect(batchDecoderConnections() - batches).toBe(1)
    } finally {
      await Promise.all([server.stop(), client.stop()])
    }
  })

  it('a stock node dials a Petal one and receives its stream whole', async () => {
    const [server, client] = [await petal('server'), await stock()]
    try {
      await serve(server)
      expect(await fetchAll(client, server)).toBe(sha(data))
    } finally {
      await Promise.all([server.stop(), client.stop()])
    }
  })
})
