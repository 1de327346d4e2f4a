import { errorStatus, PetalError, registerErrorClass, type CodeDoc } from '../util/index.js'

/** Every reason the HTTP API itself refuses a request (module errors keep their own codes). */
export const API_ERROR_CODES = [
  'API_NOT_FOUND',
  'API_BAD_REQUEST',
  'API_MALFORMED_JSON',
  'API_UNSUPPORTED_MEDIA_TYPE',
  'API_BODY_TOO_LARGE',
  'API_UNAUTHORIZED',
  'API_FORBIDDEN',
  'API_HOST_REFUSED',
  'API_BUSY',
  'API_READ_ONLY',
  'API_BLOCK_NOT_FOUND',
  'API_TABLE_NOT_FOUND',
  'API_RANGE_NOT_SATISFIABLE',
  'API_SHUTTING_DOWN',
  'API_INTERNAL',
  'API_REQUEST_TIMEOUT',
  'API_HEADERS_TOO_LARGE',
  'API_MALFORMED_REQUEST',
  'API_EXPLORER_MISSING',
  // starting the server
  'API_BAD_ADDRESS',
  'API_EXPOSE_REQUIRED',
  'API_LISTEN_FAILED',
  // tokens
  'API_TOKEN_NOT_FOUND',
  'API_TOKEN_EXISTS',
  'API_TOKENS_CORRUPT'
] as const

export type ApiErrorCode = typeof API_ERROR_CODES[number]

type None = Record<never, never>

/** `details` of each code. */
export type ApiErrorDetails = Record<Exclude<ApiErrorCode, 'API_BLOCK_NOT_FOUND' | 'API_TABLE_NOT_FOUND'>, None> & {
  API_BLOCK_NOT_FOUND: { ref?: string }
  API_TABLE_NOT_FOUND: { height: number, table: string }
}

export class ApiError<C extends ApiErrorCode = ApiErrorCode> extends PetalError<C, ApiErrorDetails[C]> {
  static readonly codes = API_ERROR_CODES
}

function apiErrorDocs (): Readonly<Record<ApiErrorCode, CodeDoc>> {
  return {
    API_NOT_FOUND: { meaning: 'no such endpoint', hint: 'the endpoints are listed at /api/v1/openapi.json' },
    API_BAD_REQUEST: { meaning: 'parameters or body fields that do not match the endpoint\'s schema (the message names the field)', hint: 'the parameters of every endpoint are in /api/v1/openapi.json' },
    API_MALFORMED_JSON: { meaning: 'the request body is not valid JSON', hint: 'send valid JSON, e.g. {"sql": "SELECT 1"} to POST /api/v1/query; the body of every endpoint is in /api/v1/openapi.json' },
    API_UNSUPPORTED_MEDIA_TYPE: { meaning: 'the request body has a Content-Type this endpoint does not take', hint: 'send Content-Type: application/json (or, for records, application/x-ndjson or text/csv)' },
    API_BODY_TOO_LARGE: { meaning: 'the request body is larger than this server accepts (the message gives the limit in bytes: 16 MiB, 16777216, on a node)', hint: 'send at most the limit in one request: split the rows of a records POST over several requests' },
    API_UNAUTHORIZED: { meaning: 'no token, not `Bearer`, or an unknown or revoked token', hint: 'send Authorization: Bearer <token>, a token the node\'s operator made with `petal tokens create`' },
    API_FORBIDDEN: { meaning: 'the token may not do this (a read token on a write)', hint: 'send a write token as Authorization: Bearer <token>; the node\'s operator makes one with `petal tokens create --scope write`' },
    API_HOST_REFUSED: { meaning: 'a loopback-only node received a request addressed to another host', hint: 'use http://127.0.0.1:PORT/ or http://localhost:PORT/; to serve other hosts, start the node with --http-expose' },
    API_BUSY: { meaning: 'too many statements or event streams at once (with Retry-After)', hint: 'retry in a moment' },
    API_READ_ONLY: { meaning: 'this server does not accept writes', hint: 'write to a signatory node started with `petal run`' },
    API_BLOCK_NOT_FOUND: { meaning: 'no block with that height or hash', hint: 'give a height at or below the tip (GET /api/v1/status shows it), a full hash, or at least 8 hex digits of one' },
    API_TABLE_NOT_FOUND: { meaning: 'the block has no table of that name', hint: 'the block\'s tables are listed at /api/v1/blocks/{ref}' },
    API_RANGE_NOT_SATISFIABLE: { meaning: 'the Range header asks for bytes outside the file', hint: 'ask for a range that starts below the file size' },
    API_SHUTTING_DOWN: { meaning: 'the server is shutting down', hint: 'retry once the node runs again' },
    API_INTERNAL: { meaning: 'a bug: the details are in the node\'s log, never in the response', hint: 'report it with the node\'s log' },
    API_REQUEST_TIMEOUT: { meaning: 'the request was not received in time', hint: 'send the whole request promptly' },
    API_HEADERS_TOO_LARGE: { meaning: 'the request headers are too large', hint: 'send fewer or shorter headers (at most 16 KiB in all)' },
    API_MALFORMED_REQUEST: { meaning: 'the request is not valid HTTP/1.1', hint: 'send a well-formed HTTP/1.1 request' },
    API_EXPLORER_MISSING: { meaning: 'the web explorer\'s files are not built beside this node (dist/web)', hint: 'run `npm run build`' },
    API_BAD_ADDRESS: { meaning: 'a malformed --http address', hint: 'give HOST:PORT (127.0.0.1:2018, [::1]:2018, 0.0.0.0:2018), a bare PORT, or off' },
    API_EXPOSE_REQUIRED: { meaning: 'a non-loopback --http address without --http-expose', hint: 'add --http-expose to serve beyond this machine (reads then need a token unless --public-read), or use --http 127.0.0.1:PORT' },
    API_LISTEN_FAILED: { meaning: 'the HTTP server cannot listen on the address (the port is in use, …)', hint: 'choose another address with --http HOST:PORT (port 0 picks a free one), or --http off' },
    API_TOKEN_NOT_FOUND: { meaning: 'no API token with that id or name', hint: 'list them with `petal tokens list`' },
    API_TOKEN_EXISTS: { meaning: 'an API token of that name already exists', hint: 'choose another --name, or revoke the old one with `petal tokens revoke NAME`' },
    API_TOKENS_CORRUPT: { meaning: 'the token file of the data directory is not valid', hint: 'restore it from a backup, or delete it and create new tokens with `petal tokens create`' }
  }
}

registerErrorClass(ApiError, 'the HTTP API refused a request, or could not start', apiErrorDocs)

/** The HTTP status of an error (docs/api.md "Errors"): from src/util/error-status.ts; 500 only for what is not a PetalError. */
export function httpStatusOf (err: unknown): number {
  return errorStatus(err).http
}
