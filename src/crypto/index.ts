/**
 * crypto: P-256 keys and key ids, v2 (domain-separated, low-S) and v1 (Daisy, raw digest)
 * ECDSA signatures, SHA-256 of bytes and files (and a small file read whole natively, for plain
 * verify's workers), RFC 6962 Merkle trees, and passphrase
 * encryption of private keys, and the confidential-column scheme (AES-256-GCM values, ECIES P-256
 * key wraps).
 *
 * The only importer of @noble/*. Knows nothing of blocks or chains. Of files it knows hashing and
 * reading them, and the system calls its native addon makes for storage, which decides what they
 * are for (renaming without replacing, writing a new or small file, syncfs, listing tmp/).
 * @module
 */
export { CryptoError } from './errors.js'
export { sha256, sha256Hex, sha256File, sha256FileSync } from './hash.js'
export { keyIdOf, isKeyId, parsePublicKey, generateSigningKey, importPrivateKey, privateKeyToPkcs8, privateKeyToPem, publicKeyToPem, type PublicKey, type SigningKey } from './keys.js'
export { encodeDerSignature, decodeDerSignature, derToP1363, isStrictLowS, signV2, verifyV2, verifyV2Pair, verifyV2PairHex, verifyV1, signV1 } from './ecdsa.js'
export { leafHash, leavesRoot, prefixedLeafHash, nodeHash, EMPTY_TREE_ROOT, MerkleBuilder, merkleRoot, inclusionProof, verifyInclusion } from './merkle.js'
export { MerkleBatch, MERKLE_SCRATCH, MERKLE_SCRATCH_BYTES } from './merkle-batch.js'
export { adoptSha256Module, sha256Module, sha256ModuleBytes, SHA256_WASM_FILE, type WasmMemory, type WasmModule } from './sha256-wasm.js'
export { merkleHasher, nativeSha256, type NativeSha256 } from './sha256-native.js'
export { adviseHugeHeap, keepFreedMemory, makeEmptyNative, nativeOpenssl, opensslPath, readSmallFileNative, renameNoReplaceNative, syncfsNative, tmpForeignNative, writeNewFileNative, writeSmallFileNative, type NativeOpenssl } from './openssl-native.js'
export { parseEncryptedKey, encryptPrivateKey, decryptPrivateKey, type EncryptedKey } from './key-encryption.js'
export { MIN_SEALED_BYTES, newDataKey, sealValue, openValue, wrapDataKey, unwrapDataKey, isWrappedKeyShape } from './confidential.js'
