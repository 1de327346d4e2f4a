import { isIP } from 'node:net'
import { ApiError } from './errors.js'

/** Where the API listens. */
export interface HttpAddress { host: string, port: number }

/** Daisy's HTTP port, on loopback. */
export const DEFAULT_HTTP_ADDRESS: HttpAddress = { host: '127.0.0.1', port: 2018 }

/** Limits that keep one client from taking the node down (docs/api.md, "Limits"). */
export interface ApiLimits {
  /** Largest request body (POST /records, POST /query, PUT /tables). */
  bodyBytes: number
  /** Most rows in one POST /records. */
  rowsPerRequest: number
  /** Statements running at once (each in its own sandbox process). */
  concurrentQueries: number
  /** Statements waiting for a free sandbox; beyond that a request gets 429. */
  queuedQueries: number
  /** Time limit of a statement when the request names none. */
  queryTimeoutMs: number
  /** The most a request may ask for (`timeout_ms`). */
  maxQueryTimeoutMs: number
  /** A client must send its request headers within this (slowloris). */
  headersTimeoutMs: number
  /** A client must send its whole request within this. */
  requestTimeoutMs: number
  /** A connection with no traffic either way for this long is closed (SSE sends heartbeats). */
  idleTimeoutMs: number
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: number
  /** Open connections at most; further ones are closed at once. */
  maxConnections: number
  /** Open GET /events streams at most. */
  eventClients: number
  /** SSE heartbeat interval. */
  heartbeatMs: number
  /** Bytes of unsent events a slow SSE client may hold before it is dropped. */
  eventBufferBytes: number
  /** Page sizes: the default and the most one request may ask for. */
  pageDefault: number
  pageMax: number
  /** A page of rows stops growing past this many bytes of JSON (at least one row is sent). */
  pageBytes: number
}

export const DEFAULT_API_LIMITS: ApiLimits = {
  bodyBytes: 16 * 1024 * 1024,
  rowsPerRequest: 100_000,
  concurrentQueries: 4,
  queuedQueries: 32,
  queryTimeoutMs: 10_000,
  maxQueryTimeoutMs: 60_000,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 60_000,
  idleTimeoutMs: 120_000,
  keepAliveTimeoutMs: 5_000,
  maxConnections: 2_048,
  eventClients: 256,
  heartbeatMs: 15_000,
  eventBufferBytes: 1024 * 1024,
  pageDefault: 100,
  pageMax: 1_000,
  pageBytes: 8 * 1024 * 1024
}

/** Who may do what (docs/api.md, "Tokens"). */
export interface AccessPolicy {
  /** Listening beyond loopback was asked for explicitly (--http-expose). */
  expose: boolean
  /** With expose: reads need no token (--public-read). Writes always need one. */
  publicRead: boolean
}

/**
 * Parse `--http` values: `HOST:PORT`, `[IPv6]:PORT`, or a bare `PORT` (on 127.0.0.1). `off` is
 * handled by the caller.
 */
export function parseHttpAddress (text: string): HttpAddress {
  const bad = (why: string): ApiError => new ApiError('API_BAD_ADDRESS', `--http ${JSON.stringify(text)}: ${why}`, {
    hint: 'give HOST:PORT (127.0.0.1:2018, [::1]:2018, 0.0.0.0:2018), a bare PORT, or off'
  })
  let host = DEFAULT_HTTP_ADDRESS.host
  let portText = text
  const v6 = /^\[([^\]]+)\]:(\d+)$/.exec(text)
  if (v6 !== null) {
    host = v6[1] ?? ''
    portText = v6[2] ?? ''
    if (isIP(host) !== 6) throw bad('not an IPv6 address in brackets')
  } else if (text.includes(':')) {
    const i = text.lastIndexOf(':')
    host = text.slice(0, i)
    portText = text.slice(i + 1)
    if (host.includes(':')) throw bad('write an IPv6 address in brackets')
    if (host === '' || !/^[A-Za-z0-9.-]+$/.test(host)) throw bad('not a host name or address')
  }
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) throw bad('the port must be a number from 0 to 65535')
  return { host, port: Number(portText) }
}

/** Whether `host` is a loopback name or address: nothing outside this machine can reach it. */
export function isLoopbackHost (host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '')
  if (h === 'localhost' || h.endsWith('.localhost')) return true
  if (isIP(h) === 4) return h.startsWith('127.')
  if (isIP(h) === 6) return h === '::1' || /^::ffff:127\./.test(h)
  return false
}

/** The URL clients use for `addr` (IPv6 in brackets). */
export function httpUrl (addr: HttpAddress): string {
  const host = isIP(addr.host) === 6 ? `[${addr.host}]` : addr.host
  return `http://${host}:${addr.port}/`
}
