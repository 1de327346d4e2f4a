import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import { Ajv } from 'ajv'
import Fastify, { type FastifyInstance } from 'fastify'
import { Chain } from '../chain/index.js'
import { canWrite, errorCode, errorMessage, nullLogger } from '../util/index.js'
import { ActivitySeries } from './activity-series.js'
import { authorize, type Access } from './auth.js'
import { BlockFiles } from './block-files.js'
import { ApiError } from './errors.js'
import { ChainWatcher, EventHub } from './events.js'
import { registerExplorer, type PageNotFound } from './explorer.js'
import { errorReply } from './error-reply.js'
import { errorAudience, errorBody, errorStatus, NOSNIFF, writeError } from './http-errors.js'
import { leanRecords } from './lean-records.js'
import { leanSocket } from './lean-socket.js'
import { openApiDocument } from './openapi.js'
import { DEFAULT_API_LIMITS, httpUrl, isLoopbackHost, type AccessPolicy, type ApiLimits, type HttpAddress } from './options.js'
import { PetalMetrics } from './petal-metrics.js'
import { QueryService } from './query-service.js'
import { fastifyPath, type RouteSpec } from './route.js'
import { activityRoutes } from './routes/activity.js'
import { blockFileRoutes } from './routes/block-file.js'
import { blockRoutes } from './routes/blocks.js'
import { eventsRoutes } from './routes/events.js'
import { metaRoutes } from './routes/meta.js'
import { peersRoutes } from './routes/peers.js'
import { queryRoutes } from './routes/query.js'
import { exportRoutes } from './routes/export.js'
import { recordRoutes } from './routes/records.js'
import { rowsRoutes } from './routes/rows.js'
import { proofRoutes } from './routes/proofs.js'
import { noCheckpointHint } from '../proof/index.js'
import { signersRoutes } from './routes/signers.js'
import { orphansRoutes } from './routes/orphans.js'
import { API_VERSION, statusRoutes } from './routes/status.js'
import { peersOfSignatories, type SignatoryPeer } from './signatory-peers.js'
import { TokenStore } from './tokens.js'
import type { ApiContext, ApiServerOptions } from './types.js'

declare module 'fastify' {
  interface FastifyContextConfig { access?: Access }
}

const DEFAULT_WATCH_MS = 250
// The longest path parameter (a table name, a receipt id, a block reference) the router takes.
const MAX_PARAM_LENGTH = 2000
// Connections the kernel queues before the server accepts them (Node's default is 511).
const LISTEN_BACKLOG = 4096

/** Every route the server registers, in the order the OpenAPI document lists them. */
export function apiRoutes (limits: ApiLimits): RouteSpec[] {
  return [...statusRoutes, ...blockRoutes, ...blockFileRoutes, ...rowsRoutes, ...proofRoutes, ...signersRoutes, ...orphansRoutes, ...activityRoutes, ...peersRoutes, ...queryRoutes(limits), ...exportRoutes, ...recordRoutes(limits.bodyBytes, limits.rowsPerRequest), ...eventsRoutes, ...metaRoutes]
}

/**
 * The HTTP API (docs/api.md): JSON under /api/v1, the block files, SQL, server-sent events,
 * metrics, and the web explorer for people at /. It serves and never decides: it parses, authenticates,
 * limits, calls the modules below, and maps their errors to HTTP.
 */
export class ApiServer {
  private readonly controller = new AbortController()
  private watchLoop?: Promise<void>

  private constructor (
    private readonly app: FastifyInstance,
    private readonly ctx: ApiContext,
    readonly address: HttpAddress,
    private readonly watcher: ChainWatcher,
    private readonly unsubscribe: (() => void) | undefined,
    private readonly stopLean: () => void
  ) {}

  /** The URL to give people and programs (`http://127.0.0.1:2018/`). */
  get url (): string { return httpUrl(this.address) }

  get events (): EventHub { return this.ctx.events }

  get metrics (): PetalMetrics { return this.ctx.metrics }

  /** Look for a new tip now (the node calls this after it imports; a poll catches the rest). */
  poke (): void {
    try { this.watcher.check() } catch {}
  }

