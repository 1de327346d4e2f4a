import type { ServerResponse } from 'node:http'
import { isTextFormat, QueryError, TEXT_FORMATS, type TextFormat } from '../../query/index.js'
import { AbortError, isPetalError } from '../../util/index.js'
import { ApiError } from '../errors.js'
import { errorBody, errorStatus, logFault, writeError } from '../http-errors.js'
import type { ApiLimits } from '../options.js'
import { boolField, field, intField, type RouteSpec } from '../route.js'
import { errorResponse } from '../schemas.js'

export const CONTENT_TYPES: Record<TextFormat, string> = {
  ndjson: 'application/x-ndjson; charset=utf-8',
  json: 'application/json; charset=utf-8',
  csv: 'text/csv; charset=utf-8; header=present',
  table: 'text/plain; charset=utf-8'
}

const TRAILERS = 'Petal-Row-Count, Petal-Tip-Height, Petal-Tip-Hash'

function isFormat (v: string | undefined): v is TextFormat {
  return v !== undefined && isTextFormat(v)
}

/** Resolves once `res` can take more output; rejects when the client has gone away. */
export async function drained (res: ServerResponse): Promise<void> {
  if (res.destroyed) throw new AbortError('the client went away')
  await new Promise<void>((resolve, reject) => {
    const done = (): void => { res.off('drain', onDrain); res.off('close', onClose) }
    const onDrain = (): void => { done(); resolve() }
    const onClose = (): void => { done(); reject(new AbortError('the client went away')) }
    res.on('drain', onDrain)
    res.on('close', onClose)
  })
}

