import type { ServerResponse } from 'node:http'
import { hintOf, isPetalError, isRecord, parseJson } from '../util/index.js'
import { ApiError, httpStatusOf } from './errors.js'

export interface ErrorBody { error: { code: string, message: string, hint?: string, details?: Record<string, unknown> } }

/**
 * The one JSON shape of every error response. Petal's own errors keep their code, message, hint
 * (or, without one, their code's documented hint, as the CLI prints it) and details; anything else is an internal error whose message stays in the log (never a stack
 * trace in a response).
 */
export function errorBody (err: unknown): ErrorBody {
  if (!isPetalError(err)) return { error: { code: 'API_INTERNAL', message: 'internal error (logged on the node)', hint: 'this is a bug: please report it with the node\'s log' } }
  const details = Object.keys(err.details).length === 0 ? undefined : jsonSafe(err.details)
  return { error: { code: err.code, message: err.message, hint: hintOf(err), details } }
}

export function errorStatus (err: unknown): number { return httpStatusOf(err) }

/** Extra headers an error response carries (a 401 says how to authenticate; a 429 when to retry). */
export function errorHeaders (err: unknown): Record<string, string> {
  if (err instanceof ApiError && err.code === 'API_UNAUTHORIZED') return { 'WWW-Authenticate': 'Bearer realm="petal"' }
  if (httpStatusOf(err) === 429) return { 'Retry-After': '1' }
  return {}
}

/** Write an error on a raw response whose headers are not sent yet (hijacked routes). */
export function writeError (res: ServerResponse, err: unknown): void {
  const body = JSON.stringify(errorBody(err)) + '\n'
  res.writeHead(errorStatus(err), { ...errorHeaders(err), 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' })
  res.end(body)
}

function jsonSafe (d: object): Record<string, unknown> {
  const v = parseJson(JSON.stringify(d, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)))
  return isRecord(v) ? v : {}
}
