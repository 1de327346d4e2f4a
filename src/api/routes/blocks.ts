import { blockDescription } from '../../chain/index.js'
import type { BlockRecord, TableRecord } from '../../storage/index.js'
import { ApiError } from '../errors.js'
import { field, intField, type RouteSpec } from '../route.js'
import { BLOCK, BLOCK_REF_PARAMS, BLOCK_SUMMARY, errorResponse } from '../schemas.js'
import type { ApiContext } from '../types.js'

export function headerJson (b: BlockRecord): Record<string, unknown> {
  return {
    height: b.height, hash: b.hash, parent: b.parent, canonical: b.canonical, version: b.version, timestamp: b.timestamp,
    signer: b.signer, size: b.size, rows_root: b.rowsRoot, seal: b.seal, prev_sig: b.prevSig
  }
}

/** The block a `{ref}` names (height: canonical; hash or prefix: any stored block), or a 404. */
export function blockOf (ctx: ApiContext, ref: string | undefined): BlockRecord {
  const b = ref === undefined ? undefined : ctx.chain.get(ref)
  if (b === undefined) {
    throw new ApiError('API_BLOCK_NOT_FOUND', `no block ${JSON.stringify(ref)}`, {
      hint: `give a height (the tip is at ${ctx.chain.tip().height}), a full hash, or at least 8 hex digits of one`,
      details: { ref }
    })
  }
  return b
}

/** Rows of a block's user tables, all together. */
function rowCount (tables: readonly TableRecord[]): number {
  let n = 0
  for (const t of tables) n += t.rows
  return n
}

export function blockPath (b: BlockRecord): string { return `/api/v1/blocks/${b.hash}` }

function blockJson (ctx: ApiContext, b: BlockRecord): Record<string, unknown> {
  const tables = ctx.chain.index.tablesOf(b.hash)
  const ops = ctx.chain.index.keyOpsOf(b.hash)
  let signerKey: string | undefined
  if (b.height > 0) {
    const parent = ctx.chain.index.byHash(b.parent)
    if (parent !== undefined) signerKey = ctx.chain.keysAt(parent).get(b.signer)?.publicKey.hex
  } else {
    signerKey = ctx.chain.keysAt(b).get(b.signer)?.publicKey.hex
  }
  const d = blockDescription(ctx.chain, b)
  return {
    ...headerJson(b),
    signer_public_key: signerKey,
    description: d?.description,
    reseal_of: d?.resealOf,
    row_count: rowCount(tables),
    tables: tables.map(t => ({ name: t.name, sql: t.sql, rows: t.rows, root: t.root, rows_url: `${blockPath(b)}/tables/${encodeURIComponent(t.name)}/rows` })),
    key_ops: ops.map(k => ({ op: k.op === 'A' ? 'add' : 'revoke', key_id: k.keyId, public_key: k.pubkey, endorsed_by: k.signers })),
    file_url: `${blockPath(b)}/file`
  }
}

export const blockRoutes: RouteSpec[] = [{
  method: 'GET',
  path: '/api/v1/blocks',
  operationId: 'listBlocks',
  summary: 'Canonical blocks, newest first, a page at a time',
  description: 'Blocks below `before` (default: from the tip), at most `limit`. `next_before` continues the listing (null at genesis).',
  access: 'read',
  query: {
    type: 'object',
    additionalProperties: false,
    properties: {
      before: { type: 'integer', minimum: 0, maximum: 1e15, description: 'list blocks with a height below this' },
      limit: { type: 'integer', minimum: 1, maximum: 1000, default: 20 }
    }
  },
  responses: {
    200: {
      description: 'a page of blocks',
      content: {
        'application/json': {
          type: 'object',
          required: ['blocks', 'next_before'],
          properties: {
            blocks: { type: 'array', items: BLOCK_SUMMARY },
            next_before: { type: ['integer', 'null'] }
          }
        }
      }
    },
    400: errorResponse('bad parameters')
  },
  handler: async (req, _reply, ctx) => {
    const limit = intField(req.query, 'limit') ?? 20
    const before = intField(req.query, 'before')
    return ctx.chain.index.readTransaction(() => {
      const top = Math.min(ctx.chain.tip().height, (before ?? Infinity) - 1)
      const rows = top < 0 ? [] : ctx.chain.index.range(Math.max(0, top - limit + 1), top, limit).reverse()
      const last = rows.at(-1)
      return {
        blocks: rows.map(b => {
          const tables = ctx.chain.index.tablesOf(b.hash)
          return { ...headerJson(b), table_count: tables.length, row_count: rowCount(tables), key_op_count: b.keyOpCount }
        }),
        next_before: last === undefined || last.height === 0 ? null : last.height
      }
    })
  }
}, {
  method: 'GET',
  path: '/api/v1/blocks/{ref}',
  operationId: 'getBlock',
  summary: 'One block: header, seal, signer, tables with row counts and Merkle roots, key operations',
  description: 'By height (canonical chain), full hash, or a unique prefix of at least 8 hex digits (side-branch blocks too).',
  access: 'read',
  params: BLOCK_REF_PARAMS,
  responses: {
    200: { description: 'the block', content: { 'application/json': BLOCK } },
    400: errorResponse('a malformed reference'),
    404: errorResponse('no such block (API_BLOCK_NOT_FOUND)')
  },
  handler: async (req, _reply, ctx) => ctx.chain.index.readTransaction(() => blockJson(ctx, blockOf(ctx, field(req.params, 'ref'))))
}]
