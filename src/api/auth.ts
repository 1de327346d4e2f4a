import type { IncomingHttpHeaders } from 'node:http'
import { ApiError } from './errors.js'
import { isLoopbackHost, type AccessPolicy } from './options.js'
import type { TokenStore } from './tokens.js'

export type Access = 'public' | 'read' | 'write'

/** The host part of a Host header (without the port; IPv6 without brackets). */
function hostOf (header: string): string {
  const v6 = /^\[([^\]]*)\](:\d+)?$/.exec(header)
  if (v6 !== null) return v6[1] ?? ''
  return header.replace(/:\d+$/, '')
}

/**
 * Host headers already judged, with their verdict: clients send the same one on every request,
 * and the regular expressions and IP parsing of a check cost a request several microseconds. The
 * verdict depends on the header's text alone; bounded so that hostile clients cannot grow it.
 */
const loopbackHosts = new Map<string, boolean>()
const MAX_HOSTS = 64

function isLoopbackHeader (header: string): boolean {
  let ok = loopbackHosts.get(header)
  if (ok === undefined) {
    ok = isLoopbackHost(hostOf(header))
    if (loopbackHosts.size >= MAX_HOSTS) loopbackHosts.clear()
    loopbackHosts.set(header, ok)
  }
  return ok
}

/** The Host header a loopback-only node refuses (it answers loopback names only), else undefined. */
function refusedHost (host: string | undefined, policy: AccessPolicy): string | undefined {
  return !policy.expose && host !== undefined && !isLoopbackHeader(host) ? host : undefined
}

/**
 * The token of an Authorization header `Bearer <token>` (scheme in any case, spaces around the
 * token), else undefined. The spelling clients send (one space, then printable ASCII to the end)
 * is cut without the regular expression, which captures the same text there.
 */
function bearerToken (header: string): string | undefined {
  if (header.startsWith('Bearer ') && header.length > 7) {
    let plain = true
    for (let i = 7; i < header.length; i++) {
      const c = header.charCodeAt(i)
      if (c <= 0x20 || c >= 0x7f) { plain = false; break }
    }
    if (plain) return header.slice(7)
  }
  return /^Bearer +([^\s]+) *$/i.exec(header)?.[1]
}

/**
 * authorize(req, 'write', …) as a yes or no, for the lean records lane (lean-records.ts), which
 * leaves every refusal to Fastify to answer.
 */
export function mayWrite (headers: IncomingHttpHeaders, policy: AccessPolicy, tokens: TokenStore): boolean {
  if (refusedHost(headers.host, policy) !== undefined) return false
  const header = headers.authorization
  const token = header === undefined ? undefined : bearerToken(header)
  if (token === undefined) return false
  try {
    return tokens.verify(token)?.scope === 'write'
  } catch {
    // A damaged token file (API_TOKENS_CORRUPT): Fastify's route answers it with its code and hint.
    // Thrown here, on the socket's data event, it ended the node (hints32).
    return false
  }
}

/**
 * Decide whether a request may proceed (docs/api.md, "Security"). A server on loopback answers
 * only requests addressed to a loopback name, so a web page cannot reach it through DNS
 * rebinding; writes always need a write token; reads need a token only when the server is exposed
 * beyond loopback without --public-read.
 */
export function authorize (req: { headers: IncomingHttpHeaders }, access: Access, policy: AccessPolicy, tokens: TokenStore): void {
  const host = refusedHost(req.headers.host, policy)
  if (host !== undefined) {
    throw new ApiError('API_HOST_REFUSED', `this node serves loopback only, and the request was addressed to ${JSON.stringify(hostOf(host))}`, {
      hint: 'use http://127.0.0.1:PORT/ or http://localhost:PORT/; to serve other hosts, start the node with --http-expose'
    })
  }
  const needs = access === 'write' ? 'write' : access === 'read' && policy.expose && !policy.publicRead ? 'read' : undefined
  if (needs === undefined) return
  const header = req.headers.authorization
  const what = needs === 'write' ? 'writing' : 'reading from this exposed node'
  if (header === undefined) {
    throw new ApiError('API_UNAUTHORIZED', `${what} needs a token`, {
      hint: `send Authorization: Bearer <token>; create one on the node with \`petal tokens create --scope ${needs}\``
    })
  }
  const presented = bearerToken(header)
  if (presented === undefined) throw new ApiError('API_UNAUTHORIZED', 'the Authorization header is not "Bearer <token>"', { hint: 'send Authorization: Bearer <token>' })
  const token = tokens.verify(presented)
  if (token === undefined) throw new ApiError('API_UNAUTHORIZED', 'unknown or revoked token', { hint: 'send a valid token as Authorization: Bearer petal_<id>_<secret>, exactly as it was printed when it was made; the node\'s operator lists the valid ones with `petal tokens list` and makes a new one with `petal tokens create`' })
  if (needs === 'write' && token.scope !== 'write') {
    throw new ApiError('API_FORBIDDEN', `token ${token.id} (${token.name}) may only read`, { hint: 'send a write token as Authorization: Bearer <token>; the node\'s operator makes one with `petal tokens create --scope write`' })
  }
}
