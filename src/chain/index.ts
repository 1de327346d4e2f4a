/**
 * chain: consensus — the validation pipeline (one step per file, against an immutable view of the
 * parent), key state by height, quorum rules, fork choice, import with side branches and reorgs,
 * re-sealing orphaned blocks, verify and reindex.
 *
 * Must not know about the network, the CLI or queries: it is driven through its functions and
 * reports through return values, coded errors and the injected logger.
 * @module
 */
export * from './errors.js'
export * from './quorum.js'
export * from './key-state.js'
export * from './fork-choice.js'
export * from './chain.js'
export * from './accept.js'
export * from './import.js'
export * from './sign-import.js'
export * from './genesis.js'
export * from './endorsement.js'
export * from './reseal.js'
export * from './replay.js'
export * from './verify.js'
export * from './reindex.js'
export * from './repair.js'
export { loadCandidate, validateOnParent, checkGenesis, type Candidate, type ParentContext } from './validate/index.js'
export * from './chain-tree.js'
