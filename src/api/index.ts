/**
 * api: the HTTP API (docs/api.md) — JSON under /api/v1 (status, blocks, block files, rows,
 * signers, SQL, server-sent events, the OpenAPI document), Prometheus metrics, a page for people
 * at /, bearer tokens and the limits that keep one client from taking a node down.
 *
 * Serves and never decides: it parses, authenticates, limits, calls chain, storage, query, proof
 * (and ingest), and maps their coded errors to HTTP statuses. Never imports network, sync or
 * node: facts about peers and sync reach it through `NodeFacts`, which the node implements, so
 * `petal serve` runs without libp2p. Never prints and never exits the process. The HTTP stack (Fastify) is loaded
 * only when a server starts, so commands that only manage tokens stay fast.
 * @module
 */
import type { ApiServer } from './server.js'
import type { ApiServerOptions } from './types.js'

export { ApiError, httpStatusOf } from './errors.js'
export { DEFAULT_HTTP_ADDRESS, DEFAULT_API_LIMITS, parseHttpAddress, isLoopbackHost, type HttpAddress, type ApiLimits, type AccessPolicy } from './options.js'
export { TOKEN_SCOPES, TokenStore, tokensPath, withTokensLock, type TokenScope } from './tokens.js'
export { PetalMetrics } from './petal-metrics.js'
export type { ApiServer } from './server.js'
export type { ApiServerOptions, NodeFacts } from './types.js'

/** Start an API server (listening when this resolves). */
export async function startApiServer (o: ApiServerOptions): Promise<ApiServer> {
  const { ApiServer } = await import('./server.js')
  return await ApiServer.start(o)
}
