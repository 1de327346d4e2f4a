import { systemFailure } from '../storage/index.js'
import { errorCode, isPetalError, quote, said, type Logger } from '../util/index.js'
import { ApiError } from './errors.js'
import { errorBody, errorHeaders, errorStatus, logFault, type ErrorAudience } from './http-errors.js'

/** An error response, ready to write: the same for Fastify's routes and the lean records path. */
export interface ErrorReply { status: number, headers: Record<string, string>, body: string }

/**
 * What the server answers for `err` (a Petal error, one of Fastify's, or a bug), logged as the
 * server logs failures: a bug with its stack, a Petal error of status ≥ 500 with its code.
 * `bodyLimit`: the most bytes the request's route takes, which a body over it is told; `to`: who
 * reads the reply (errorBody: what it may say; the log has a node's fault in full).
 */
export function errorReply (logger: Logger, err: unknown, method: string, url: string, o: { bodyLimit?: number, to?: ErrorAudience } = {}): ErrorReply {
  const e = asPetalError(err, url, o.bodyLimit)
  const status = errorStatus(e)
  if (status >= 500 && !isPetalError(e)) logger.error('internal error', { method, url, error: err instanceof Error ? err.stack : String(err) })
  else if (status >= 500 && isPetalError(e)) logFault(logger, e, method, url, o.to?.dir)
  return { status, headers: { ...errorHeaders(e), 'Cache-Control': 'no-store', 'Content-Type': 'application/json; charset=utf-8' }, body: JSON.stringify(errorBody(e, o.to)) }
}

/** Fastify's own errors (validation, body parsing) as coded API errors. */
function asPetalError (err: unknown, url: string, bodyLimit: number | undefined): unknown {
  if (isPetalError(err)) return err
  if (!(err instanceof Error)) return err
  // Fastify's words on the request (a field's path, a media type, a parser's excerpt) are the
  // client's text: kept apart from the node's own (util/said.ts)
  const msg = quote(err.message === '' ? 'bad request' : err.message)
  const statusCode = 'statusCode' in err && typeof err.statusCode === 'number' ? err.statusCode : undefined
  if ('validation' in err && err.validation !== undefined) {
    // A value outside a list ("must be equal to one of the allowed values") names the list (user50:
    // `?format=xml` of an export said only that, and sent the client to openapi.json).
    const allowed = allowedValues(err.validation)
    return new ApiError('API_BAD_REQUEST', allowed === undefined ? msg : said`${msg}: ${allowed}`, { hint: 'the parameters of every endpoint are in /api/v1/openapi.json' })
  }
  switch (errorCode(err)) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return bodyTooLarge(url, bodyLimit)
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError('API_UNSUPPORTED_MEDIA_TYPE', msg, { hint: 'send Content-Type: application/json (or, for records, application/x-ndjson or text/csv)' })
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new ApiError('API_MALFORMED_JSON', said`the body is not valid JSON: ${msg}`)
  }
  if (err instanceof SyntaxError || (statusCode !== undefined && statusCode >= 400 && statusCode < 500)) {
    return new ApiError(err instanceof SyntaxError ? 'API_MALFORMED_JSON' : 'API_BAD_REQUEST', msg)
  }
  // The node's disk failing under a write (SQLITE_FULL, an fsync's EIO: raw errors from SQLite or
  // node:fs) is DISK_FULL or IO_ERROR with its hint, 503, not API_INTERNAL's "this is a bug" (a
  // full disk under POST /records, found by the fault torture, session 33).
  return systemFailure(err) ?? err
}

/**
 * A body over the route's limit, which is said in bytes (there is no option to raise it: the
 * request has to be smaller). Records are split over several requests, each stored as it comes.
 */
function bodyTooLarge (url: string, limit: number | undefined): ApiError {
  const most = limit === undefined ? 'the limit' : `${limit} bytes`
  const records = /^\/api\/v1\/records\//.test(url)
  return new ApiError('API_BODY_TOO_LARGE', `the request body is larger than this server accepts${limit === undefined ? '' : ` (at most ${limit} bytes)`}`, {
    hint: records ? `split the rows over several requests of at most ${most} each (each is stored as it comes)` : `send a body of at most ${most}`
  })
}

/** The values an `enum` check of the endpoint's schema allows (the node's own schema), listed; else undefined. */
function allowedValues (validation: unknown): string | undefined {
  if (!Array.isArray(validation)) return undefined
  for (const v of validation as unknown[]) {
    if (typeof v !== 'object' || v === null || !('keyword' in v) || v.keyword !== 'enum' || !('params' in v)) continue
    const values = (v.params as { allowedValues?: unknown }).allowedValues
    if (Array.isArray(values)) return values.map(x => String(x)).join(', ')
  }
  return undefined
}
