/**
 * storage: the data directory — block files in Daisy's sharded layout and forks/, their seals,
 * crash-safe placement (fsync + rename, a journal for multi-file moves), the `chain.db` index and
 * its cross-process write lock, chainparams.json, and the keystore.
 *
 * Knows files and records, not consensus: it never decides whether a block is valid or which
 * branch wins. With block, the only importer of better-sqlite3.
 * @module
 */
export * from './errors.js'
export * from './layout.js'
export * from './chainparams.js'
export * from './index-db.js'
export * from './block-files.js'
export * from './journal.js'
export * from './keystore.js'
export * from './sqlite.js'
export * from './node-lock.js'
export * from './chain-tree-table.js'
export * from './checkpoint-table.js'
export * from './writer-record.js'
export * from './data-file.js'
export * from './system-error.js'
