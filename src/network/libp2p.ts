import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import { identify, type Identify } from '@libp2p/identify'
import { ping, type Ping } from '@libp2p/ping'
import { kadDHT, passthroughMapper, type KadDHT } from '@libp2p/kad-dht'
import { gossipsub, type GossipSub } from '@libp2p/gossipsub'
import type { ConnectionGater, PrivateKey } from '@libp2p/interface'
import { keepFreedMemory } from '../crypto/index.js'
import { LIMITS, protocolId, STREAM_READ_BUFFER, STREAM_WINDOW, TIMEOUTS } from './constants.js'
import { leanTransport } from './lean-transport.js'
import { noiseCrypto } from './noise-crypto.js'
import { pooledReads } from './pooled-reads.js'
import { skipRepeatedProtocolMerges } from './protocol-merges.js'
import { clearTimersAtStop } from './stop-timers.js'

export type PetalLibp2p = Libp2p<{ identify: Identify, ping: Ping, dht: KadDHT, pubsub: GossipSub }>

export interface Libp2pConfig {
  privateKey: PrivateKey
  chainId: string
  listen: string[]
  announce: string[]
  maxConnections: number
  /** Inbound connections accepted per second from one host (libp2p's default of 5 is low for a LAN). */
  inboundPerSecond: number
  gater: ConnectionGater
  version: string
  /** Start at once (libp2p's default) or leave it to the caller, after handlers are registered. */
  start?: boolean
}

/**
 * Build (and start) the libp2p node of one chain: TCP + noise + yamux, identify, ping, a private
 * kad-dht in server mode, gossipsub (docs/protocol.md describes the stack, its protocols and limits).
 */
export async function createPetalLibp2p (c: Libp2pConfig): Promise<PetalLibp2p> {
  const cipher = noiseCrypto()
  // Block transfers allocate and free 1 MiB buffers block after block: freed memory is kept for
  // the next ones instead of going back to the kernel and faulting in again (openssl-native.ts).
  keepFreedMemory()
  const node = await createLibp2p({
    start: c.start ?? true,
    privateKey: c.privateKey,
    nodeInfo: { name: 'petal', version: c.version, userAgent: `petal/${c.version}` },
    addresses: { listen: c.listen, announce: c.announce },
    // The sockets this node dials read up to 1 MiB at a time into pools of their own (Node's
    // `onread`, which @libp2p/tcp passes to net.connect with the rest of `dialOpts`): pooled-reads.ts.
    transports: [tcp({ dialOpts: { noDelay: true, ...pooledReads() } })],
    // Each send in one system call, and noise's decryption without its extra copy (lean-transport.ts);
    // ChaCha20-Poly1305 through OpenSSL when the addon is built, decrypting in place (noise-crypto.ts).
    connectionEncrypters: [leanTransport(noise({ crypto: cipher.crypto }), cipher.native)],
    streamMuxers: [yamux({ streamOptions: { maxStreamWindowSize: STREAM_WINDOW, maxReadBufferLength: STREAM_READ_BUFFER } })],
    connectionGater: c.gater,
    connectionManager: {
      maxConnections: c.maxConnections,
      inboundConnectionThreshold: c.inboundPerSecond,
      dialTimeout: TIMEOUTS.dial
    },
    // A ping unanswered for TIMEOUTS.ping (not libp2p's 5 s) aborts the connection: a peer held
    // for a few seconds is alive (docs/protocol.md, "Limits and timeouts").
    connectionMonitor: { pingTimeout: { minTimeout: TIMEOUTS.ping } },
    // Bootstrap peers are dialled by KnownPeers (with backoff, and remembered), not by libp2p.
    peerDiscovery: [],
    services: {
      identify: identify(),
      // kad-dht pings through this service too; the default of one outbound stream collides.
      ping: ping({ maxOutboundStreams: 4 }),
      dht: kadDHT({
        protocol: protocolId(c.chainId, 'kad'),
        // Server mode even without a public address, and keep private addresses: on a LAN or
        // loopback every peer is "private", and dropping them leaves the routing table empty.
        clientMode: false,
        peerInfoMapper: passthroughMapper,
        allowQueryWithZeroPeers: true
      }),
      pubsub: gossipsub({
        allowPublishToZeroTopicPeers: true,
        ignoreDuplicatePublishError: true,
        maxInboundDataLength: LIMITS.gossipRpc
      })
    }
  })
  // A stream's protocol is written to the peer store once, not re-merged for every stream (protocol-merges.ts).
  skipRepeatedProtocolMerges(node)
  // Its stop leaves no timer to hold the process up to a second after it (stop-timers.ts).
  clearTimersAtStop(node)
  return node
}
