import type { RouteSpec } from '../route.js'

export const peersRoutes: RouteSpec[] = [{
  method: 'GET',
  path: '/api/v1/peers',
  operationId: 'getPeers',
  summary: 'The peers this node is connected to, with the tip each one last reported',
  description: '`network` is false under `petal serve`, which joins no network (and has no peers).',
  access: 'read',
  responses: {
    200: {
      description: 'the connected peers',
      content: {
        'application/json': {
          type: 'object',
          required: ['network', 'peers'],
          properties: {
            network: { type: 'boolean' },
            peers: {
              type: 'array',
              items: {
                type: 'object',
                required: ['id', 'addr', 'direction'],
                properties: {
                  id: { type: 'string', description: 'libp2p peer id' },
                  addr: { type: 'string', description: 'the address of the connection' },
                  direction: { type: 'string', description: 'inbound or outbound' },
                  tip_height: { type: 'integer', description: 'the height of the tip the peer last reported, when it has' }
                }
              }
            }
          }
        }
      }
    }
  },
  handler: async (_req, _reply, ctx) => ({ network: ctx.node !== undefined, peers: ctx.node?.peers() ?? [] })
}]
