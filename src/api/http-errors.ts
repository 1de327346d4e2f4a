import type { ServerResponse } from 'node:http'
import { realpathSync } from 'node:fs'
import { resolve } from 'node:path'
import { changeOwnWords, errorClasses, hintDirOf, hintOf, hintWithDir, isPetalError, isRecord, parseJson, type Logger, type PetalError } from '../util/index.js'
import { apiHintOf } from './api-hints.js'
import { ApiError, httpStatusOf } from './errors.js'
import type { SignatoryPeer } from './signatory-peers.js'

export interface ErrorBody { error: { code: string, message: string, hint?: string, details?: Record<string, unknown> } }

/**
 * Who reads a server's errors (docs/api.md, "What an error tells whom"). On loopback they are the
 * node's own machine: they get everything, with the hint's `petal …` commands naming the data
 * directory. A node exposed with --http-expose cannot tell its operator from anyone else (behind
 * a reverse proxy every request comes from 127.0.0.1, and tokens are given to applications), so
 * its clients get no path of the machine and, for a fault of the node (5xx), only the code and its
 * documented meaning: the node's log has the rest.
 */
export interface ErrorAudience {
  /** the data directory the hints' `petal …` commands name (a served Daisy directory's own, not Petal's state of it) */
  dir: string
  /** exposed beyond loopback (--http-expose, with or without --public-read) */
  remote: boolean
  /** the spellings of `dir` a message may use, longest first, which a remote client never sees */
  hide: readonly string[]
  /** the peers this node knows that hold an active signatory's key (INGEST_NOT_SIGNATORY's hint: api-hints.ts) */
  signatoryPeers?: () => SignatoryPeer[]
}

/**
 * The audience of a server whose hints name `dir`; `others`: directories of the machine it also
 * serves from, which a remote client never sees either (a served Daisy directory's state).
 */
export function errorAudience (dir: string, remote: boolean, others: readonly string[] = []): ErrorAudience {
  return { dir, remote, hide: remote ? [...new Set([dir, ...others].flatMap(dirSpellings))].sort((a, b) => b.length - a.length) : [] }
}

/**
 * The one JSON shape of every error response. Petal's own errors keep their code, message, hint
 * (or, without one, their code's documented hint, as the CLI prints it; in the API's terms where
 * the CLI's names a command that has a request: api-hints.ts) and details, as the audience may see
 * them (ErrorAudience); anything else is an internal error whose message stays in
 * the log (never a stack trace in a response).
 */
export function errorBody (err: unknown, to?: ErrorAudience): ErrorBody {
  if (!isPetalError(err)) return { error: { code: 'API_INTERNAL', message: 'internal error (logged on the node)', hint: 'this is a bug: please report it with the node\'s log' } }
  const details = Object.keys(err.details).length === 0 ? undefined : jsonSafe(err.details)
  const hint = apiHintOf(err, to)
  if (to?.remote === true) return remoteBody(err, hint, details, to.hide)
  return { error: { code: err.code, message: err.message, hint: hint === undefined || to === undefined ? hint : hintWithDir(hint, hintDirOf(to.dir)), details } }
}

/**
 * What a client of an exposed node sees. A fault of the node (5xx: its disk, its files, its
 * mirror) says its code and that code's documented meaning, never the message, which names files
 * of the machine; a refusal of the request (4xx) keeps its message and details, with the data
 * directory's path taken out, and its hint's commands without `--dir`.
 */
function remoteBody (err: PetalError, hint: string | undefined, details: Record<string, unknown> | undefined, hide: readonly string[]): ErrorBody {
  if (httpStatusOf(err) >= 500) {
    return { error: { code: err.code, message: meaningOf(err.code) ?? 'this node cannot answer now', hint: `a fault of this node, not of the request: the node's log tells its operator the cause and the remedy (${err.code})` } }
  }
  // Only the node's own words: a client's text (or the chain's data) changed where it spells the
  // data directory would confirm a guess of the path sent in it (review36).
  const scrub = (s: string): string => hide.reduce((t, d) => t.split(d).join('<data dir>'), s)
  const q = err.quoted
  return {
    error: {
      code: err.code,
      message: changeOwnWords(err.message, q?.message, scrub),
      hint: hint === undefined ? undefined : changeOwnWords(hint, hint === err.hint ? q?.hint : undefined, scrub),
      details: details === undefined ? undefined : scrubbed(details, scrub, q?.details ?? [])
    }
  }
}

function meaningOf (code: string): string | undefined {
  for (const c of errorClasses()) { const d = c.docs[code]; if (d !== undefined) return d.meaning }
  return undefined
}

/**
 * The data directory as a message may spell it: absolute, and with its links resolved (a relative
 * spelling such as `data` would take words out of every message).
 */
function dirSpellings (dir: string): string[] {
  const out = new Set([resolve(dir)])
  try { out.add(realpathSync(dir)) } catch {}
  return [...out].filter(d => d.length > 1).sort((a, b) => b.length - a.length)
}

/** `v` with `scrub` applied to every string it holds, but in its `quoted` fields. */
function scrubbed (v: Record<string, unknown>, scrub: (s: string) => string, quoted: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, x] of Object.entries(v)) {
    out[k] = quoted.includes(k) ? x : parseJson(JSON.stringify(x, (_k, y: unknown) => (typeof y === 'string' ? scrub(y) : y)))
  }
  return out
}

/**
 * Tell the node's log of a fault of the node (a Petal error of status 5xx) in full, with the hint's
 * commands naming the data directory: an exposed node's clients are told only its code.
 */
export function logFault (logger: Logger, err: PetalError, method: string, url: string, dir: string | undefined): void {
  const hint = hintOf(err)
  const details = Object.keys(err.details).length === 0 ? undefined : JSON.stringify(jsonSafe(err.details))
  logger.warn('request failed', { method, url, code: err.code, error: err.message, hint: hint === undefined || dir === undefined ? hint : hintWithDir(hint, hintDirOf(dir)), details })
}

export function errorStatus (err: unknown): number { return httpStatusOf(err) }

/**
 * The header every answer carries, errors included: a browser then never takes a body for another
 * type than its Content-Type (an error's JSON, which echoes parts of the request, read as HTML).
 */
export const NOSNIFF = ['X-Content-Type-Options', 'nosniff'] as const

/** Extra headers an error response carries (a 401 says how to authenticate; a 429 when to retry). */
export function errorHeaders (err: unknown): Record<string, string> {
  if (err instanceof ApiError && err.code === 'API_UNAUTHORIZED') return { 'WWW-Authenticate': 'Bearer realm="petal"' }
  if (httpStatusOf(err) === 429) return { 'Retry-After': '1' }
  return {}
}

/** Write an error on a raw response whose headers are not sent yet (hijacked routes). */
export function writeError (res: ServerResponse, err: unknown, to?: ErrorAudience, log?: { logger: Logger, method: string, url: string }): void {
  if (log !== undefined && isPetalError(err) && httpStatusOf(err) >= 500) logFault(log.logger, err, log.method, log.url, to?.dir)
  const body = JSON.stringify(errorBody(err, to)) + '\n'
  res.writeHead(errorStatus(err), { ...errorHeaders(err), 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' })
  res.end(body)
}

function jsonSafe (d: object): Record<string, unknown> {
  const v = parseJson(JSON.stringify(d, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)))
  return isRecord(v) ? v : {}
}
