import { PetalError, registerErrorClass, type CodeDoc } from '../util/index.js'

export const CRYPTO_ERROR_CODES = [
  'BAD_PUBLIC_KEY',
  'PUBLIC_KEY_NOT_CANONICAL',
  'BAD_PRIVATE_KEY',
  'BAD_PASSPHRASE',
  'BAD_KEY_ENVELOPE',
  'UNWRAP_FAILED',
  'DECRYPT_FAILED',
  'NATIVE_SHA256_UNAVAILABLE'
] as const

export type CryptoErrorCode = typeof CRYPTO_ERROR_CODES[number]

type None = Record<never, never>

/** `details` of each code (the message says what is wrong with the key). */
export interface CryptoErrorDetails {
  BAD_PUBLIC_KEY: None
  /** `canonical`: the key's canonical SPKI in hex; `canonicalId`: its key id */
  PUBLIC_KEY_NOT_CANONICAL: { canonical: string, canonicalId: string }
  BAD_PRIVATE_KEY: None
  BAD_PASSPHRASE: None
  BAD_KEY_ENVELOPE: None
  /** `recipient`: the encryption key id the wrap names */
  UNWRAP_FAILED: { recipient: string }
  /** The cell that does not authenticate: block height, table, column and its position in the table (docs/confidential.md) */
  DECRYPT_FAILED: { height: number, table: string, column: string, row: number }
  NATIVE_SHA256_UNAVAILABLE: None
}

/** A key that cannot be parsed or decrypted (or, required by PETAL_NATIVE_SHA256=1, the native hasher cannot be loaded). */
export class CryptoError<C extends CryptoErrorCode = CryptoErrorCode> extends PetalError<C, CryptoErrorDetails[C]> {
  static readonly codes = CRYPTO_ERROR_CODES
}

function cryptoErrorDocs (): Readonly<Record<CryptoErrorCode, CodeDoc>> {
  return {
    BAD_PUBLIC_KEY: { meaning: 'not a P-256 public key in a form Petal reads', hint: 'give the key as hex SPKI DER (as `petal mykeys` prints it) or as a PEM file' },
    PUBLIC_KEY_NOT_CANONICAL: { meaning: 'a P-256 public key in another encoding than its canonical one (compressed or hybrid point, explicit curve parameters, trailing or non-minimal DER): one key has one id, so only the 91-byte SPKI of the uncompressed point is accepted', hint: 'give the key as `petal mykeys` prints it; details.canonical is the same key in its canonical encoding' },
    BAD_PRIVATE_KEY: { meaning: 'not a P-256 private key in a form Petal reads', hint: 'give a P-256 key as PEM (PKCS#8 or SEC1), DER, or hex DER' },
    BAD_PASSPHRASE: { meaning: 'the passphrase does not decrypt the key', hint: 'check --passphrase-file or PETAL_PASSPHRASE' },
    BAD_KEY_ENVELOPE: { meaning: 'an encrypted key file in the keystore is malformed', hint: 'restore the key file from a backup, or import the key again (`petal keys import FILE`)' },
    UNWRAP_FAILED: { meaning: 'a block\'s _recipients row names one of this node\'s encryption keys, but its wrapped data key does not open with it (wrapped for another key or chain, or altered)', hint: 'ask the block\'s signatory to re-wrap the data key for your key (docs/confidential.md); `--no-decrypt` shows the ciphertext meanwhile' },
    DECRYPT_FAILED: { meaning: 'an encrypted value does not authenticate with its block\'s data key: it was moved from another row, column, table or block, or altered, before the block was sealed', hint: 'the block\'s signatory sealed a bad value (details name the cell); `--no-decrypt` shows the ciphertext' },
    NATIVE_SHA256_UNAVAILABLE: { meaning: 'PETAL_NATIVE_SHA256=1 requires the native batched SHA-256 (dist/native/petal-sha256.node), and it is not built or cannot be loaded by this Node', hint: 'run `npm run build` (it needs a C compiler and Node\'s headers; dist/native/build.json says why it was not built), or unset PETAL_NATIVE_SHA256 (the manifest then hashes in WebAssembly)' }
  }
}

registerErrorClass(CryptoError, 'a key could not be parsed or decrypted, or an encrypted value did not authenticate', cryptoErrorDocs)
