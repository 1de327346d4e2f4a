import { isPetalError } from './errors.js'
import { EXIT } from './exit-status.js'

/**
 * What went wrong, as the CLI reports it: each category has one exit status (docs/cli.md).
 * `internal` is everything that is not a PetalError: a bug.
 */
export type ErrorCategory = 'usage' | 'invalid-block' | 'data-dir' | 'keys' | 'verify' | 'network' | 'query' | 'aborted' | 'internal'

export { EXIT }

const EXIT_OF: Readonly<Record<ErrorCategory, number>> = {
  usage: EXIT.USAGE,
  'invalid-block': EXIT.INVALID_BLOCK,
  'data-dir': EXIT.DATA_DIR,
  keys: EXIT.KEYS,
  verify: EXIT.VERIFY_FAILED,
  network: EXIT.NETWORK,
  query: EXIT.QUERY,
  aborted: EXIT.INTERRUPTED,
  internal: EXIT.FAILURE
}

/** The HTTP statuses the API answers errors with (DESIGN.md); 500 only for internal bugs. */
export type HttpStatus = 400 | 401 | 403 | 404 | 408 | 409 | 413 | 415 | 416 | 422 | 429 | 431 | 500 | 503

interface Rule { category: ErrorCategory, http: HttpStatus }
interface ClassRule extends Rule {
  /** Codes of the class that fall in another category or answer with another status. */
  codes?: Readonly<Record<string, Partial<Rule>>>
}

let table: Readonly<Record<string, ClassRule>> | undefined

/**
 * THE table from error class (and code, where a class spans several cases) to exit status and
 * HTTP status. Keyed by class name, because util sits below the modules that define the classes;
 * test/unit/util/errors.test.ts checks that every registered class has a row and that every code
 * named here belongs to its class. Made at first use: its ~150 objects cost every start of a
 * command that reports no error ~0.7 M instructions (docs/performance/startup.md, "Session 24: start-up").
 */
export function errorStatusTable (): Readonly<Record<string, ClassRule>> {
  return table ??= newTable()
}