  static async start (o: ApiServerOptions): Promise<ApiServer> {
    const access: AccessPolicy = { expose: o.access?.expose ?? false, publicRead: o.access?.publicRead ?? false }
    if (!access.expose && !isLoopbackHost(o.address.host)) {
      throw new ApiError('API_EXPOSE_REQUIRED', `${o.address.host} is not a loopback address: the API would be reachable from other machines`, {
        hint: 'add --http-expose to serve beyond this machine (reads then need a token unless --public-read), or use --http 127.0.0.1:PORT'
      })
    }
    const limits: ApiLimits = { ...DEFAULT_API_LIMITS, ...o.limits }
    const logger = o.logger ?? nullLogger
    const writable = canWrite(o.dir)
    // Read-only: the API never writes the index, so it never waits for a writer's lock (a node
    // sealing a large block holds it for seconds). The node, or the CLI for `serve`, has already
    // opened the directory for writing and repaired it if a writer had crashed.
    const chain = Chain.open(o.dir, { readonly: true, logger: logger.child('chain') })
    try {
      const metrics = o.metrics ?? new PetalMetrics()
      const events = new EventHub()
      const watcher = new ChainWatcher(chain, events, logger)
      const queries = new QueryService(chain, limits, o.node?.syncMirror, writable, logger)
      const routes = apiRoutes(limits)
      let doc: unknown
      // In a read transaction: the tip's signatories, while the peers' proofs are the node's.
      const signatoryPeers = (): SignatoryPeer[] => chain.index.readTransaction(() => peersOfSignatories(chain.keysAt(chain.tip()), o.knownPeers?.() ?? [], new Set(o.node?.peers().map(p => p.id))))
      const ctx: ApiContext = {
        chain,
        limits,
        access,
        node: o.node,
        ingest: o.ingest,
        orphans: o.orphans,
        readOnlyHint: o.readOnlyHint,
        metrics,
        chunkPool: o.chunkPool,
        noCheckpointHint: asked => noCheckpointHint(o.checkpointAudience?.() ?? { kind: 'reader' }, asked),
        events,
        streamTip: () => {
          try { watcher.check() } catch {}
          return watcher.tip
        },
        queries,
        files: new BlockFiles(chain.dir),
        tokens: TokenStore.of(o.dir),
        activity: new ActivitySeries(),
        logger,
        signatoryPeers,
        errorsTo: { ...errorAudience(o.hintDir ?? chain.dir.root, access.expose, [chain.dir.root]), signatoryPeers },
        openapi: () => (doc ??= openApiDocument(routes, { version: API_VERSION, chainId: chain.chainId, description: chain.params.description }))
      }
      const ingest = o.ingest
      const unsubscribe = ingest?.on('sealed', e => {
        try { watcher.check() } catch {} // the new tip first, then what it sealed
        metrics.sealLatency.observe(e.latencyMs / 1000)
        metrics.sealedRows.inc({}, e.rows)
        events.emit({ type: 'sealed', data: { height: e.height, hash: e.hash, rows: e.rows, receipts: e.receipts } })
      })
      metrics.attach({
        tipHeight: () => chain.tip().height,
        ...(ingest === undefined ? {} : { pending: () => { const s = ingest.stats(); return { rows: s.pendingRows, bytes: s.pendingBytes } } }),
        eventClients: () => events.clients,
        queriesRunning: () => queries.load,
        ...(o.node === undefined ? {} : { peers: () => o.node?.peers().length ?? 0 })
      })
      const app = buildApp(ctx, routes)
      // POST /records takes a lean lane before Fastify's routing (lean-records.ts); everything
      // else, and every request that lane does not take, goes to Fastify's own handler.
      // Every answer says nosniff (mend36): set on node's response before Fastify sees the request,
      // it reaches the routes, the error and not-found handlers, the router's refusals and the
      // hijacked streams alike (their writeHead merges it). The lean lane adds it to its own.
      const lean = leanRecords(ctx, (req, res) => { res.setHeader(NOSNIFF[0], NOSNIFF[1]); app.routing(req, res) })
      app.server.removeAllListeners('request')
      app.server.on('request', lean.listener)
      // And in front of node:http, a strict reader takes the lane's requests off the socket itself
      // (lean-socket.ts), handing every other request, with the rest of its connection, to node.
      const raw = o.ingest === undefined ? undefined : leanSocket(app.server, lean.lane)
      const stopLean = (): void => { lean.close(); raw?.close() }
      let addr: AddressInfo
      try {
        await app.listen({ host: o.address.host, port: o.address.port, backlog: LISTEN_BACKLOG })
        const bound = app.server.address()
        // A TCP server's address is an object; a string would be a pipe, which Petal never opens.
        if (bound === null || typeof bound === 'string') throw new Error(`the server is not bound to a TCP port: ${String(bound)}`)
        addr = bound
      } catch (err) {
        unsubscribe?.()
        await app.close()
        await queries.close()
        const code = errorCode(err)
        throw new ApiError('API_LISTEN_FAILED', `cannot serve HTTP on ${httpUrl(o.address)}: ${code === 'EADDRINUSE' ? 'the port is in use' : errorMessage(err)}`, {
          hint: 'choose another address with --http HOST:PORT (port 0 picks a free one), or --http off', cause: err
        })
      }
      const server = new ApiServer(app, ctx, { host: o.address.host, port: addr.port }, watcher, unsubscribe, stopLean)
      server.watchLoop = server.watcher.run(o.watchMs ?? DEFAULT_WATCH_MS, server.controller.signal)
      logger.info('HTTP API listening', { url: server.url, exposed: access.expose })
      return server
    } catch (err) {
      chain.close()
      throw err
    }
  }

