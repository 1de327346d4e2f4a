import { PetalError } from '../util/index.js'

export type CryptoErrorCode =
  | 'BAD_PUBLIC_KEY'
  | 'BAD_PRIVATE_KEY'
  | 'BAD_SIGNATURE_ENCODING'
  | 'BAD_PASSPHRASE'
  | 'BAD_KEY_ENVELOPE'

export class CryptoError extends PetalError<CryptoErrorCode> {}
