/**
 * network: the libp2p node of a chain — transports, identity (`node.key`), DHT discovery, known
 * peers with redial, the status / headers / block / chainparams protocols (both sides), block
 * announcements over gossip, message limits and timeouts, peer scoring and bans.
 *
 * The only importer of libp2p, @libp2p/*, @multiformats/* and multiformats. Serves what a
 * BlockSource gives it and reports what peers say; it never decides whether a block is valid or
 * which branch wins (sync and chain do), and never writes to the chain.
 * @module
 */
// The libp2p-free part (errors, wire format, limits): what sync may load.
export * from './core.js'
export * from './scoring.js'
export * from './source.js'
export * from './identity.js'
export * from './options.js'
export * from './addresses.js'
export * from './network.js'
export * from './fetch-chain.js'
export type { Verdict, AnnouncementSource } from './gossip.js'
export type { KnownPeer } from './known-peers.js'
export type { FetchedBlock } from './protocols/block.js'
export type { RateFloor } from './protocols/receive-file.js'
export type { PetalLibp2p } from './libp2p.js'
export { chainCid } from './discovery.js'
