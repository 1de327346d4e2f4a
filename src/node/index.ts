/**
 * node: the composition root — opens the chain, builds the network and the syncer, wires their
 * events, starts them in order and stops them in reverse; watches the data directory for blocks
 * imported by other processes; publishes node-state.json for the CLI; implements `pull`.
 *
 * Holds no protocol or consensus logic of its own, and never prints (the CLI does).
 * @module
 */
export * from './errors.js'
export * from './options.js'
export * from './state-file.js'
export * from './node.js'
export * from './pull.js'