const newTable = (): Readonly<Record<string, ClassRule>> => ({
  AbortError: { category: 'aborted', http: 503 },
  // A worker thread died: not the request's fault nor a known condition of the data directory.
  WorkerError: { category: 'internal', http: 503 },
  UsageError: { category: 'usage', http: 400 },
  // stdout refused a write (a full disk, /dev/full): a failure of the machine, as DISK_FULL.
  OutputError: { category: 'data-dir', http: 503 },
  // Below the API, a code the HTTP API does not list is a condition of the node, not of the
  // request: 503 (docs/api.md "Errors").
  CryptoError: { category: 'keys', http: 503 },
  BlockError: { category: 'invalid-block', http: 503 },
  // A Daisy directory whose blocks disagree with daisy.db fails verification (exit 6).
  DaisyError: {
    category: 'data-dir',
    http: 503,
    codes: {
      DAISY_BLOCK_MISSING: { category: 'verify' },
      DAISY_HASH_MISMATCH: { category: 'verify' },
      DAISY_BROKEN_LINK: { category: 'verify' },
      DAISY_BLOCK_INVALID: { category: 'verify' },
      DAISY_GENESIS_MISMATCH: { category: 'verify' },
      DAISY_ADOPTION_MISMATCH: { category: 'verify' },
      DAISY_READ_ONLY: { category: 'usage' }
    }
  },
  StorageError: {
    category: 'data-dir',
    http: 503,
    codes: {
      KEY_NOT_FOUND: { category: 'keys' },
      KEY_AMBIGUOUS: { category: 'keys' },
      KEY_EXISTS: { category: 'keys' },
      NO_KEYS: { category: 'keys' },
      PASSPHRASE_REQUIRED: { category: 'keys' },
      KEY_FILE_INVALID: { category: 'keys' },
      KEY_WRONG_PURPOSE: { category: 'keys' }
    }
  },
  ChainError: {
    category: 'data-dir',
    http: 503,
    codes: {
      // A block or orphan the arguments name does not exist (or is not one): a bad argument.
      BLOCK_NOT_FOUND: { category: 'usage', http: 404 },
      NOT_ORPHANED: { category: 'usage' },
      ORPHAN_CONTENT_BACK: { category: 'usage', http: 409 },
      VERIFY_FAILED: { category: 'verify' }
    }
  },
  NetworkError: { category: 'network', http: 503 },
  SyncError: { category: 'network', http: 503 },
  QueryError: {
    category: 'query',
    http: 503,
    codes: {
      // the statement is wrong
      QUERY_EMPTY: { http: 400 },
      QUERY_SYNTAX: { http: 400 },
      QUERY_UNKNOWN_TABLE: { http: 400 },
      QUERY_UNKNOWN_COLUMN: { http: 400 },
      QUERY_TABLE_TOO_WIDE: { http: 400 },
      QUERY_SQL_ERROR: { http: 400 },
      QUERY_MULTIPLE_STATEMENTS: { http: 400 },
      QUERY_NOT_A_QUERY: { http: 400 },
      QUERY_BLOCK_FAILED: { http: 400 },
      // the statement is refused
      QUERY_NOT_READONLY: { http: 403 },
      QUERY_ATTACH_REFUSED: { http: 403 },
      QUERY_PRAGMA_REFUSED: { http: 403 },
      QUERY_EXTENSION_REFUSED: { http: 403 },
      // a limit was reached
      QUERY_TIMEOUT: { http: 422 },
      QUERY_TOO_MANY_ROWS: { http: 413 },
      QUERY_VALUE_TOO_LARGE: { http: 413 }
    }
  },
  ProofError: {
    category: 'data-dir',
    http: 503,
    codes: {
      // A row or table the arguments name does not exist: a bad argument, as BLOCK_NOT_FOUND.
      PROOF_ROW_NOT_FOUND: { category: 'usage', http: 404 },
      PROOF_TABLE_NOT_FOUND: { category: 'usage', http: 404 },
      PROOF_CHECKPOINT_MISMATCH: { category: 'usage', http: 409 },
      PROOF_REJECTED: { category: 'verify', http: 422 },
      PROOF_FILE_INVALID: { category: 'usage', http: 400 },
      PROOF_NO_CHECKPOINT: { http: 409 },
      PROOF_ROW_PENDING: { http: 409 },
      PROOF_QUERY_NOT_PROVABLE: { category: 'usage', http: 400 },
      // `petal witnesses add|remove` of a name the file lists already / does not list: a bad argument.
      PROOF_WITNESS_LISTED: { category: 'usage', http: 409 },
      PROOF_WITNESS_NOT_LISTED: { category: 'usage', http: 404 },
      // `petal witnesses reset` of a witness that is not stuck, or with the key that cosigned: a bad argument.
      PROOF_WITNESS_NOT_STUCK: { category: 'usage', http: 409 },
      PROOF_WITNESS_SAME_KEY: { category: 'usage', http: 409 }
    }
  },
  IngestError: {
    // Records refused: an input was refused (exit 3), answered by what is wrong with it.
    category: 'invalid-block',
    http: 400,
    codes: {
      INGEST_TYPE_MISMATCH: { http: 422 },
      INGEST_CONSTRAINT: { http: 422 },
      INGEST_TOO_MANY_ROWS: { http: 413 },
      INGEST_TOO_LARGE: { http: 413 },
      INGEST_ROW_TOO_LARGE: { http: 413 },
      INGEST_TABLE_CONFLICT: { http: 409 },
      INGEST_ALREADY_SEALED: { http: 409 },
      INGEST_NOT_SIGNATORY: { category: 'keys', http: 409 },
      INGEST_NO_KEY: { category: 'keys', http: 409 },
      // A receipt or orphan the arguments name that this directory does not know: a bad argument.
      INGEST_BLOCK_OWNED: { category: 'usage', http: 409 },
      INGEST_UNKNOWN_RECEIPT: { category: 'usage', http: 404 },
      INGEST_STORE_UNAVAILABLE: { category: 'data-dir', http: 503 },
      INGEST_STORE_IN_USE: { category: 'data-dir', http: 409 },
      INGEST_ROW_UNREADABLE: { category: 'data-dir', http: 503 },
      INGEST_CLOSED: { http: 503 }
    }
  },
  NodeError: { category: 'data-dir', http: 503, codes: { NO_SIGNING_KEY: { category: 'keys' } } },
  ApiError: {
    // Request errors never end a CLI command; those that can (starting a server, tokens) say so.
    category: 'usage',
    http: 400,
    codes: {
      API_NOT_FOUND: { http: 404 },
      API_UNSUPPORTED_MEDIA_TYPE: { http: 415 },
      API_BODY_TOO_LARGE: { http: 413 },
      API_UNAUTHORIZED: { http: 401 },
      API_FORBIDDEN: { http: 403 },
      API_HOST_REFUSED: { http: 403 },
      API_BUSY: { http: 429 },
      API_READ_ONLY: { http: 409 },
      API_BLOCK_NOT_FOUND: { http: 404 },
      API_TABLE_NOT_FOUND: { http: 404 },
      API_RANGE_NOT_SATISFIABLE: { http: 416 },
      API_SHUTTING_DOWN: { http: 503 },
      API_EXPLORER_MISSING: { category: 'internal', http: 503 },
      API_INTERNAL: { category: 'internal', http: 500 },
      API_REQUEST_TIMEOUT: { http: 408 },
      API_HEADERS_TOO_LARGE: { http: 431 },
      API_BAD_ADDRESS: { http: 500 },
      API_EXPOSE_REQUIRED: { http: 500 },
      API_LISTEN_FAILED: { category: 'network', http: 500 },
      API_TOKEN_NOT_FOUND: { http: 404 },
      API_TOKEN_EXISTS: { http: 409 },
      API_TOKENS_CORRUPT: { category: 'data-dir', http: 503 }
    }
  }
})

export interface ErrorStatus extends Rule { exit: number }

/** Category, exit status and HTTP status of a class and code (undefined: not in the table). */
export function statusOfCode (className: string, code: string): ErrorStatus | undefined {
  const c = errorStatusTable()[className]
  if (c === undefined) return undefined
  const o = c.codes?.[code]
  const category = o?.category ?? c.category
  return { category, http: o?.http ?? c.http, exit: EXIT_OF[category] }
}

const INTERNAL: ErrorStatus = { category: 'internal', http: 500, exit: EXIT.FAILURE }

/** How any thrown value is reported: a PetalError by its class and code, anything else as a bug. */
export function errorStatus (err: unknown): ErrorStatus {
  if (!isPetalError(err)) return INTERNAL
  return statusOfCode(err.name, err.code) ?? INTERNAL
}
