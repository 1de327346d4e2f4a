/**
 * node: the composition root — opens the chain, builds the network and the syncer, wires their
 * events, starts them in order and stops them in reverse; watches the data directory for blocks
 * imported by other processes; publishes node-state.json for the CLI; implements `pull`.
 *
 * Holds no protocol or consensus logic of its own, and never prints (the CLI does).
 * Known exception to importing through this index: the CLI imports `state-file.ts` directly, so
 * the commands that read node-state.json (`status`, `peers`, `append`, `seal`, `signimportblock`,
 * `import`, `reseal`) do not load libp2p (~0.4 s), and `take-lock.ts` (init, newchain and
 * adopt-daisy take node.lock) for the same reason (docs/architecture.md, "Known violations").
 * @module
 */
export type { NodeRole, NodeOptions } from './options.js'
export { PetalNode } from './node.js'
export { pull, type PullProgress } from './pull.js'
export type { AskedCheckpoints, PulledCheckpoints, SizeAsked } from './checkpoint-ask.js'
export { repairChain, type RepairReport } from './repair.js'
