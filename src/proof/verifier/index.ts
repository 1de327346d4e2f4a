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
export * from './bytes.js'
export * from './sha256.js'
export * from './merkle.js'
export * from './values.js'
export * from './chain-leaf.js'
export * from './note.js'
export * from './checkpoint.js'
export * from './p256.js'
export * from './note-keys.js'
export * from './document.js'
export * from './trust.js'
export * from './verify.js'
