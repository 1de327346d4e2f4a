/**
 * network/core: the libp2p-free part of the network module — its errors, its wire format and the
 * limits and timeouts of the protocol — for modules that deal with peers' messages without running
 * a libp2p node (sync). Loading it never loads libp2p (test/unit/imports.test.ts checks it);
 * `network/index.ts` re-exports all of it.
 * @module
 */
export { protocolId, announceTopic, LIMITS, MAX_UPLOADS_PER_PEER, blockTransferBudgetMs } from './constants.js'
export { NetworkError } from './errors.js'
export { headerOf, parseHeader, encodeJson, decodeJson, parseHeadersRequest, parseHeadersReply, parseBlockMeta, type WireHeader, type StatusMessage } from './wire.js'
