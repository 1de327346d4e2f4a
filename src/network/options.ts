import { BLOCK_RATE_FLOOR } from './constants.js'
import type { DiscoveryOptions } from './discovery.js'
import type { RateFloor } from './protocols/receive-file.js'
import type { RedialOptions } from './known-peers.js'

/** Tunables of the network layer (docs/network.md); tests shorten the timers. */
export interface NetworkOptions {
  /** Multiaddrs to listen on; [] makes an outbound-only node (behind NAT). */
  listen: string[]
  /** Addresses to advertise instead of the listen addresses (public address behind a port forward). */
  announce: string[]
  /** Peers to dial at start and whenever disconnected (multiaddrs ending in /p2p/<peer id>). */
  bootstrap: string[]
  /** Where peers met are remembered across restarts; undefined = not persisted. */
  peersFile?: string
  maxConnections: number
  inboundPerSecond: number
  banMs: number
  /** DHT discovery; false disables the search (the DHT still answers others). */
  discovery: DiscoveryOptions | false
  redial: RedialOptions
  /** Tick of the known-peers redial loop. */
  redialTickMs: number
  /** Block downloads slower than this are cut and the peer scored down (docs/protocol.md). */
  blockRateFloor: RateFloor
  version: string
}

export const DEFAULT_LISTEN = ['/ip4/0.0.0.0/tcp/2017']

export const DEFAULT_NETWORK_OPTIONS: NetworkOptions = {
  listen: DEFAULT_LISTEN,
  announce: [],
  bootstrap: [],
  maxConnections: 64,
  inboundPerSecond: 50,
  banMs: 15 * 60_000,
  discovery: { initialMs: 1_000, maxMs: 60_000, provideEveryMs: 10 * 60_000, targetPeers: 8 },
  redial: { baseMs: 1_000, maxMs: 5 * 60_000, maxRemembered: 64, parallel: 4 },
  redialTickMs: 500,
  blockRateFloor: BLOCK_RATE_FLOOR,
  version: '0.1.0'
}

/** Options filled in with the defaults. An explicit `undefined` means "the default", not "none". */
export function withDefaults (options: Partial<NetworkOptions>): NetworkOptions {
  const d = DEFAULT_NETWORK_OPTIONS
  return {
    listen: options.listen ?? d.listen,
    announce: options.announce ?? d.announce,
    bootstrap: options.bootstrap ?? d.bootstrap,
    peersFile: options.peersFile ?? d.peersFile,
    maxConnections: options.maxConnections ?? d.maxConnections,
    inboundPerSecond: options.inboundPerSecond ?? d.inboundPerSecond,
    banMs: options.banMs ?? d.banMs,
    discovery: options.discovery ?? d.discovery,
    redial: options.redial ?? d.redial,
    redialTickMs: options.redialTickMs ?? d.redialTickMs,
    blockRateFloor: options.blockRateFloor ?? d.blockRateFloor,
    version: options.version ?? d.version
  }
}
