/**
 * proof: the chain tree (an RFC 6962 tree over canonical blocks), checkpoints (C2SP signed notes),
 * and proofs that rows are in the chain — built from block files and a node store, checked
 * offline by the verifier in ./verifier.
 *
 * May import chain and below. The verifier part (./verifier) imports nothing at all beyond the
 * language and WebCrypto, so the same code runs in a browser; the builder imports its encoders
 * from there. This module does not store anything: persistence of the chain tree belongs to the
 * data directory (phase 2 of issue 11).
 * @module
 */
export * from './errors.js'
export * from './tree/index.js'
export * from './chain-tree.js'
export * from './checkpoint.js'
export * from './build.js'
export {
  verifyProof, parseProofDocument, parseTrustFile, parseWitnessKey, mergeTrust, emptyTrust,
  parseNote, formatNote, parsePetalCheckpoint, petalOrigin, encodeChainLeaf, encodeRow, toProofValue,
  type VerifyReport, type VerifyOptions, type RejectionCode, type TrustAnchors, type ProofDocument,
  type RowProofDocument, type BundleDocument, type ConsistencyDocument, type PetalCheckpoint, type ChainLeaf, type ProofValue
} from './verifier/index.js'
export * from './stored.js'
export * from './prove-rows.js'
export * from './table-chunks.js'
export * from './chunk-cache.js'
export * from './prove-query.js'
export * from './received.js'
export * from './witness.js'
