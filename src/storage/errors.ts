import { PetalError } from '../util/index.js'

export type StorageErrorCode =
  | 'NOT_INITIALISED'
  | 'DATA_DIR_NOT_EMPTY'
  | 'CHAINPARAMS_INVALID'
  | 'INDEX_CORRUPT'
  | 'DATA_DIR_READONLY'
  | 'LOCK_TIMEOUT'
  | 'BLOCK_FILE_MISSING'
  | 'KEY_NOT_FOUND'
  | 'KEY_AMBIGUOUS'
  | 'KEY_EXISTS'
  | 'NO_KEYS'
  | 'PASSPHRASE_REQUIRED'

export class StorageError extends PetalError<StorageErrorCode> {}
