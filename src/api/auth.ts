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

/**
 * authorize(req, 'write', …) as a yes or no, for the lean records lane (lean-records.ts), which
 * leaves every refusal to Fastify to answer. `Bearer <token>` as clients send it is taken without
 * the regular expression; any other spelling is judged by authorize() itself.
 */
export function mayWrite (headers: IncomingHttpHeaders, policy: AccessPolicy, tokens: TokenStore): boolean {
  const host = headers.host
  if (!policy.expose && host !== undefined && !isLoopbackHeader(host)) return false
  const header = headers.authorization
  if (header === undefined) return false
  // What the expression below would capture when one space precedes the token and none follows
  // it (a text with any other whitespace in it is no valid token either way).
  if (header.startsWith('Bearer ') && header.charCodeAt(7) !== 0x20 && header.charCodeAt(header.length - 1) !== 0x20) return tokens.verify(header.slice(7))?.scope === 'write'
  try {
    authorize({ headers }, 'write', policy, tokens)
    return true
  } catch {
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
  const host = req.headers.host
  if (!policy.expose && host !== undefined && !isLoopbackHeader(host)) {
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
  const m = /^Bearer +([^\s]+) *$/i.exec(header)
  if (m === null) throw new ApiError('API_UNAUTHORIZED', 'the Authorization header is not "Bearer <token>"', { hint: 'send Authorization: Bearer <token>' })
  const token = tokens.verify(m[1] ?? '')
  if (token === undefined) throw new ApiError('API_UNAUTHORIZED', 'unknown or revoked token', { hint: 'check the token, or create a new one with `petal tokens create`; `petal tokens list` shows the valid ones' })
  if (needs === 'write' && token.scope !== 'write') {
    throw new ApiError('API_FORBIDDEN', `token ${token.id} (${token.name}) may only read`, { hint: 'create a token with `petal tokens create --scope write`' })
  }
}