  async close (): Promise<void> {
    this.stopLean() // from now on Fastify answers every request (503 while closing)
    this.unsubscribe?.()
    this.controller.abort()
    await this.watchLoop
    await this.app.close()
    await this.ctx.queries.close()
    this.ctx.chain.close()
  }
}

function buildApp (ctx: ApiContext, routes: RouteSpec[]): FastifyInstance {
  const l = ctx.limits
  const app = Fastify({
    logger: false,
    bodyLimit: l.bodyBytes,
    connectionTimeout: l.idleTimeoutMs,
    keepAliveTimeout: l.keepAliveTimeoutMs,
    requestTimeout: l.requestTimeoutMs,
    forceCloseConnections: true,
    return503OnClosing: true,
    http: { headersTimeout: l.headersTimeoutMs, connectionsCheckingInterval: Math.min(1000, l.headersTimeoutMs) },
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: MAX_PARAM_LENGTH },
    // The router's own refusals (a path part over maxParamLength, bad percent-encoding) came in
    // Fastify's error shape, echoing the whole path (http35): the one coded shape instead.
    frameworkErrors: (err, _req, reply) => {
      const e = new ApiError('API_BAD_REQUEST', err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? `a part of the path is longer than ${MAX_PARAM_LENGTH} characters` : 'the path is not valid percent-encoding (%XX of UTF-8 bytes)')
      writeError(reply.raw, e, ctx.errorsTo)
    }
  })
  // Query strings and path parameters are text, so their numbers are coerced; a JSON body is
  // taken as sent (a number where a string belongs is an error, not the string "5").
  const forText = new Ajv({ coerceTypes: 'array', useDefaults: true, removeAdditional: false, strict: false })
  const forBody = new Ajv({ coerceTypes: false, useDefaults: true, removeAdditional: false, strict: false })
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? forBody : forText).compile(schema))
  app.server.maxConnections = l.maxConnections
  // Connection-level failures (a slowloris client cut at headersTimeout, oversized headers, bytes
  // that are not HTTP) get the same coded JSON errors as everything else.
  app.server.removeAllListeners('clientError')
  app.server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => { answerClientError(err, socket) })
  // CONNECT (a proxy's tunnel) is no endpoint here: without a listener node:http reset the connection.
  app.server.on('connect', (req: { url?: string }, socket: Duplex) => {
    answerRaw(socket, new ApiError('API_NOT_FOUND', `no such endpoint: CONNECT ${(req.url ?? '').slice(0, 200)}`, { hint: 'the endpoints are listed at /api/v1/openapi.json' }), 'Not Found')
  })
  // Only JSON bodies by default: a text/plain POST (what an HTML form can send across sites) is a 415.
  app.removeContentTypeParser('text/plain')

  app.addHook('onRequest', async (req, reply) => {
    const started = performance.now()
    // Read once: Fastify builds req.routeOptions anew on every access.
    const route = req.routeOptions
    reply.raw.once('close', () => { ctx.metrics.observeRequest(route.url ?? 'unmatched', req.method, reply.raw.statusCode, (performance.now() - started) / 1000) })
    const access = route.config.access ?? 'public'
    // A server that takes no writes refuses them as such (API_READ_ONLY from the route), rather
    // than asking for a token that would only lead to that refusal.
    authorize(req, access === 'write' && ctx.ingest === undefined ? 'public' : access, ctx.access, ctx.tokens)
  })

  app.setErrorHandler(async (err, req, reply) => {
    const e = errorReply(ctx.logger, err, req.method, req.url, { bodyLimit: req.routeOptions.bodyLimit ?? ctx.limits.bodyBytes, to: ctx.errorsTo })
    return await reply.code(e.status).headers(e.headers).send(e.body)
  })

  let pageNotFound: PageNotFound | undefined
  app.setNotFoundHandler(async (req, reply) => {
    authorize(req, 'public', ctx.access, ctx.tokens)
    const page = pageNotFound?.(req, reply)
    if (page !== undefined) return await page
    const e = new ApiError('API_NOT_FOUND', `no such endpoint: ${req.method} ${req.url.split('?')[0] ?? ''}`, { hint: 'the endpoints are listed at /api/v1/openapi.json' })
    return await reply.code(404).type('application/json; charset=utf-8').send(errorBody(e))
  })

  pageNotFound = registerExplorer(app)
  for (const r of routes) {
    const schema: Record<string, unknown> = {}
    if (r.params !== undefined) schema.params = r.params
    if (r.query !== undefined) schema.querystring = r.query
    const json = r.body?.['application/json']
    if (json !== undefined) schema.body = json
    void app.register(async scope => {
      if (r.rawBody !== undefined) {
        scope.removeAllContentTypeParsers()
        scope.addContentTypeParser(r.rawBody, { parseAs: 'buffer' }, (_req, body, done) => { done(null, body) })
      }
      scope.route({
        method: r.method,
        url: fastifyPath(r.path),
        schema,
        config: { access: r.access },
        ...(r.bodyLimit === undefined ? {} : { bodyLimit: r.bodyLimit }),
        handler: async (req, reply) => await r.handler(req, reply, ctx)
      })
    })
  }
  return app
}

function answerClientError (err: NodeJS.ErrnoException, socket: Duplex): void {
  if (!socket.writable || err.code === 'ECONNRESET') { socket.destroy(); return }
  const e = err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
    ? new ApiError('API_REQUEST_TIMEOUT', 'the request was not received in time', { hint: 'send the whole request promptly' })
    : err.code === 'HPE_HEADER_OVERFLOW'
      ? new ApiError('API_HEADERS_TOO_LARGE', 'the request headers are too large')
      : new ApiError('API_MALFORMED_REQUEST', 'the request is not valid HTTP/1.1')
  answerRaw(socket, e, e.code === 'API_REQUEST_TIMEOUT' ? 'Request Timeout' : e.code === 'API_HEADERS_TOO_LARGE' ? 'Request Header Fields Too Large' : 'Bad Request')
}

/** A coded error written on the socket itself (no request object to answer through), then the end. */
function answerRaw (socket: Duplex, e: ApiError, reason: string): void {
  if (!socket.writable) { socket.destroy(); return }
  const body = JSON.stringify(errorBody(e)) + '\n'
  socket.end(`HTTP/1.1 ${errorStatus(e)} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\n${NOSNIFF[0]}: ${NOSNIFF[1]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`)
}
