/**
 * block: one block file — read and structurally validate an untrusted SQLite file, parse its
 * `_meta`, `_keys` and `_tables`, compute its manifest (per-table Merkle roots), build and seal new
 * blocks, and sign or verify the three kinds of block signatures.
 *
 * With storage, the only importer of better-sqlite3. Knows nothing of chains, parents or key
 * state: whether a block fits a chain is decided in `chain`.
 * @module
 */
export { GENESIS_PREVIOUS_HASH, META_DDL, KEYS_DDL, TABLES_DDL, MAX_USER_TABLES, QUORUM_RULES, isQuorumRule, CONSENSUS_BOUNDS, type QuorumRule } from './constants.js'
export { BLOCK_ERROR_CODES, BlockError, isInvalidBlock, checkRegularInput } from './errors.js'
export { neutraliseModules, openBlockReadonly, hardenReadonly, guardSqlite, quoteIdent, diskFailureOf, MAP_MIN_BYTES, type Db } from './sqlite.js'
export { compareNames, readSchemaObjects, inspectSchema, affinityOf, type UserTable, type Affinity } from './schema.js'
export { encodeRow, type SqlValue } from './row-codec.js'
export { canonicalOrder, canonicalRowsSql, canonicalSource, tableRoot, smallTableRoot, hashRows, rowsRootOf, computeManifest, type TableEntry } from './manifest.js'
export { headerFromMeta, headerToMeta, type GenesisParams, type BlockHeader, type DaisyCommitment } from './header.js'
export { parseKeyOpRow, type KeyOp, type KeyOpRow } from './keyops.js'
export { prevMessage, sealMessage, keyOpMessage, signPrevious, verifyPrevious, signSeal, verifySeal, verifyPreviousAndSeal, sameSealedFields, signKeyOp, verifyKeyOp, type SealedFields } from './signing.js'
export { readBlockFile, type BlockFile, type BlockHead } from './read.js'
export { readBlockPages } from './read-pages.js'
export { readBlockLean } from './read-lean.js'
export { adoptManifestWasm, manifestWasm, builtWasmFiles, leafModuleBytes, LEAF_WASM_FILE, type ManifestWasm } from './leaf-wasm.js'
export type { HeldBytes } from './page-file.js'
export { BUILD_PASSES, buildBlock, type BuildBlockOptions } from './build.js'
export { CHUNK_ROWS, TableRootPool, tableRootParallel } from './parallel-roots.js'
export { TableShare } from './shared-roots.js'
export { cellAad, cellAadPrefix, cellAadAt, encodeCellValue, decodeCellValue, sealCell, openCell, openCellAt, type EncryptedColumn, type EncryptSpec, type RewrapSpec, type RecipientRow } from './confidential.js'
