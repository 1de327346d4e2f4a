import { PetalError, registerErrorClass, type CodeDoc } from '../util/index.js'

export const CRYPTO_ERROR_CODES = [
  'BAD_PUBLIC_KEY',
  'BAD_PRIVATE_KEY',
  'BAD_PASSPHRASE',
  'BAD_KEY_ENVELOPE'
] as const

export type CryptoErrorCode = typeof CRYPTO_ERROR_CODES[number]

/** `details` of each code: none carries any (the message says what is wrong with the key). */
export type CryptoErrorDetails = Record<CryptoErrorCode, Record<never, never>>

/** A key that cannot be parsed or decrypted. */
export class CryptoError<C extends CryptoErrorCode = CryptoErrorCode> extends PetalError<C, CryptoErrorDetails[C]> {
  static readonly codes = CRYPTO_ERROR_CODES
}

export const CRYPTO_ERROR_DOCS: Readonly<Record<CryptoErrorCode, CodeDoc>> = {
  BAD_PUBLIC_KEY: { meaning: 'not a P-256 public key in a form Petal reads', hint: 'give the key as hex SPKI DER (as `petal mykeys` prints it) or as a PEM file' },
  BAD_PRIVATE_KEY: { meaning: 'not a P-256 private key in a form Petal reads', hint: 'give a P-256 key as PEM (PKCS#8 or SEC1), DER, or hex DER' },
  BAD_PASSPHRASE: { meaning: 'the passphrase does not decrypt the key', hint: 'check --passphrase-file or PETAL_PASSPHRASE' },
  BAD_KEY_ENVELOPE: { meaning: 'an encrypted key file in the keystore is malformed', hint: 'restore the key file from a backup, or import the key again (`petal keys import FILE`)' }
}

registerErrorClass(CryptoError, 'a key could not be parsed or decrypted', CRYPTO_ERROR_DOCS)
