import { isPetalError } from '../util/index.js'

/** Exit statuses of `petal` (docs/cli.md). */
export const EXIT = {
  OK: 0,
  FAILURE: 1,
  USAGE: 2,
  INVALID_BLOCK: 3,
  DATA_DIR: 4,
  KEYS: 5,
  VERIFY_FAILED: 6,
  NETWORK: 7,
  QUERY: 8,
  INTERRUPTED: 130
} as const

const DATA_DIR_CODES = new Set(['API_TOKENS_CORRUPT', 'ALREADY_RUNNING', 'NOT_INITIALISED', 'DATA_DIR_NOT_EMPTY', 'CHAINPARAMS_INVALID', 'INDEX_CORRUPT', 'DATA_DIR_READONLY', 'LOCK_TIMEOUT', 'BLOCK_FILE_MISSING', 'GENESIS_MISMATCH', 'EMPTY_CHAIN'])
const KEY_CODES = new Set(['INGEST_NO_KEY', 'INGEST_NOT_SIGNATORY', 'NO_SIGNING_KEY', 'KEY_NOT_FOUND', 'KEY_AMBIGUOUS', 'KEY_EXISTS', 'NO_KEYS', 'PASSPHRASE_REQUIRED', 'BAD_PASSPHRASE', 'BAD_PRIVATE_KEY', 'BAD_PUBLIC_KEY', 'BAD_KEY_ENVELOPE'])

/** Map an error to an exit status by its code (by class name for the few that share codes). */
export function exitCodeOf (err: unknown): number {
  if (!isPetalError(err)) return EXIT.FAILURE
  if (err.code === 'ABORTED') return EXIT.INTERRUPTED
  // A block or orphan the arguments name does not exist (or is not one): a bad argument.
  if (err.code === 'USAGE' || (err.name === 'ChainError' && (err.code === 'NOT_FOUND' || err.code === 'NOT_ORPHANED'))) return EXIT.USAGE
  if (err.code === 'VERIFY_FAILED' || err.code === 'PROOF_REJECTED') return EXIT.VERIFY_FAILED
  if (err.code === 'PROOF_FILE_INVALID') return EXIT.USAGE
  if (err.code === 'API_TOKEN_NOT_FOUND' || err.code === 'API_TOKEN_EXISTS' || err.code === 'API_BAD_ADDRESS' || err.code === 'API_EXPOSE_REQUIRED') return EXIT.USAGE
  if (err.code === 'API_LISTEN_FAILED') return EXIT.NETWORK
  if (DATA_DIR_CODES.has(err.code)) return EXIT.DATA_DIR
  if (KEY_CODES.has(err.code)) return EXIT.KEYS
  if (err.name === 'BlockError' || err.code === 'REORG_TOO_DEEP') return EXIT.INVALID_BLOCK
  // A receipt or orphan the arguments name that this directory does not know: a bad argument.
  if (err.code === 'INGEST_UNKNOWN_RECEIPT' || err.code === 'INGEST_BLOCK_OWNED') return EXIT.USAGE
  if (err.code === 'INGEST_STORE_UNAVAILABLE') return EXIT.DATA_DIR
  // Records refused (malformed, wrong type, too large, a table conflict): an input was refused.
  if (err.name === 'IngestError') return EXIT.INVALID_BLOCK
  if (err.name === 'NetworkError' || err.name === 'SyncError') return EXIT.NETWORK
  if (err.name === 'QueryError') return EXIT.QUERY
  return EXIT.FAILURE
}
