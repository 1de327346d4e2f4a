import { systemFailure } from '../storage/index.js'
import { errorCode, isPetalError, type Logger } from '../util/index.js'
import { ApiError } from './errors.js'
import { errorBody, errorHeaders, errorStatus } from './http-errors.js'

/** An error response, ready to write: the same for Fastify's routes and the lean records path. */
export interface ErrorReply { status: number, headers: Record<string, string>, body: string }

/**
 * What the server answers for `err` (a Petal error, one of Fastify's, or a bug), logged as the
 * server logs failures: a bug with its stack, a Petal error of status ≥ 500 with its code.
 */
export function errorReply (logger: Logger, err: unknown, method: string, url: string): ErrorReply {
  const e = asPetalError(err)
  const status = errorStatus(e)
  if (status >= 500 && !isPetalError(e)) logger.error('internal error', { method, url, error: err instanceof Error ? err.stack : String(err) })
  else if (status >= 500) logger.warn('request failed', { method, url, code: isPetalError(e) ? e.code : undefined, error: isPetalError(err) ? undefined : String(err) })
  return { status, headers: { ...errorHeaders(e), 'Cache-Control': 'no-store', 'Content-Type': 'application/json; charset=utf-8' }, body: JSON.stringify(errorBody(e)) }
}

/** Fastify's own errors (validation, body parsing) as coded API errors. */
function asPetalError (err: unknown): unknown {
  if (isPetalError(err)) return err
  if (!(err instanceof Error)) return err
  const msg = err.message === '' ? 'bad request' : err.message
  const statusCode = 'statusCode' in err && typeof err.statusCode === 'number' ? err.statusCode : undefined
  if ('validation' in err && err.validation !== undefined) return new ApiError('API_BAD_REQUEST', msg, { hint: 'the parameters of every endpoint are in /api/v1/openapi.json' })
  switch (errorCode(err)) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError('API_BODY_TOO_LARGE', 'the request body is larger than this server accepts', { hint: 'send fewer rows per request' })
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError('API_UNSUPPORTED_MEDIA_TYPE', msg, { hint: 'send Content-Type: application/json (or, for records, application/x-ndjson or text/csv)' })
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new ApiError('API_MALFORMED_JSON', `the body is not valid JSON: ${msg}`)
  }
  if (err instanceof SyntaxError || (statusCode !== undefined && statusCode >= 400 && statusCode < 500)) {
    return new ApiError(err instanceof SyntaxError ? 'API_MALFORMED_JSON' : 'API_BAD_REQUEST', msg)
  }
  // The node's disk failing under a write (SQLITE_FULL, an fsync's EIO: raw errors from SQLite or
  // node:fs) is DISK_FULL or IO_ERROR with its hint, 503, not API_INTERNAL's "this is a bug" (a
  // full disk under POST /records, found by the fault torture, session 33).
  return systemFailure(err) ?? err
}
