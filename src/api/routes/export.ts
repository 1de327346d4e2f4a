import { createReadStream, existsSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { EXPORT_FORMATS, isExportFormat, type ExportFormat } from '../../query/index.js'
import { tmpBlockPath, type DataDir } from '../../storage/index.js'
import { AbortError, canWrite, isPetalError, ownTempDir, pausepoint } from '../../util/index.js'
import { ApiError } from '../errors.js'
import { writeError } from '../http-errors.js'
import { field, intField, type RouteSpec } from '../route.js'
import { errorResponse } from '../schemas.js'
import { drained } from './query.js'

const TYPES: Record<ExportFormat, string> = {
  csv: 'text/csv; charset=utf-8; header=present',
  ndjson: 'application/x-ndjson; charset=utf-8',
  sqlite: 'application/vnd.sqlite3'
}

export const exportRoutes: RouteSpec[] = [{
  method: 'GET',
  path: '/api/v1/tables/{table}/export',
  operationId: 'exportTable',
  summary: 'One table\'s rows across the chain as CSV, NDJSON or an SQLite file (as `petal export`)',
  description: 'Every canonical block\'s rows of the table, by height and then in each block\'s canonical order, without `_height`, with the lossless encodings of POST /query (docs/queries.md, "Export"): importing a CSV and exporting it gives the same bytes. CSV and NDJSON are streamed with backpressure; an error after output has started cuts the response. sqlite is written to a private temporary file first and then sent. Encrypted columns are never decrypted here: they come as ciphertext BLOBs, whoever asks (docs/confidential.md); a recipient exports plaintext with its own CLI.',
  access: 'read',
  params: { type: 'object', required: ['table'], properties: { table: { type: 'string', minLength: 1, maxLength: 1000 } } },
  query: {
    type: 'object',
    additionalProperties: false,
    properties: {
      format: { type: 'string', enum: [...EXPORT_FORMATS], default: 'csv' },
      from: { type: 'integer', minimum: 0, maximum: 1e15, description: 'first height whose rows are exported' },
      to: { type: 'integer', minimum: 0, maximum: 1e15, description: 'last height whose rows are exported' }
    }
  },
  responses: {
    200: { description: 'the rows', content: { 'text/csv': { type: 'string' }, 'application/x-ndjson': { type: 'string' }, 'application/vnd.sqlite3': { type: 'string', format: 'binary' } } },
    400: errorResponse('bad parameters, or an unknown table (QUERY_UNKNOWN_TABLE)'),
    429: errorResponse('too many statements running and waiting (API_BUSY)'),
    503: errorResponse('the sandbox or the mirror is not available')
  },
  handler: async (req, reply, ctx) => {
    const table = field(req.params, 'table') ?? ''
    const f = field(req.query, 'format')
    const format: ExportFormat = f !== undefined && isExportFormat(f) ? f : 'csv'
    const from = intField(req.query, 'from')
    const to = intField(req.query, 'to')
    if (from !== undefined && to !== undefined && from > to) throw new ApiError('API_BAD_REQUEST', `from (${from}) is above to (${to})`)
    const res = reply.hijack().raw
    const controller = new AbortController()
    res.on('close', () => { if (!res.writableFinished) controller.abort() })
    const begin = (): void => {
      if (!res.headersSent) res.writeHead(200, { 'Content-Type': TYPES[format], 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff', 'Content-Disposition': `attachment; filename="${table.replace(/[^\w.-]/g, '_')}.${format === 'sqlite' ? 'db' : format}"` })
    }
    const { file, dir } = format === 'sqlite' ? await exportFile(ctx.chain.dir) : { file: undefined, dir: undefined }
    try {
      await ctx.queries.export({
        table,
        format,
        from,
        to,
        signal: controller.signal,
        sqlitePath: file,
        onText: async text => {
          begin()
          if (!res.write(text)) await drained(res)
        }
      })
      begin()
      if (file !== undefined) await pausepoint('api:export-written', controller.signal)
      if (file !== undefined) await pipeline(createReadStream(file), res)
      else res.end()
    } catch (err) {
      if (!isPetalError(err)) ctx.logger.error('export failed with an unexpected error', { error: err instanceof Error ? err.stack : String(err) })
      if (res.destroyed || (err instanceof AbortError && controller.signal.aborted)) res.destroy()
      else if (!res.headersSent) writeError(res, err, ctx.errorsTo, { logger: ctx.logger, method: 'GET', url: req.url })
      else { res.socket?.destroy(); res.destroy() }
    } finally {
      if (dir !== undefined) await rm(dir, { recursive: true, force: true })
      else if (file !== undefined) await rm(file, { force: true })
    }
  }
}]

/**
 * Where an SQLite export is written before it is sent: a private file in the data directory's
 * tmp/ (`<pid>-n<ns>-<random>.db`), so that a node killed during the export leaves it where the
 * next write's recovery or the node's next start removes it (cleanTmp: its process is gone). It
 * was a `petal-export-XXXXXX` directory in the OS's temporary directory, which nothing removed
 * after a kill. Where this process cannot write tmp/ (`petal serve` on a directory it only reads),
 * a private directory there still, removed when the export ends, and named by this process
 * (`petal-export-<pid>-n<ns>-XXXXXX`, ownTempDir): the next such export removes a killed node's.
 */
async function exportFile (data: DataDir): Promise<{ file: string, dir: string | undefined }> {
  if (canWrite(data.root) && (!existsSync(data.tmpDir) || canWrite(data.tmpDir))) {
    try { return { file: tmpBlockPath(data), dir: undefined } } catch {}
  }
  const dir = ownTempDir('petal-export')
  return { file: join(dir, 'export.db'), dir }
}
