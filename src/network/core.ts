/**
 * network/core: the libp2p-free part of the network module — its errors, its wire format and the
 * limits and timeouts of the protocol — for modules that deal with peers' messages without running
 * a libp2p node (sync). Loading it never loads libp2p (test/unit/imports.test.ts checks it);
 * `network/index.ts` re-exports all of it.
 * @module
 */
export * from './constants.js'
export * from './errors.js'
export * from './wire.js'
