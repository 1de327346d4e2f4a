import { listOrphans, orphanEntryJson } from '../../chain/index.js'
import type { RouteSpec } from '../route.js'
import { errorResponse, KEY_ID } from '../schemas.js'

const HASH = { type: 'string', pattern: '^[0-9a-f]{64}$' }
const AT = { type: 'object', required: ['height', 'hash'], properties: { height: { type: 'integer' }, hash: HASH } }

export const orphansRoutes: RouteSpec[] = [{
  method: 'GET',
  path: '/api/v1/orphans',
  operationId: 'getOrphans',
  summary: 'Side-branch blocks (orphaned by a reorg) and where their content is: back on the canonical chain, awaiting a re-seal, not re-sealable, or too deep to be judged',
  description: 'The same list and rule as `petal orphans --all --json` (docs/cli.md; docs/consensus.md, "Re-sealing orphaned blocks"). The blocks of the data directory\'s signing keys (a node\'s key; under `petal serve`, the keystore\'s) are judged with its record of re-seals in pending.db, as `petal orphans` judges them; other signers\' from the chain alone.',
  access: 'read',
  query: {
    type: 'object',
    additionalProperties: false,
    properties: { signer: { ...KEY_ID, pattern: '^1:[0-9a-f]{64}$', description: 'only this signer\'s blocks (default: every signer\'s)' } }
  },
  responses: {
    200: {
      description: 'the side-branch blocks, lowest first',
      content: {
        'application/json': {
          type: 'object',
          required: ['tip', 'orphans'],
          properties: {
            tip: AT,
            orphans: {
              type: 'array',
              items: {
                type: 'object',
                required: ['height', 'hash', 'parent', 'signer', 'timestamp', 'rows_root', 'key_ops', 'tables', 'rows', 'state'],
                properties: {
                  height: { type: 'integer' },
                  hash: HASH,
                  parent: HASH,
                  signer: KEY_ID,
                  timestamp: { type: 'string' },
                  rows_root: HASH,
                  key_ops: { type: 'integer' },
                  tables: { type: 'array', items: { type: 'object', required: ['name', 'rows'], properties: { name: { type: 'string' }, rows: { type: 'integer' } } } },
                  rows: { type: 'integer' },
                  state: { type: 'string', enum: ['back', 'pending', 'not-resealable', 'unjudged'] },
                  by: { type: 'string', enum: ['origin', 'recorded-copy', 'marked-copy', 'rows-root'], description: 'with back: which block holds its content' },
                  copy: { ...AT, description: 'with back: the canonical block that holds its content' },
                  origin: { ...HASH, description: 'the block first published with its content, when the orphan is itself a re-seal' },
                  reason: { type: 'string', enum: ['nothing-to-carry', 'signer-not-active', 'ingest-rows'], description: 'with not-resealable: why' }
                }
              }
            }
          }
        }
      }
    },
    400: errorResponse('bad parameters')
  },
  handler: async (req, _reply, ctx) => ctx.chain.index.readTransaction(() => {
    const signer = (req.query as { signer?: string }).signer
    const tip = ctx.chain.tip()
    const list = listOrphans(ctx.chain, { ...ctx.orphans, signers: signer === undefined ? undefined : new Set([signer]) })
    return { tip: { height: tip.height, hash: tip.hash }, orphans: list.map(orphanEntryJson) }
  })
}]
