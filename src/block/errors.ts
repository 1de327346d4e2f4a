import { PetalError } from '../util/index.js'

/**
 * Every reason a block can be refused. Codes are stable API: tests assert them, the network maps
 * them to peer penalties, the CLI to exit statuses. Structural codes come from this module;
 * contextual ones (link, signer, quorum) are raised by the chain's validation pipeline.
 */
export const BLOCK_ERROR_CODES = [
  // input file (signimportblock)
  'FILE_NOT_FOUND',
  // structure of the SQLite file
  'BLOCK_TOO_LARGE',
  'NOT_SQLITE',
  'WAL_MODE',
  'CORRUPT',
  'SCHEMA_NOT_ALLOWED',
  'RESERVED_SCHEMA',
  // content
  'HASH_MISMATCH',
  'UNSUPPORTED_VERSION',
  'BAD_META',
  'MANIFEST_MISMATCH',
  'ROWS_ROOT_MISMATCH',
  // position in the chain
  'PARENT_UNKNOWN',
  'HEIGHT_MISMATCH',
  'CHAIN_ID_MISMATCH',
  'TIMESTAMP_BEFORE_PARENT',
  'TIMESTAMP_IN_FUTURE',
  // signer and signatures
  'SIGNER_NOT_AUTHORISED',
  'SIGNER_REVOKED',
  'BAD_PREV_SIGNATURE',
  'BAD_SEAL',
  // key operations
  'KEYOP_MALFORMED',
  'KEYOP_MIXED',
  'KEYOP_BAD_SIGNATURE',
  'KEYOP_SIGNER_NOT_AUTHORISED',
  'KEYOP_SIGNER_REVOKED',
  'KEYOP_DUPLICATE_SIGNER',
  'KEYOP_QUORUM_NOT_MET',
  'KEYOP_KEY_EXISTS',
  'KEYOP_KEY_REVOKED',
  'KEYOP_KEY_UNKNOWN',
  'KEYOP_NO_SIGNERS_LEFT',
  // genesis
  'BAD_GENESIS'
] as const

export type BlockErrorCode = typeof BLOCK_ERROR_CODES[number]

export class BlockError extends PetalError<BlockErrorCode> {}

/** Codes that say the block is bad in itself (the sender is at fault), not that we lack context. */
export function isInvalidBlock (code: string): boolean {
  return code !== 'PARENT_UNKNOWN' && code !== 'FILE_NOT_FOUND' && code !== 'TIMESTAMP_IN_FUTURE'
}
