import type { RouteSpec } from '../route.js'

export const metaRoutes: RouteSpec[] = [{
  method: 'GET',
  path: '/api/v1/openapi.json',
  operationId: 'openapi',
  summary: 'This document',
  access: 'public',
  responses: { 200: { description: 'OpenAPI 3.1', content: { 'application/json': { type: 'object' } } } },
  handler: async (_req, _reply, ctx) => ctx.openapi()
}, {
  method: 'GET',
  path: '/metrics',
  operationId: 'metrics',
  summary: 'Prometheus metrics (text exposition format 0.0.4)',
  access: 'read',
  responses: { 200: { description: 'metrics', content: { 'text/plain': { type: 'string' } } } },
  handler: async (_req, reply, ctx) => await reply.type('text/plain; version=0.0.4; charset=utf-8').header('Cache-Control', 'no-store').send(ctx.metrics.render())
}]
