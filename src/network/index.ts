/**
 * network: the libp2p node of a chain — transports, identity (`node.key`), DHT discovery, known
 * peers with redial, the status / headers / block / chainparams / checkpoints protocols (both sides), block
 * announcements and signed checkpoints over gossip (judged and kept by handlers it is given),
 * message limits and timeouts, peer scoring and bans.
 *
 * The only importer of libp2p, @libp2p/*, @multiformats/* and multiformats. Serves what a
 * BlockSource gives it and reports what peers say; it never decides whether a block is valid or
 * which branch wins (sync and chain do), and never writes to the chain.
 * @module
 */
// The libp2p-free part (errors, wire format, limits): what sync may load.
export { protocolId, announceTopic, LIMITS, blockTransferBudgetMs, NetworkError, headerOf, parseHeader, encodeJson, decodeJson, parseHeadersRequest, parseHeadersReply, parseBlockMeta, type WireHeader, type StatusMessage } from './core.js'
export { RECOVERY_PER_MINUTE, PeerScores, type Offence } from './scoring.js'
export { chainSource, type BlockSource } from './source.js'
export { peerKeyMessage, type CheckpointsReply, type PeerSigner, type UnsignedReason } from './wire.js'
export { loadOrCreateNodeKey } from './identity.js'
export { DEFAULT_NETWORK_OPTIONS, withDefaults, type NetworkOptions } from './options.js'
export { parseMultiaddr, addrPeerId, parseDialAddress } from './addresses.js'
export { Network, type PeerSummary } from './network.js'
export { fetchChainFromPeer, openBlockFetcher, type BlockFetcher } from './fetch-chain.js'
export type { Verdict, AnnouncementSource } from './gossip.js'
export type { FetchedBlock, RangeItem } from './protocols/block.js'
export { chainCid } from './discovery.js'
export { heapGrowth } from './upload-heap.js'
