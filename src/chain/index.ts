/**
 * chain: consensus — the validation pipeline (one step per file, against an immutable view of the
 * parent), key state by height, quorum rules, fork choice, import with side branches and reorgs,
 * re-sealing orphaned blocks, verify and reindex.
 *
 * Must not know about the network, the CLI or queries: it is driven through its functions and
 * reports through return values, coded errors and the injected logger.
 * @module
 */
export { ChainError } from './errors.js'
export { daisyQuorum, quorumFor } from './quorum.js'
export { KeyState } from './key-state.js'
export { isBetterTip } from './fork-choice.js'
export { MAX_FUTURE_MS, Chain } from './chain.js'
export type { ImportResult } from './accept.js'
export { IMPORT_PASSES, importBlock, loadBlock, discardLoaded, type LoadedBlock } from './import.js'
export { importBatch, type BatchOutcome } from './import-batch.js'
export { LoadPool } from './load-pool.js'
export { SIGN_IMPORT_PASSES, signImport } from './sign-import.js'
export { checkEmptyDir, prepareEmptyDir, removeMadeDir, createChain, installGenesis } from './genesis.js'
export { createEndorsement, parseEndorsement } from './endorsement.js'
export { keyOpCarries, resealKeys, resealOrphan, type ResealOptions } from './reseal.js'
export { blockDescription, parseResealMark, resealDescription, resealMarkOf } from './reseal-mark.js'
export { contentIsBack, deepCopyOnChain, judgeOrphans, originOf, pendingOrphans, resealEach, type OrphanVerdict, type ResealLedger, type ResealRecorder } from './orphans.js'
export { listOrphans, orphanEntryJson, type ListOrphansOptions, type OrphanEntry, type OrphanReason } from './orphan-list.js'
export { verifyChain, type VerifyReport } from './verify.js'
export { reindexChain } from './reindex.js'
export { refuseIndexBehindFiles } from './recover.js'
export { findDamagedBlocks, restoreBlock, type Damage, type DamagedBlock, type ScanProgress } from './repair.js'
export { loadCandidate, validateOnParent, checkGenesis, type SealVerdict } from './validate/index.js'
export { chainTreeLeaf } from './chain-tree.js'
export { checkDaisyChain, type DaisyBlock, type DaisyCheckReport, type DaisyWarning } from './daisy-check.js'
export { daisyChainParams, daisyWarnings, updateDaisyState, type DaisyStateReport } from './daisy-state.js'
export { adoptedHistoryError, ADOPTED_HISTORY_DIR, ADOPTED_STATE_DIR, adoptDaisy, checkAdoption, daisyCommitmentOf, type AdoptionCheck, type AdoptReport } from './daisy-adopt.js'
export { DAISY_COMMITMENT_META, recordedDaisyCommitment } from './daisy-commitment.js'
