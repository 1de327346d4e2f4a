import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http'
import type { AppendResult, RecordFormat } from '../ingest/index.js'
import { mayWrite } from './auth.js'
import { errorReply } from './error-reply.js'
import { NOSNIFF } from './http-errors.js'
import { acceptedBody } from './routes/records.js'
import type { ApiContext } from './types.js'

export const PREFIX = '/api/v1/records/'
/** Table names the ingest service accepts (checkTableName): anything else goes through Fastify. */
export const TABLE = /^[A-Za-z][A-Za-z0-9_]{0,63}$/
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
export type LeanContext = Pick<ApiContext, 'ingest' | 'tokens' | 'metrics' | 'logger' | 'limits' | 'access'> & Partial<Pick<ApiContext, 'errorsTo'>>

/**
 * How an answer is written: `answer` with the status and the headers as name/value pairs in order
 * (node:http's writeHead adds Date and Connection after them), `broken` when only the connection
 * can go (a throw after the answer's head went out).
 */
export interface LeanWriter {
  answer: (status: number, headers: string[], body: string | Buffer) => void
  broken: () => void
}

/**
 * The lean lane's checks and work, shared by its two entries: node:http's 'request' event
 * (`leanRecords`) and the strict HTTP/1.1 reader in front of node:http (lean-socket.ts).
 */
export class LeanLane {
  closing = false
  readonly bodyLimit: number
  private readonly maxRows: number

  constructor (private readonly ctx: LeanContext) {
    this.bodyLimit = ctx.limits.bodyBytes
    this.maxRows = ctx.limits.rowsPerRequest
  }

  /**
   * The table and format of a POST to `url` the lane takes, or undefined: a plain path with a
   * valid table name and no query, one of the record content types as clients send them, a
   * Content-Length within the body limit, a server that is not closing, and a request that passes
   * authorization (`headers`: host and authorization are read).
   */
  takes (url: string, contentType: string | undefined, length: number, headers: IncomingHttpHeaders): { table: string, format: RecordFormat } | undefined {
    if (this.closing || this.ctx.ingest === undefined || !url.startsWith(PREFIX)) return undefined
    const format = FORMATS.get(contentType ?? '')
    const table = url.slice(PREFIX.length)
    if (format === undefined || !TABLE.test(table) || !(length > 0 && length <= this.bodyLimit) || !mayWrite(headers, this.ctx.access, this.ctx.tokens)) return undefined
    return { table, format }
  }

  /** Appends the body's rows and answers as the Fastify route would; `started` is the request's performance.now(). */
  append (table: string, url: string, bytes: Buffer, format: RecordFormat, started: number, out: LeanWriter): void {
    const ingest = this.ctx.ingest
    if (ingest === undefined) throw new Error('the lean lane runs only with an ingest service')
    const reply = new LeanReply(this.ctx, url, started, out)
    // Both reactions on one promise (not .then().catch(): a second promise and hop per request);
    // a throw while answering 202 goes to `refused` too, never to an unhandled rejection.
    ingest.appendRecords(table, bytes, format, { maxRows: this.maxRows }).then(r => { reply.accepted(r) }, err => { reply.refused(err) })
  }
}

/**
 * One request's answer. A class, not closures made per request: the bundles (and tsx) are built
 * with esbuild's keepNames, which names every closure bound to a name (`const observe = () => …`,
 * `{ answer: () => … }`) with an Object.defineProperty when it is created, ~4 k instructions each
 * (docs/performance/ingest.md, "Session 20: ingest"); arrows passed as arguments are not named.
 */
class LeanReply {
  private sent = false

  constructor (private readonly ctx: LeanContext, private readonly url: string, private readonly started: number, private readonly out: LeanWriter) {}

  accepted (r: AppendResult): void {
    try {
      const body = acceptedBody(r)
      this.sent = true
      this.out.answer(202, ['Content-Type', JSON_TYPE, NOSNIFF[0], NOSNIFF[1], 'Content-Length', String(typeof body === 'string' ? Buffer.byteLength(body) : body.length)], body)
      this.observe(202)
    } catch (err) {
      this.refused(err)
    }
  }

  refused (err: unknown): void {
    // Also a throw while answering 202: with headers out, only the connection can go.
    if (this.sent) { this.out.broken(); return }
    const e = errorReply(this.ctx.logger, err, 'POST', this.url, { bodyLimit: this.ctx.limits.bodyBytes, to: this.ctx.errorsTo })
    this.sent = true
    const pairs: string[] = [NOSNIFF[0], NOSNIFF[1]]
    for (const [k, v] of Object.entries(e.headers)) pairs.push(k, v)
    pairs.push('Content-Length', String(Buffer.byteLength(e.body)))
    this.out.answer(e.status, pairs, e.body)
    this.observe(e.status)
  }

  private observe (status: number): void {
    this.ctx.metrics.observeRequest(ROUTE, 'POST', status, (performance.now() - this.started) / 1000)
  }
}

/**
 * The lean lane of `POST /api/v1/records/{table}` (docs/performance/ingest.md, "Fifth round") in
 * node:http's 'request' event, before Fastify's routing, hooks, content-type parser and reply. It
 * takes only requests whose answer it gives exactly as the Fastify route would (the same checks,
 * limits, errors, metrics and reply, from the same functions: `LeanLane.takes`). Anything else,
 * every refusal of the request itself included, goes to Fastify (`next`), which answers it as it
 * always did.
 */
export function leanRecords (ctx: LeanContext, next: Listener): { listener: Listener, lane: LeanLane, close: () => void } {
  const lane = new LeanLane(ctx)
  const listener: Listener = (req, res) => {
    const url = req.url ?? ''
    const headers = req.headers
    const taken = req.method === 'POST' && headers['transfer-encoding'] === undefined ? lane.takes(url, headers['content-type'], Number(headers['content-length']), headers) : undefined
    if (taken === undefined) {
      next(req, res)
      return
    }
    const started = performance.now()
    req.on('error', ignore) // a client gone mid-body: nothing is appended, the response closes
    let body: Buffer | undefined
    let parts: Buffer[] | undefined
    req.on('data', (c: Buffer) => {
      if (body === undefined) body = c
      else (parts ??= [body]).push(c)
    })
    req.on('end', () => {
      const bytes = parts === undefined ? body ?? Buffer.alloc(0) : Buffer.concat(parts)
      lane.append(taken.table, url, bytes, taken.format, started, new NodeWriter(res))
    })
  }
  return { listener, lane, close: () => { lane.closing = true } }
}

const ignore = (): void => {}

/** A LeanWriter on node:http's response (a class: no named closures per request, see LeanReply). */
class NodeWriter implements LeanWriter {
  constructor (private readonly res: ServerResponse) {}
  answer (status: number, pairs: string[], body: string | Buffer): void { this.res.writeHead(status, pairs); this.res.end(body) }
  broken (): void { this.res.destroy() }
}
