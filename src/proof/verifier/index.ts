/**
 * proof/verifier: checks Petal proofs offline — RFC 6962 paths, chain-tree leaves, C2SP signed
 * notes and checkpoints, P-256 signatures — and reports each step.
 *
 * Imports nothing outside this folder and uses only the language and WebCrypto
 * (globalThis.crypto.subtle, TextEncoder/TextDecoder): no Buffer, no node: modules, so the explorer
 * runs this same code in a browser. The proof builder (../) imports its encoders from here, so each
 * format has one definition.
 * @module
 */
export { fromHex, toBase64, fromBase64, utf8 } from './bytes.js'
export { verifyInclusion, verifyConsistency } from './merkle.js'
export { formatReal, parseReal, parseInteger, parseProofValue, encodeRow, toProofValue, tableEntryValues, type ProofValue } from './values.js'
export { encodeChainLeaf, type ChainLeaf } from './chain-leaf.js'
export { parseNote, formatNote, keyIdHex, keyIdOfDigest, MAX_NOTE_SIGNATURES, type SignedNote } from './note.js'
export { parseCheckpointText, formatCheckpointText, petalOrigin, tipLine, parsePetalCheckpoint, type PetalCheckpoint } from './checkpoint.js'
export { derToP1363, verifyP256 } from './p256.js'
export { witnessKeyIdInput, signatoryKey, witnessKey, cosignedMessage, joinCosignature, verifyNoteSignature, formatVkey, parseVkey } from './note-keys.js'
export { PROOF_VERSION, type BlockPart, type TablePart, type RowPart, type ConsistencyPart, type RowProofDocument, type BundleDocument, type ConsistencyDocument } from './document.js'
export { parseTrustFile, parseWitnessKey, mergeTrust, type TrustAnchors } from './trust.js'
export { verifyProof, NOT_PROVEN_KEYS, type RejectionCode, type VerifyOptions, type VerifyReport } from './verify.js'