export function queryRoutes (limits: ApiLimits): RouteSpec[] {
  return [{
    method: 'POST',
    path: '/api/v1/query',
    operationId: 'query',
    summary: 'Run one read-only SQL statement over the whole chain (or in each block), streamed',
    description: 'The same engine, sandbox, rules, error codes and lossless encodings as `petal query` (docs/queries.md). The answer is streamed as it is produced, with backpressure: a client that reads slowly holds the statement, never the server\'s memory. Errors found before the first output (syntax, unknown tables, refused statements, most limits) come as a JSON error with its status. An error after output has started (a time limit, max_rows) ends the response abnormally (the chunked stream is cut, so no client can take it for a complete answer); in NDJSON an {"error": …} line comes first. A complete answer ends with the trailers Petal-Row-Count, Petal-Tip-Height and Petal-Tip-Hash; the json format also carries rowCount and tip in the document.',
    access: 'read',
    body: {
      'application/json': {
        type: 'object',
        required: ['sql'],
        additionalProperties: false,
        properties: {
          sql: { type: 'string', maxLength: 1024 * 1024, description: 'one read-only statement' },
          per_block: { type: 'boolean', default: false, description: 'Daisy\'s mode: run it in each block that has the tables it reads' },
          format: { type: 'string', enum: [...TEXT_FORMATS], default: 'ndjson' },
          max_rows: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'fail with QUERY_TOO_MANY_ROWS beyond this many rows' },
          timeout_ms: { type: 'integer', minimum: 1, maximum: limits.maxQueryTimeoutMs, description: `time limit of the statement (default ${limits.queryTimeoutMs})` },
          from: { type: 'integer', minimum: 0, maximum: 1e15, description: 'per_block: first height to visit' },
          to: { type: 'integer', minimum: 0, maximum: 1e15, description: 'per_block: last height to visit' }
        }
      }
    },
    responses: {
      200: {
        description: 'the answer, streamed',
        content: {
          'application/x-ndjson': { type: 'string', description: 'one JSON object per row' },
          'application/json': { type: 'object', properties: { columns: { type: 'array' }, rows: { type: 'array' }, rowCount: { type: 'integer' }, tip: { type: 'object' }, blocks: { type: 'integer' } } },
          'text/csv': { type: 'string' },
          'text/plain': { type: 'string' }
        }
      },
      400: errorResponse('a bad request or statement (QUERY_SYNTAX, QUERY_UNKNOWN_TABLE, …)'),
      403: errorResponse('a statement the sandbox refuses (QUERY_NOT_READONLY, QUERY_ATTACH_REFUSED, …)'),
      413: errorResponse('more rows than max_rows (QUERY_TOO_MANY_ROWS), or a value too large'),
      422: errorResponse('the statement ran past its time limit (QUERY_TIMEOUT)'),
      429: errorResponse('too many statements running and waiting (API_BUSY)'),
      503: errorResponse('the sandbox or the mirror is not available')
    },
    handler: async (req, reply, ctx) => {
      const perBlock = boolField(req.body, 'per_block') === true
      const from = intField(req.body, 'from')
      const to = intField(req.body, 'to')
      if (!perBlock && (from !== undefined || to !== undefined)) {
        throw new ApiError('API_BAD_REQUEST', 'from and to apply to per_block', { hint: 'in the default mode, filter with WHERE _height BETWEEN … AND …' })
      }
      if (from !== undefined && to !== undefined && from > to) throw new ApiError('API_BAD_REQUEST', `from (${from}) is above to (${to})`)
      const f = field(req.body, 'format')
      const format: TextFormat = isFormat(f) ? f : 'ndjson'
      const res = reply.hijack().raw
      const controller = new AbortController()
      res.on('close', () => { if (!res.writableFinished) controller.abort() })
      const started = performance.now()
      let bytes = 0
      // The first chunk of output is held back until a second one comes or the statement ends,
      // so that an answer of up to one chunk (256 KiB) that ends in an error (max_rows, a time
      // limit) gets the error's status rather than a 200 cut short.
      let held: string | undefined
      const begin = (): void => {
        if (res.headersSent) return
        res.writeHead(200, { 'Content-Type': CONTENT_TYPES[format], 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff', Trailer: TRAILERS })
        if (held !== undefined) { res.write(held); held = undefined }
      }
      let outcome = 'ok'
      try {
        const r = await ctx.queries.run({
          sql: field(req.body, 'sql') ?? '',
          perBlock,
          format,
          maxRows: intField(req.body, 'max_rows'),
          timeoutMs: intField(req.body, 'timeout_ms') ?? limits.queryTimeoutMs,
          from,
          to,
          signal: controller.signal,
          onText: async text => {
            bytes += Buffer.byteLength(text)
            ctx.metrics.queryBytes.inc({}, Buffer.byteLength(text))
            if (!res.headersSent && held === undefined) { held = text; return }
            begin()
            if (!res.write(text)) await drained(res)
          }
        })
        begin()
        res.addTrailers({ 'Petal-Row-Count': String(r.rowCount), 'Petal-Tip-Height': String(r.tip?.height ?? ''), 'Petal-Tip-Hash': r.tip?.hash ?? '' })
        res.end()
      } catch (caught) {
        const err = timeoutAtMost(caught, limits.maxQueryTimeoutMs)
        outcome = isPetalError(err) ? err.code : 'API_INTERNAL'
        if (!isPetalError(err)) ctx.logger.error('query failed with an unexpected error', { error: err instanceof Error ? err.stack : String(err) })
        if (res.destroyed || (err instanceof AbortError && controller.signal.aborted)) {
          res.destroy()
        } else if (!res.headersSent) {
          writeError(res, err, ctx.errorsTo, { logger: ctx.logger, method: 'POST', url: req.url })
        } else {
          // Output has started: the status can no longer say it. Cut the stream, so that no
          // client takes what it got for the whole answer (NDJSON says why first).
          const cut = (): void => { res.socket?.destroy(); res.destroy() }
          if (isPetalError(err) && errorStatus(err) >= 500) logFault(ctx.logger, err, 'POST', req.url, ctx.errorsTo.dir)
          if (format === 'ndjson') res.write(JSON.stringify(errorBody(err, ctx.errorsTo)) + '\n', cut)
          else cut()
        }
      } finally {
        ctx.metrics.queries.inc({ outcome })
        ctx.metrics.queryDuration.observe((performance.now() - started) / 1000)
        ctx.logger.debug('query', { outcome, bytes, ms: Math.round(performance.now() - started) })
      }
    }
  }]
}

/**
 * A statement stopped at the most `timeout_ms` this server allows: its hint (api-hints.ts: "raise
 * the body's timeout_ms") sent the client to a request the server refuses (API_BAD_REQUEST past the
 * most); it says to narrow the statement, and what the most is (review51b).
 */
function timeoutAtMost (err: unknown, maxMs: number): unknown {
  if (!QueryError.is(err) || err.code !== 'QUERY_TIMEOUT' || err.details.timeoutMs < maxMs) return err
  return new QueryError('QUERY_TIMEOUT', err.message, {
    hint: `narrow it (WHERE, LIMIT, fewer blocks, or per_block with from and to): its "timeout_ms" was the most this node allows (${maxMs})`,
    details: err.details
  })
}
