import { ApiError } from '../errors.js'
import { intField, type RouteSpec } from '../route.js'
import { errorResponse } from '../schemas.js'
import type { ApiContext } from '../types.js'

const DEFAULT_BUCKETS = 48
const MAX_BUCKETS = 500

/**
 * Blocks and rows per time bucket over the canonical chain (the explorer's chart), from the
 * series the API keeps in memory (activity-series.ts): no scan of the index per request.
 */
function activity (ctx: ApiContext, q: unknown): Record<string, unknown> {
  return ctx.chain.index.readTransaction(() => {
    const chain = ctx.chain
    const tip = chain.tip()
    const n = intField(q, 'buckets') ?? DEFAULT_BUCKETS
    // By default from the first block after genesis (a genesis may be dated long before the
    // chain was used), to now or the tip's time if the tip is ahead of this clock.
    const first = chain.get(tip.height > 0 ? 1 : 0) ?? tip
    const from = intField(q, 'from') ?? Math.floor(Date.parse(first.timestamp) / 1000)
    const to = intField(q, 'to') ?? Math.max(Math.ceil(chain.clock.now() / 1000), Math.floor(Date.parse(tip.timestamp) / 1000) + 1)
    if (!(to > from)) throw new ApiError('API_BAD_REQUEST', `from (${from}) must be below to (${to})`, { hint: 'give from and to as POSIX seconds, from < to' })
    const width = Math.max(1, Math.ceil((to - from) / n))
    ctx.activity.update(chain)
    return { from, to: from + width * n, bucket_seconds: width, buckets: ctx.activity.buckets(from, width, n), total_blocks: tip.height + 1, total_rows: ctx.activity.rowsInAll }
  })
}

export const activityRoutes: RouteSpec[] = [{
  method: 'GET',
  path: '/api/v1/activity',
  operationId: 'getActivity',
  summary: 'Canonical blocks and their rows per time bucket (a chart of the chain over time)',
  description: 'The time from `from` to `to` (POSIX seconds; default: from the timestamp of block 1 to now) is cut into `buckets` equal buckets of whole seconds; each counts the canonical blocks whose timestamp falls in it and the rows of their user tables. Also the totals of the whole chain.',
  access: 'read',
  query: {
    type: 'object',
    additionalProperties: false,
    properties: {
      buckets: { type: 'integer', minimum: 1, maximum: MAX_BUCKETS, default: DEFAULT_BUCKETS },
      from: { type: 'integer', minimum: 0, maximum: 1e11, description: 'start, POSIX seconds (default: the timestamp of block 1)' },
      to: { type: 'integer', minimum: 1, maximum: 1e11, description: 'end, POSIX seconds (default: now)' }
    }
  },
  responses: {
    200: {
      description: 'the buckets, oldest first, empty ones included',
      content: {
        'application/json': {
          type: 'object',
          required: ['from', 'to', 'bucket_seconds', 'buckets', 'total_blocks', 'total_rows'],
          properties: {
            from: { type: 'integer', description: 'start of the first bucket, POSIX seconds' },
            to: { type: 'integer', description: 'end of the last bucket (from + buckets × bucket_seconds)' },
            bucket_seconds: { type: 'integer', minimum: 1 },
            buckets: {
              type: 'array',
              items: {
                type: 'object',
                required: ['start', 'blocks', 'rows'],
                properties: { start: { type: 'integer' }, blocks: { type: 'integer' }, rows: { type: 'integer' } }
              }
            },
            total_blocks: { type: 'integer', description: 'canonical blocks, genesis included' },
            total_rows: { type: 'integer', description: 'rows in the user tables of every canonical block' }
          }
        }
      }
    },
    400: errorResponse('bad parameters')
  },
  handler: async (req, _reply, ctx) => activity(ctx, req.query)
}]
