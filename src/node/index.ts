/**
 * node: the composition root — opens the chain, builds the network and the syncer, wires their
 * events, starts them in order and stops them in reverse; watches the data directory for blocks
 * imported by other processes; publishes node-state.json for the CLI; implements `pull`.
 *
 * Holds no protocol or consensus logic of its own, and never prints (the CLI does).
 * Known exception to importing through this index: the CLI imports `state-file.ts` directly, so
 * `petal status` and `petal peers` read node-state.json without loading libp2p (~0.4 s).
 * @module
 */
export * from './errors.js'
export * from './options.js'
export * from './state-file.js'
export * from './node.js'
export * from './pull.js'
export * from './repair.js'
