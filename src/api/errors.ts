import { PetalError, isPetalError } from '../util/index.js'

/** Every reason the HTTP API itself refuses a request (module errors keep their own codes). */
export type ApiErrorCode =
  | 'API_NOT_FOUND'
  | 'API_BAD_REQUEST'
  | 'API_MALFORMED_JSON'
  | 'API_UNSUPPORTED_MEDIA_TYPE'
  | 'API_BODY_TOO_LARGE'
  | 'API_UNAUTHORIZED'
  | 'API_FORBIDDEN'
  | 'API_HOST_REFUSED'
  | 'API_BUSY'
  | 'API_READ_ONLY'
  | 'API_BLOCK_NOT_FOUND'
  | 'API_TABLE_NOT_FOUND'
  | 'API_RANGE_NOT_SATISFIABLE'
  | 'API_SHUTTING_DOWN'
  | 'API_INTERNAL'
  | 'API_REQUEST_TIMEOUT'
  | 'API_HEADERS_TOO_LARGE'
  | 'API_MALFORMED_REQUEST'
  // starting the server
  | 'API_BAD_ADDRESS'
  | 'API_EXPOSE_REQUIRED'
  | 'API_LISTEN_FAILED'
  // tokens
  | 'API_TOKEN_NOT_FOUND'
  | 'API_TOKEN_EXISTS'
  | 'API_TOKENS_CORRUPT'

export class ApiError extends PetalError<ApiErrorCode> {}

const API_STATUS: Record<ApiErrorCode, number> = {
  API_NOT_FOUND: 404,
  API_BAD_REQUEST: 400,
  API_MALFORMED_JSON: 400,
  API_UNSUPPORTED_MEDIA_TYPE: 415,
  API_BODY_TOO_LARGE: 413,
  API_UNAUTHORIZED: 401,
  API_FORBIDDEN: 403,
  API_HOST_REFUSED: 403,
  API_BUSY: 429,
  API_READ_ONLY: 409,
  API_BLOCK_NOT_FOUND: 404,
  API_TABLE_NOT_FOUND: 404,
  API_RANGE_NOT_SATISFIABLE: 416,
  API_SHUTTING_DOWN: 503,
  API_INTERNAL: 500,
  API_REQUEST_TIMEOUT: 408,
  API_HEADERS_TOO_LARGE: 431,
  API_MALFORMED_REQUEST: 400,
  API_BAD_ADDRESS: 500,
  API_EXPOSE_REQUIRED: 500,
  API_LISTEN_FAILED: 500,
  API_TOKEN_NOT_FOUND: 404,
  API_TOKEN_EXISTS: 409,
  API_TOKENS_CORRUPT: 503
}

/**
 * HTTP statuses of the other modules' codes that a request can meet. A code missing here is a
 * server-side condition (503), never a 500: 500 is kept for exceptions that are not PetalErrors.
 */
const MODULE_STATUS: Record<string, number> = {
  // the statement is wrong
  QUERY_EMPTY: 400,
  QUERY_SYNTAX: 400,
  QUERY_UNKNOWN_TABLE: 400,
  QUERY_UNKNOWN_COLUMN: 400,
  QUERY_TABLE_TOO_WIDE: 400,
  QUERY_SQL_ERROR: 400,
  QUERY_MULTIPLE_STATEMENTS: 400,
  QUERY_NOT_A_QUERY: 400,
  QUERY_BLOCK_FAILED: 400,
  // the statement is refused
  QUERY_NOT_READONLY: 403,
  QUERY_ATTACH_REFUSED: 403,
  QUERY_PRAGMA_REFUSED: 403,
  QUERY_EXTENSION_REFUSED: 403,
  // a limit was reached
  QUERY_TIMEOUT: 422,
  QUERY_TOO_MANY_ROWS: 413,
  QUERY_VALUE_TOO_LARGE: 413,
  // records
  INGEST_MALFORMED: 400,
  INGEST_BAD_TABLE: 400,
  INGEST_TYPE_MISMATCH: 422,
  INGEST_TABLE_CONFLICT: 409,
  INGEST_TOO_MANY_ROWS: 413,
  INGEST_NOT_SIGNATORY: 409,
  INGEST_NO_KEY: 409,
  INGEST_UNKNOWN_RECEIPT: 404,
  // chain lookups
  NOT_FOUND: 404
}

/** The HTTP status a PetalError maps to (docs/api.md, "Errors"); 500 for anything else. */
export function httpStatusOf (err: unknown): number {
  if (err instanceof ApiError) return API_STATUS[err.code]
  if (!isPetalError(err)) return 500
  return MODULE_STATUS[err.code] ?? 503
}
