import { PetalError } from '../util/index.js'

export type ChainErrorCode =
  | 'REORG_TOO_DEEP'
  | 'GENESIS_MISMATCH'
  | 'NOT_FOUND'
  | 'NOT_ORPHANED'
  | 'VERIFY_FAILED'
  | 'EMPTY_CHAIN'

export class ChainError extends PetalError<ChainErrorCode> {}
