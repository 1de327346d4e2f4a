import type { RouteSpec } from '../route.js'

const PLACEHOLDER = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Petal</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}code{background:#f3f3f3;padding:0 .2em}</style>
</head>
<body>
<h1>Petal</h1>
<p>This node serves its chain over HTTP. The explorer will live here.</p>
<ul>
<li><a href="/api/v1/status">/api/v1/status</a>: the chain and this node</li>
<li><a href="/api/v1/blocks">/api/v1/blocks</a>: the latest blocks</li>
<li><a href="/api/v1/openapi.json">/api/v1/openapi.json</a>: every endpoint (OpenAPI 3.1)</li>
<li><a href="/metrics">/metrics</a>: Prometheus metrics</li>
</ul>
<p>SQL: <code>curl -d '{"sql":"SELECT * FROM _blocks"}' -H 'Content-Type: application/json' http://HOST/api/v1/query</code></p>
</body>
</html>
`

export const metaRoutes: RouteSpec[] = [{
  method: 'GET',
  path: '/',
  operationId: 'home',
  summary: 'A page for people (the explorer will live here)',
  access: 'public',
  responses: { 200: { description: 'HTML', content: { 'text/html': { type: 'string' } } } },
  handler: async (_req, reply) => await reply.type('text/html; charset=utf-8').header('Cache-Control', 'no-cache').send(PLACEHOLDER)
}, {
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
