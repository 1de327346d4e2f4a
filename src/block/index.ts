/**
 * block: one block file — read and structurally validate an untrusted SQLite file, parse its
 * `_meta`, `_keys` and `_tables`, compute its manifest (per-table Merkle roots), build and seal new
 * blocks, and sign or verify the three kinds of block signatures.
 *
 * With storage, the only importer of better-sqlite3. Knows nothing of chains, parents or key
 * state: whether a block fits a chain is decided in `chain`.
 * @module
 */
export * from './constants.js'
export * from './errors.js'
export * from './sqlite-header.js'
export * from './sqlite.js'
export * from './schema.js'
export * from './row-codec.js'
export * from './manifest.js'
export * from './header.js'
export * from './keyops.js'
export * from './signing.js'
export * from './read.js'
export * from './build.js'
export * from './parallel-roots.js'
