/**
 * crypto: P-256 keys and key ids, v2 (domain-separated, low-S) and v1 (Daisy, raw digest)
 * ECDSA signatures, SHA-256 of bytes and files, RFC 6962 Merkle trees, and passphrase
 * encryption of private keys.
 *
 * The only importer of @noble/*. Knows nothing of blocks, chains or files beyond hashing them.
 * @module
 */
export * from './errors.js'
export * from './hash.js'
export * from './keys.js'
export * from './ecdsa.js'
export * from './merkle.js'
export * from './key-encryption.js'
