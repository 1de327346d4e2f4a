import { ApiError } from '../errors.js'
import { intField, type RouteSpec } from '../route.js'
import { errorResponse, KEY_ID } from '../schemas.js'

export const signersRoutes: RouteSpec[] = [{
  method: 'GET',
  path: '/api/v1/signers',
  operationId: 'getSigners',
  summary: 'The signatory set after a block (default: the tip), with the heights that added and revoked each key',
  access: 'read',
  query: {
    type: 'object',
    additionalProperties: false,
    properties: { height: { type: 'integer', minimum: 0, maximum: 1e15, description: 'after this canonical block (default: the tip)' } }
  },
  responses: {
    200: {
      description: 'the signatories',
      content: {
        'application/json': {
          type: 'object',
          required: ['height', 'active', 'signers'],
          properties: {
            height: { type: 'integer' },
            active: { type: 'integer' },
            signers: {
              type: 'array',
              items: {
                type: 'object',
                required: ['id', 'public_key', 'added_at', 'revoked_at', 'active'],
                properties: {
                  id: KEY_ID,
                  public_key: { type: 'string' },
                  added_at: { type: 'integer' },
                  revoked_at: { type: ['integer', 'null'] },
                  active: { type: 'boolean' },
                  peers: {
                    type: 'array',
                    description: 'at the tip, for an active key: the peers this node knows that proved they hold it (a node that takes writes for it: INGEST_NOT_SIGNATORY\'s hint names them), connected ones first; libp2p addresses only (a node\'s HTTP address is not announced). Absent for other heights',
                    items: {
                      type: 'object',
                      required: ['id', 'addrs', 'connected', 'last_seen'],
                      properties: { id: { type: 'string', description: 'libp2p peer id' }, addrs: { type: 'array', items: { type: 'string' } }, connected: { type: 'boolean' }, last_seen: { type: ['string', 'null'] } }
                    }
                  }
                }
              }
            }
          }
        }
      }
    },
    400: errorResponse('bad parameters'),
    404: errorResponse('no block at that height')
  },
  handler: async (req, _reply, ctx) => ctx.chain.index.readTransaction(() => {
    const h = intField(req.query, 'height')
    const tip = ctx.chain.tip()
    const at = h === undefined ? tip : ctx.chain.get(h)
    if (at === undefined) throw new ApiError('API_BLOCK_NOT_FOUND', `no block at height ${h ?? '?'}`, { hint: `the tip is at height ${tip.height}` })
    const keys = ctx.chain.keysAt(at)
    // Who holds a key is known now, not at a past height.
    const peers = at.hash === tip.hash ? ctx.signatoryPeers() : undefined
    return {
      height: at.height,
      active: keys.activeCount,
      signers: keys.all().map(s => ({
        id: s.keyId,
        public_key: s.publicKey.hex,
        added_at: s.addedAt,
        revoked_at: s.revokedAt,
        active: s.revokedAt === null,
        ...(peers === undefined || s.revokedAt !== null ? {} : { peers: peers.filter(p => p.key === s.keyId).map(({ id, addrs, connected, last_seen: seen }) => ({ id, addrs, connected, last_seen: seen })) })
      }))
    }
  })
}]
