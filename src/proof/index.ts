/**
 * proof: the chain tree (an RFC 6962 tree over canonical blocks), checkpoints (C2SP signed notes),
 * and proofs that rows are in the chain — built from block files and a node store, checked
 * offline by the verifier in ./verifier.
 *
 * May import chain and below. The verifier part (./verifier) imports nothing at all beyond the
 * language and WebCrypto, so the same code runs in a browser; the builder imports its encoders
 * from there. It keeps no chain data of its own: the chain tree's nodes and the kept checkpoints
 * are chain.db's (written through storage; the chain module writes the tree with the canonical
 * chain). Its one file is `proof-cache.db`, a cache of large tables' chunk roots that may be deleted.
 * @module
 */
export { ProofError } from './errors.js'
export { DAISY_NO_CHECKPOINT, missingSizeHint, noCheckpointHint, type AskedBlock, type CheckpointAudience, type NoCheckpointHint } from './no-checkpoint.js'
export { MemoryNodeStore, inclusionProof, consistencyProof, treeRoot } from './tree/index.js'
export { chainLeafHash, chainLeafOf, appendChainLeaves } from './chain-tree.js'
export { checkpointText, signatoryNoteKeyId, signCheckpoint, createCheckpoint, readCheckpointNote, addCosignature, signatoryVkey, witnessVkey } from './checkpoint.js'
export { buildProofBundle, buildRowProof, buildConsistencyProof, type RowLocator, type ChunkCache } from './build.js'
export { verifyProof, NOT_PROVEN_KEYS, parseTrustFile, parseWitnessKey, mergeTrust, encodeChainLeaf, type VerifyReport, type VerifyOptions, type RejectionCode, type TrustAnchors, type RowProofDocument, type BundleDocument, type ConsistencyDocument, type ProofValue } from './verifier/index.js'
export { storedChainTree, signTipCheckpoints, signTipCheckpointsLocked, storedTipCheckpoints, findCheckpoint, servedCheckpoints, type StoredCheckpoint } from './stored.js'
export { checkpointForHeight, proveRows, proveConsistency } from './prove-rows.js'
export { CHUNK_ROWS, ChunkPool, type TableChunks } from './table-chunks.js'
export { chunkCache } from './chunk-cache.js'
export { proveQueryAnswer } from './prove-query.js'
export { judgeCheckpoint, judgeAnsweredCheckpoint, keepReceivedCheckpoint, judgeGossipedCheckpoint } from './received.js'
export { verifiedNote } from './note-lines.js'
export { cosignCheckpoint, cosignableCheckpoint, witnessKeyOf } from './witness.js'
export { signBudget, signRequestedSize, type SignBudget, type UnsignedCode } from './on-request.js'
export { resetWitness, stuckWitness, witnessResets, type WitnessReset } from './witness-reset.js'
export { WITNESS_RESETS_FILE } from './witness-resets-file.js'
export { WITNESS_COSIGNED_FILE } from './witness-cosigned-file.js'
export { WITNESSES_FILE, OWN_WITNESS_META, knownWitnesses, parseWitnessesFile, witnessesFileProblem, witnessVkeySync, type KnownWitness } from './witness-keys.js'
export { listWitnesses, addWitness, removeWitness, type ListedWitness } from './witnesses-file.js'
