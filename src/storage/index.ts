/**
 * storage: the data directory — block files in Daisy's sharded layout and forks/, their seals,
 * crash-safe placement (fsync + rename, a journal for multi-file moves), the `chain.db` index and
 * its cross-process write lock, chainparams.json, the keystore, peers.json (the peers a node met:
 * the network's KnownPeers writes it, status and repair read it), and a Daisy directory (read-only).
 *
 * Knows files and records, not consensus: it never decides whether a block is valid or which
 * branch wins. With block, the only importer of better-sqlite3.
 * @module
 */
export { StorageError, DaisyError } from './errors.js'
export { BlockPaths, DataDir, sealPathOf, shardName, blockFileName, DAISY_SOURCE_FILE } from './layout.js'
export { DEFAULT_CONSENSUS, chainParamsToJson, parseChainParams, readChainParams, writeChainParams, parseNewChainInput, type ChainParams, type NewChainInput } from './chainparams.js'
export { IndexDb } from './index-db.js'
export { showIndexMoves, type MoveProgress } from './index-migrate.js'
export { indexUnusable, WRITER_RECORD } from './index-open-failure.js'
export type { LockOptions, WriteLockOptions } from './index-write-lock.js'
export type { BlockRecord, KeyOpRecord, SignerRecord, TableRecord } from './index-records.js'
export { tmpBlockPath, tmpOwnPrefix, cleanTmp, readSeal, prepareBlock, prepareBlockFiles, prepareBlockFilesSync, prepareBlocks, placeBlock, replaceBlock, removeBlock, writeSealFile, listForkFiles, lastBlockFile } from './block-files.js'
export { TmpFilePool } from './tmp-files.js'
export { prepareGroup, writeSealUnflushed, type GroupFile } from './group-flush.js'
export { syncFileSystem, syncfsWanted, setSyncfsMode, stopSyncfsHelper, useNativeSyncfs, SYNCFS_MIN_BLOCKS } from './syncfs.js'
export { writeJournal, writeJournalAsync, readJournal, removeJournal, applyMoves, applyMovesGrouped, movesDone, undoMoves, type Move } from './journal.js'
export { Keystore, type KeyEntry, type KeyPurpose } from './keystore.js'
export { closeOrLeave, closeWal, leaveConnectionsAtExit, openSqlite, openSqliteReadonly, type SqliteDb, type SqliteStatement } from './sqlite.js'
export { NodeLock } from './node-lock.js'
export type { CheckpointRecord } from './checkpoint-table.js'
export { OWN_WITNESS_META, WITNESS_KEY_LAST_META, WITNESS_LAST_META, WITNESS_RESETS_META } from './checkpoint-table.js'
export { clearOwnWriterRecord, describeWriter, REINDEX_LOCK, REINDEX_WORK, writeWriterRecord } from './writer-record.js'
export { fileKind, checkDataFile, dataFileExists, openDataFileSync, openNoFollowSync, readWholeSync, regularSizeSync } from './data-file.js'
export { openRefusedByDisk, systemFailure } from './system-error.js'
export { commitWal, LOOK_INDEX, rewriteLog, rewriteLogWaiting, undoFailedCommit } from './wal-commit.js'
export { fdatasyncWal } from './wal-sync.js'
export { claimLog } from './wal-claims.js'
export { loadWalCheck } from './wal-index.js'
export { DaisyDb, DaisyDir, DAISY_DEFAULT_CHAIN, daisyReadOnly, isDaisyDir, missingBlockHint, readDaisyChainParams, readDaisyPrivateKeys, type DaisyBlockRow, type DaisyChainParams } from './daisy-dir.js'
export { MAX_ADDRS_PER_PEER, readPeersFile, rememberPeerAddrs, writePeersFile, type RememberedPeer } from './peers-file.js'
export { indexFiles, refuseUnplaceable, refuseUnplaceableRange, refuseUnwritable, unwritableFix, writeRefusal } from './write-access.js'
export { noteTip, readTipRecord, TIP_RECORD_FILE, type TipRecord } from './index-tip-record.js'
