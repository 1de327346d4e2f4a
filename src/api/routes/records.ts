import { IngestError, receiptCount, receiptsBody, type AppendResult, type IngestService, type Receipt, type RecordFormat } from '../../ingest/index.js'
import { isRecord, quote, said } from '../../util/index.js'
import { ApiError } from '../errors.js'
import { field, type RouteSpec } from '../route.js'
import { errorResponse, HASH } from '../schemas.js'
import type { ApiContext } from '../types.js'

const FORMATS: Record<string, RecordFormat> = {
  'application/json': 'json',
  'application/x-ndjson': 'ndjson',
  'text/csv': 'csv'
}

const TABLE_PARAMS = {
  type: 'object',
  required: ['table'],
  properties: { table: { type: 'string', minLength: 1, maxLength: 1000, description: 'the table to write to (created on the first write)' } }
}

/**
 * The ingest service, or the refusal of a server that cannot write: for a write, what to do
 * instead as the server's data directory stands (ApiContext.readOnlyHint); for a receipt, who has it.
 */
function writer (ctx: ApiContext, forReceipt = false): IngestService {
  if (ctx.ingest === undefined) {
    throw new ApiError('API_READ_ONLY', `this server ${forReceipt ? 'keeps no receipts' : 'does not take writes'} (petal serve, or a node run without record ingestion)`, {
      hint: forReceipt ? 'a receipt is answered by the node that acknowledged its row: ask that node (GET /api/v1/receipts/ID there)' : ctx.readOnlyHint?.() ?? 'write to a signatory node started with `petal run`'
    })
  }
  return ctx.ingest
}

function formatOf (contentType: string | undefined): RecordFormat {
  const essence = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? ''
  const f = FORMATS[essence]
  if (f === undefined) throw new ApiError('API_UNSUPPORTED_MEDIA_TYPE', `records cannot be sent as ${JSON.stringify(essence)}`, { hint: `send ${Object.keys(FORMATS).join(', ')}` })
  return f
}

/**
 * The 202 answer to POST /records (here and in the lean lane, lean-records.ts). Written out rather
 * than serialized by the response schema: receipt ids need no escaping, and a reply to 10,000 rows
 * serialized item by item cost more than storing them; the receipts are written from the append's
 * row ids without making a string per row (receiptsBody): the whole body in one Buffer from two
 * receipts on, and a string for a lone receipt (node:http then sends head and body in one write).
 */
export function acceptedBody (r: AppendResult): string | Buffer {
  const head = `${tableHead(r.table)}${receiptCount(r)}${r.created || r.addedColumns.length > 0 ? `,"created":${r.created},"added_columns":${JSON.stringify(r.addedColumns)},"receipts":` : PLAIN}`
  return receiptsBody(r, head, '}')
}
/** The reply's middle for an append that neither created its table nor added columns (nearly all). */
const PLAIN = ',"created":false,"added_columns":[],"receipts":'
/** `{"table":<name>,"rows":` of the last table answered (clients write to one table, or a few, over and over). */
let lastHead = { table: '', text: '' }
function tableHead (table: string): string {
  if (lastHead.table !== table) lastHead = { table, text: `{"table":${JSON.stringify(table)},"rows":` }
  return lastHead.text
}

/**
 * A receipt as the API shows it. "sealed" is said only when this server's own read of the index
 * sees the block canonical, so it is never reported before the block's commit is visible.
 */
function receiptJson (ctx: ApiContext, r: Receipt): Record<string, unknown> {
  const b = r.sealed === undefined ? undefined : ctx.chain.index.byHash(r.sealed.blockHash)
  const sealed = r.sealed !== undefined && b?.canonical === true ? r.sealed : undefined
  const out: Record<string, unknown> = {
    id: r.id,
    table: r.table,
    state: sealed === undefined ? 'pending' : 'sealed',
    accepted_at: r.acceptedAt,
    sealed: sealed === undefined
      ? null
      : {
          height: sealed.height,
          block_hash: sealed.blockHash,
          table: sealed.table,
          rowid: sealed.rowid,
          sealed_at: sealed.sealedAt,
          block_url: `/api/v1/blocks/${sealed.blockHash}`,
          row_url: `/api/v1/blocks/${sealed.blockHash}/tables/${encodeURIComponent(sealed.table)}/rows?after_rowid=${BigInt(sealed.rowid) - 1n}&limit=1`,
          proof_url: `/api/v1/receipts/${encodeURIComponent(r.id)}/proof`
        }
  }
  if (r.problem !== undefined) out.problem = r.problem
  return out
}

