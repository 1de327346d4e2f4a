import type { IncomingMessage, ServerResponse } from 'node:http'
import type { RecordFormat } from '../ingest/index.js'
import { mayWrite } from './auth.js'
import { errorReply } from './error-reply.js'
import { acceptedBody } from './routes/records.js'
import type { ApiContext } from './types.js'

const PREFIX = '/api/v1/records/'
/** Table names the ingest service accepts (checkTableName): anything else goes through Fastify. */
const TABLE = /^[A-Za-z][A-Za-z0-9_]{0,63}$/
/** The route as Fastify names it in the metrics. */
const ROUTE = '/api/v1/records/:table'
/** Content types taken here, exactly as clients send them; any other spelling goes through Fastify. */
const FORMATS = new Map<string, RecordFormat>([
  ['application/json', 'json'], ['application/json; charset=utf-8', 'json'],
  ['application/x-ndjson', 'ndjson'], ['application/x-ndjson; charset=utf-8', 'ndjson'],
  ['text/csv', 'csv'], ['text/csv; charset=utf-8', 'csv']
])
const JSON_TYPE = 'application/json; charset=utf-8'

type Listener = (req: IncomingMessage, res: ServerResponse) => void

/** What the lane reads of the server's context. */
export type LeanContext = Pick<ApiContext, 'ingest' | 'tokens' | 'metrics' | 'logger' | 'limits' | 'access'>

/**
 * The lean lane of `POST /api/v1/records/{table}` (docs/performance.md, "Fifth round"): the
 * request is taken in node:http's 'request' event, before Fastify's routing, hooks, content-type
 * parser and reply. It takes only requests whose answer it gives exactly as the Fastify route
 * would (the same checks, limits, errors, metrics and reply, from the same functions): a plain
 * path with a valid table name and no query, one of the record content types as clients send
 * them, a Content-Length within the body limit, a server that is not closing, and a request that
 * passes authorization. Anything else, every refusal of the request itself included, goes to
 * Fastify (`next`), which answers it as it always did.
 */
export function leanRecords (ctx: LeanContext, next: Listener): { listener: Listener, close: () => void } {
  let closing = false
  const bodyLimit = ctx.limits.bodyBytes
  const maxRows = ctx.limits.rowsPerRequest
  const listener: Listener = (req, res) => {
    const ingest = ctx.ingest
    const url = req.url ?? ''
    const format = req.method === 'POST' && !closing && ingest !== undefined && url.startsWith(PREFIX) ? FORMATS.get(req.headers['content-type'] ?? '') : undefined
    const table = url.slice(PREFIX.length)
    const length = format === undefined ? NaN : Number(req.headers['content-length'])
    if (format === undefined || ingest === undefined || !TABLE.test(table) || !(length > 0 && length <= bodyLimit) || req.headers['transfer-encoding'] !== undefined || !mayWrite(req.headers, ctx.access, ctx.tokens)) {
      next(req, res)
      return
    }
    const started = performance.now()
    // 'close' comes once per response: `on`, without once()'s wrapper and its bound function.
    res.on('close', () => { ctx.metrics.observeRequest(ROUTE, 'POST', res.statusCode, (performance.now() - started) / 1000) })
    req.on('error', ignore) // a client gone mid-body: nothing is appended, the response closes
    let body: Buffer | undefined
    let parts: Buffer[] | undefined
    req.on('data', (c: Buffer) => {
      if (body === undefined) body = c
      else (parts ??= [body]).push(c)
    })
    req.on('end', () => {
      const bytes = parts === undefined ? body ?? Buffer.alloc(0) : Buffer.concat(parts)
      const refused = (err: unknown): void => {
        // Also a throw while answering 202: with headers out, only the connection can go.
        if (res.headersSent) { res.destroy(); return }
        const e = errorReply(ctx.logger, err, 'POST', url)
        res.writeHead(e.status, { ...e.headers, 'Content-Length': String(Buffer.byteLength(e.body)) })
        res.end(e.body)
      }
      // Both reactions on one promise (not .then().catch(): a second promise and hop per request);
      // a throw while answering 202 goes to `refused` too, never to an unhandled rejection.
      ingest.appendRecords(table, bytes, format, { maxRows }).then(r => {
        try {
          const body = acceptedBody(r)
          res.writeHead(202, ['Content-Type', JSON_TYPE, 'Content-Length', String(typeof body === 'string' ? Buffer.byteLength(body) : body.length)])
          res.end(body)
        } catch (err) {
          refused(err)
        }
      }, refused)
    })
  }
  return { listener, close: () => { closing = true } }
}

const ignore = (): void => {}
