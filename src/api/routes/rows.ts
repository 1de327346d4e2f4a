import { jsonValue, readBlockRows } from '../../query/index.js'
import { ApiError } from '../errors.js'
import { quote, said } from '../../util/index.js'
import { field, intField, type RouteSpec } from '../route.js'
import { errorResponse, HASH } from '../schemas.js'
import { blockOf } from './blocks.js'

export const rowsRoutes: RouteSpec[] = [{
  method: 'GET',
  path: '/api/v1/blocks/{ref}/tables/{table}/rows',
  operationId: 'getTableRows',
  summary: 'A page of one table\'s rows in one block, in the block\'s canonical order',
  description: 'Read from the block file itself. Values are encoded as POST /query\'s JSON format encodes them: integers as exact digits (beyond 2^53 too), REALs always with a "." or an exponent, BLOBs as {"$base64": …}, NULL as null. A rowid table is paged by rowid: its first column is the rowid, and `next_after_rowid` (a string of digits) continues. A WITHOUT ROWID table is paged by position in primary-key order (`offset`, `next_offset`).',
  access: 'read',
  params: {
    type: 'object',
    required: ['ref', 'table'],
    properties: {
      ref: { type: 'string', pattern: '^([0-9]{1,15}|[0-9a-f]{8,64})$' },
      table: { type: 'string', minLength: 1, maxLength: 1000 }
    }
  },
  query: {
    type: 'object',
    additionalProperties: false,
    properties: {
      after_rowid: { type: 'string', pattern: '^-?[0-9]{1,19}$', description: 'rows with a rowid above this (default: from the first row)' },
      offset: { type: 'integer', minimum: 0, maximum: 1e15, description: 'rows from this position on (for WITHOUT ROWID tables)' },
      limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 }
    }
  },
  responses: {
    200: {
      description: 'a page of rows',
      content: {
        'application/json': {
          type: 'object',
          required: ['height', 'hash', 'table', 'paging', 'columns', 'rows'],
          properties: {
            height: { type: 'integer' },
            hash: HASH,
            table: { type: 'string' },
            paging: { type: 'string', enum: ['rowid', 'position'] },
            columns: { type: 'array', items: { type: 'string' } },
            rows: { type: 'array', items: { type: 'array' } },
            next_after_rowid: { type: ['string', 'null'] },
            next_offset: { type: ['integer', 'null'] },
            encrypted_columns: { type: 'array', items: { type: 'string' }, description: 'the columns this block encrypts (docs/confidential.md): their values are sealed BLOBs, never decrypted by the API; a recipient reads them with its own `petal query` or `petal export`' },
            recipients: { type: 'array', items: { type: 'string' }, description: 'the key ids the encrypted columns are sealed for' }
          }
        }
      }
    },
    400: errorResponse('bad parameters'),
    404: errorResponse('no such block (API_BLOCK_NOT_FOUND) or table in it (API_TABLE_NOT_FOUND)'),
    503: errorResponse('the block file is missing or damaged on this node')
  },
  handler: async (req, reply, ctx) => {
    const table = field(req.params, 'table') ?? ''
    const after = field(req.query, 'after_rowid')
    const offset = intField(req.query, 'offset')
    if (after !== undefined && offset !== undefined) throw new ApiError('API_BAD_REQUEST', 'give after_rowid or offset, not both')
    const afterRowid = after === undefined ? undefined : BigInt(after)
    if (afterRowid !== undefined && (afterRowid > 2n ** 63n - 1n || afterRowid < -(2n ** 63n))) throw new ApiError('API_BAD_REQUEST', 'after_rowid is outside the 64-bit range of rowids')
    const b = ctx.chain.index.readTransaction(() => blockOf(ctx, field(req.params, 'ref')))
    const page = readBlockRows(ctx.chain.dir.root, b, { table, afterRowid, offset, limit: intField(req.query, 'limit') ?? ctx.limits.pageDefault, maxBytes: ctx.limits.pageBytes })
    if (page === undefined) {
      throw new ApiError('API_TABLE_NOT_FOUND', said`block ${b.height} has no table ${quote(JSON.stringify(table))}`, {
        hint: `its tables are listed at /api/v1/blocks/${b.hash}`, details: { height: b.height, table }, quoted: { details: ['table'] }
      })
    }
    if (page.paging === 'position' && after !== undefined) {
      throw new ApiError('API_BAD_REQUEST', said`table ${quote(JSON.stringify(page.table))} has no rowid to page by`, { hint: 'page it with offset=N (its rows are in primary-key order)' })
    }
    let s = `{"height":${b.height},"hash":"${b.hash}","table":${JSON.stringify(page.table)},"paging":"${page.paging}","columns":${JSON.stringify(page.columns)},"rows":[`
    page.rows.forEach((r, i) => { s += (i === 0 ? '\n[' : ',\n[') + r.map(jsonValue).join(',') + ']' })
    s += `],"next_after_rowid":${page.nextAfterRowid === undefined ? 'null' : `"${page.nextAfterRowid}"`},"next_offset":${page.nextOffset ?? 'null'}`
    s += `,"encrypted_columns":${JSON.stringify(page.encrypted.columns)},"recipients":${JSON.stringify(page.encrypted.recipients)}}\n`
    return await reply.type('application/json; charset=utf-8').send(s)
  }
}]