const RECEIPT = {
  type: 'object',
  required: ['id', 'table', 'state', 'accepted_at', 'sealed'],
  properties: {
    id: { type: 'string' },
    table: { type: 'string' },
    state: { type: 'string', enum: ['pending', 'sealed'] },
    accepted_at: { type: 'string', description: 'RFC 3339: when the row was made durable' },
    sealed: {
      oneOf: [
        { type: 'null' },
        {
          type: 'object',
          required: ['height', 'block_hash', 'table', 'rowid', 'sealed_at'],
          properties: {
            height: { type: 'integer' },
            block_hash: HASH,
            table: { type: 'string' },
            rowid: { type: 'string', description: 'the row\'s rowid in that block (decimal digits, exact)' },
            sealed_at: { type: 'string', description: 'the block\'s timestamp' },
            block_url: { type: 'string' },
            row_url: { type: 'string' },
            proof_url: { type: 'string', description: 'the row\'s proof (a bundle that `petal verify-proof` checks), against the latest signed checkpoint' }
          }
        }
      ]
    },
    problem: { type: 'string', description: 'why the row cannot be sealed yet (never expected)' }
  }
}

export function recordRoutes (bodyLimit: number, rowsPerRequest: number): RouteSpec[] {
  return [{
    method: 'POST',
    path: '/api/v1/records/{table}',
    operationId: 'appendRecords',
    summary: 'Store rows; they are sealed into the next block. 202 with one receipt per row, once the rows are durable',
    description: 'The body is a JSON array of objects, NDJSON (one object per line) or CSV (a header row; the exact inverse of `petal query --format csv`). JSON integers are exact; {"$base64": "…"} is a BLOB; null is NULL. The table is created on the first write (column types from the values), or declared first with PUT /tables/{name}; a new field adds a column; a value of the wrong type for a column is refused (422, naming the row and field). The reply comes only once the rows are durable in pending.db (fsync\'d): a row acknowledged here is never lost, by a crash, a restart or a reorg. Only a node whose key is an active signatory takes writes (409 INGEST_NOT_SIGNATORY otherwise, before anything is stored).',
    access: 'write',
    params: TABLE_PARAMS,
    rawBody: Object.keys(FORMATS),
    bodyLimit,
    responses: {
      202: {
        description: 'the rows are durable; one receipt id per row, in order',
        content: {
          'application/json': {
            type: 'object',
            required: ['table', 'rows', 'created', 'added_columns', 'receipts'],
            properties: {
              table: { type: 'string' },
              rows: { type: 'integer' },
              created: { type: 'boolean', description: 'this request created the table' },
              added_columns: { type: 'array', items: { type: 'string' } },
              receipts: { type: 'array', items: { type: 'string' } }
            }
          }
        }
      },
      400: errorResponse('malformed records (INGEST_MALFORMED, naming row, line and field) or table name (INGEST_BAD_TABLE)'),
      409: errorResponse('this node cannot seal (INGEST_NOT_SIGNATORY, INGEST_NO_KEY), or does not take writes (API_READ_ONLY)'),
      413: errorResponse(`more than ${rowsPerRequest} rows (INGEST_TOO_MANY_ROWS), a row too large for a block (INGEST_ROW_TOO_LARGE), or a body over the limit`),
      422: errorResponse('a value of the wrong type for its column (INGEST_TYPE_MISMATCH), or a row that breaks a declared constraint (INGEST_CONSTRAINT)')
    },
    handler: async (req, reply, ctx) => {
      const ingest = writer(ctx)
      const format = formatOf(req.headers['content-type'])
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0)
      const r = await ingest.appendRecords(field(req.params, 'table') ?? '', body, format, { maxRows: rowsPerRequest })
      return await reply.code(202).type('application/json; charset=utf-8').send(acceptedBody(r))
    }
  }, {
    method: 'GET',
    path: '/api/v1/receipts/{id}',
    operationId: 'getReceipt',
    summary: 'Where an acknowledged row is: pending, or sealed with height, block hash, table and rowid',
    description: 'A receipt follows its row across restarts and reorgs: a row whose block is orphaned goes back to pending and is sealed again.',
    access: 'read',
    params: { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 200 } } },
    responses: {
      200: { description: 'the receipt', content: { 'application/json': RECEIPT } },
      404: errorResponse('no such receipt (INGEST_UNKNOWN_RECEIPT)'),
      409: errorResponse('this server keeps no receipts (API_READ_ONLY)')
    },
    handler: async (req, _reply, ctx) => {
      const id = field(req.params, 'id') ?? ''
      const r = writer(ctx, true).receipt(id)
      if (r === undefined) throw new IngestError('INGEST_UNKNOWN_RECEIPT', said`no receipt ${quote(JSON.stringify(id))} on this node`, { hint: 'receipts are kept by the node that acknowledged the rows', details: { receipt: id }, quoted: { details: ['receipt'] } })
      return ctx.chain.index.readTransaction(() => receiptJson(ctx, r))
    }
  }, {
    method: 'PUT',
    path: '/api/v1/tables/{table}',
    operationId: 'putTable',
    summary: 'Declare a table with a CREATE TABLE statement before writing to it (idempotent)',
    description: 'The statement is checked by SQLite and by the block schema rules (an ordinary table, no reserved names). Declaring the same statement again is fine (200); another definition for an existing table (one declared or written here, or one the chain has: its statement and block in the error) is 409 INGEST_TABLE_CONFLICT. Rows written later are checked against its types and constraints.',
    access: 'write',
    params: TABLE_PARAMS,
    body: {
      'application/json': {
        type: 'object',
        required: ['sql'],
        additionalProperties: false,
        properties: {
          sql: { type: 'string', maxLength: 1024 * 1024, description: 'CREATE TABLE name (…)' },
          encrypt: {
            type: ['object', 'null'],
            description: 'columns the sealer encrypts for these recipients (docs/confidential.md, "Record API"); null drops the policy (later blocks are plaintext), absent leaves it as it is',
            required: ['columns', 'recipients'],
            additionalProperties: false,
            properties: {
              columns: { type: 'array', minItems: 1, maxItems: 1000, items: { type: 'string', maxLength: 1000 } },
              recipients: { type: 'array', minItems: 1, maxItems: 100, items: { type: 'string', maxLength: 4096, description: 'a public key: hex SPKI or PEM, as `petal keys export` writes it' } }
            }
          }
        }
      }
    },
    responses: {
      200: { description: 'the table already had this definition', content: { 'application/json': { type: 'object', required: ['table', 'created', 'sql'], properties: { table: { type: 'string' }, created: { type: 'boolean' }, sql: { type: 'string' }, encrypt: { type: 'object', properties: { columns: { type: 'array', items: { type: 'string' } }, recipients: { type: 'array', items: { type: 'string' } } } } } } } },
      201: { description: 'the table was declared', content: { 'application/json': { type: 'object', required: ['table', 'created', 'sql'], properties: { table: { type: 'string' }, created: { type: 'boolean' }, sql: { type: 'string' }, encrypt: { type: 'object', properties: { columns: { type: 'array', items: { type: 'string' } }, recipients: { type: 'array', items: { type: 'string' } } } } } } } },
      400: errorResponse('not a single ordinary CREATE TABLE for this name (INGEST_BAD_TABLE)'),
      409: errorResponse('the table exists with another definition (INGEST_TABLE_CONFLICT), or this server does not take writes')
    },
    handler: async (req, reply, ctx) => {
      const table = field(req.params, 'table') ?? ''
      const body: unknown = req.body
      const encrypt = isRecord(body) && 'encrypt' in body ? body.encrypt : undefined
      const r = await writer(ctx).putTable(table, field(req.body, 'sql') ?? '', encrypt === null ? null : isRecord(encrypt) ? { columns: encrypt.columns, recipients: encrypt.recipients } : undefined)
      return await reply.code(r.created ? 201 : 200).send({ table, created: r.created, sql: r.sql, ...(r.encrypt === undefined ? {} : { encrypt: r.encrypt }) })
    }
  }]
}
