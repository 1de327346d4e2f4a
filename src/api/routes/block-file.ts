import { parseRange } from '../block-files.js'
import { field, type RouteSpec } from '../route.js'
import { BLOCK_REF_PARAMS, errorResponse } from '../schemas.js'
import { blockOf } from './blocks.js'

const IMMUTABLE = 'public, max-age=31536000, immutable'

export const blockFileRoutes: RouteSpec[] = [{
  method: 'GET',
  path: '/api/v1/blocks/{ref}/file',
  operationId: 'getBlockFile',
  summary: 'The block file itself (an SQLite database), streamed from disk',
  description: 'ETag is the block hash. Fetched by hash the response is immutable (cached for a year); by height it is revalidated, since a reorg can change the block at a height. A single byte range is served with 206; several ranges are answered with the whole file. The block is self-verifying: sha256 of the body is Petal-Block-Hash, and Petal-Seal signs it.',
  access: 'read',
  params: BLOCK_REF_PARAMS,
  responses: {
    200: {
      description: 'the whole file',
      content: { 'application/vnd.sqlite3': { type: 'string', format: 'binary' } },
      headers: {
        'Petal-Block-Hash': { description: 'hex sha256 of the file', schema: { type: 'string' } },
        'Petal-Seal': { description: 'hex DER seal over the block hash and RowsRoot', schema: { type: 'string' } },
        'Petal-Height': { description: 'the block\'s height', schema: { type: 'integer' } },
        ETag: { description: '"<block hash>"', schema: { type: 'string' } }
      }
    },
    206: { description: 'the requested byte range', content: { 'application/vnd.sqlite3': { type: 'string', format: 'binary' } } },
    304: { description: 'the client\'s copy (If-None-Match) is current' },
    404: errorResponse('no such block'),
    416: errorResponse('the range starts past the end of the file'),
    503: errorResponse('the file is missing or damaged on this node (BLOCK_FILE_MISSING)')
  },
  handler: async (req, reply, ctx) => {
    const ref = field(req.params, 'ref')
    const b = ctx.chain.index.readTransaction(() => blockOf(ctx, ref))
    const etag = `"${b.hash}"`
    reply.header('ETag', etag)
      .header('Cache-Control', ref === b.hash ? IMMUTABLE : 'no-cache')
      .header('Petal-Block-Hash', b.hash)
      .header('Petal-Seal', b.seal)
      .header('Petal-Height', String(b.height))
      .header('Accept-Ranges', 'bytes')
    const inm = req.headers['if-none-match']
    if (inm !== undefined && (inm === '*' || inm.split(',').some(t => t.trim().replace(/^W\//, '') === etag))) {
      return await reply.code(304).send()
    }
    const { fh, size } = await ctx.files.open(b)
    const ifRange = req.headers['if-range']
    const range = ifRange === undefined || ifRange === etag ? parseRange(req.headers.range, size) : undefined
    if (range === 'unsatisfiable') {
      await fh.close()
      reply.header('Content-Range', `bytes */${size}`)
      return await reply.code(416).send({ error: { code: 'API_RANGE_NOT_SATISFIABLE', message: `the file has ${size} bytes`, hint: 'ask for a range that starts below the file size' } })
    }
    const name = b.canonical ? `block_${b.height.toString(16).padStart(8, '0')}.db` : `${b.hash}.db`
    reply.header('Content-Type', 'application/vnd.sqlite3').header('Content-Disposition', `attachment; filename="${name}"`)
    const { start, end } = range ?? { start: 0, end: size - 1 }
    if (range !== undefined) reply.code(206).header('Content-Range', `bytes ${start}-${end}/${size}`)
    reply.header('Content-Length', String(end - start + 1))
    if (req.method === 'HEAD') {
      // Answered here: Fastify's own HEAD handling would read a streamed body to the end and drop it.
      await fh.close()
      const res = reply.hijack().raw
      for (const [k, v] of Object.entries(reply.getHeaders())) if (v !== undefined) res.setHeader(k, typeof v === 'number' ? String(v) : v)
      res.writeHead(reply.statusCode)
      res.end()
      return
    }
    return await reply.send(fh.createReadStream({ start, end, autoClose: true }))
  }
}]
