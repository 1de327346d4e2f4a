import type { ServerResponse } from 'node:http'
import { hintDirOf, hintOf, hintWithDir, isPetalError, isRecord, parseJson } from '../util/index.js'
import { ApiError, httpStatusOf } from './errors.js'

export interface ErrorBody { error: { code: string, message: string, hint?: string, details?: Record<string, unknown> } }

/**
 * The one JSON shape of every error response. Petal's own errors keep their code, message, hint
 * (or, without one, their code's documented hint, as the CLI prints it) and details; anything else is an internal error whose message stays in the log (never a stack
 * trace in a response). `dir`: the node's data directory, which the hint's `petal …` commands
 * name unless it is the default (hintDirOf): run on the node's machine as printed, they act on it.
 */
export function errorBody (err: unknown, dir?: string): ErrorBody {
  if (!isPetalError(err)) return { error: { code: 'API_INTERNAL', message: 'internal error (logged on the node)', hint: 'this is a bug: please report it with the node\'s log' } }
  const details = Object.keys(err.details).length === 0 ? undefined : jsonSafe(err.details)
  const hint = hintOf(err)
  return { error: { code: err.code, message: err.message, hint: hint === undefined || dir === undefined ? hint : hintWithDir(hint, hintDirOf(dir)), details } }
}

export function errorStatus (err: unknown): number { return httpStatusOf(err) }

/** Extra headers an error response carries (a 401 says how to authenticate; a 429 when to retry). */
export function errorHeaders (err: unknown): Record<string, string> {
  if (err instanceof ApiError && err.code === 'API_UNAUTHORIZED') return { 'WWW-Authenticate': 'Bearer realm="petal"' }
  if (httpStatusOf(err) === 429) return { 'Retry-After': '1' }
  return {}
}

/** Write an error on a raw response whose headers are not sent yet (hijacked routes). */
export function writeError (res: ServerResponse, err: unknown, dir?: string): void {
  const body = JSON.stringify(errorBody(err, dir)) + '\n'
  res.writeHead(errorStatus(err), { ...errorHeaders(err), 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' })
  res.end(body)
}

function jsonSafe (d: object): Record<string, unknown> {
  const v = parseJson(JSON.stringify(d, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)))
  return isRecord(v) ? v : {}
}
