import type { ResponseSpec, RouteSpec, Schema } from './route.js'
import { errorResponse } from './schemas.js'
import { isRecord } from '../util/index.js'

export interface OpenApiInfo { version: string, chainId: string, description: string }

/**
 * The OpenAPI 3.1 document of the routes, built from the same schemas Fastify validates requests
 * with (a test compares it with the registered routes and checks responses against it).
 */
export function openApiDocument (routes: readonly RouteSpec[], info: OpenApiInfo): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {}
  for (const r of routes) {
    const parameters = [
      ...paramsOf(r.params, 'path'),
      ...paramsOf(r.query, 'query')
    ]
    const op: Record<string, unknown> = {
      operationId: r.operationId,
      summary: r.summary,
      ...(r.description === undefined ? {} : { description: r.description }),
      ...(parameters.length === 0 ? {} : { parameters }),
      security: r.access === 'write' ? [{ bearer: [] }] : r.access === 'read' ? [{}, { bearer: [] }] : [],
      'x-petal-access': r.access,
      responses: Object.fromEntries(Object.entries({ ...commonResponses(r), ...r.responses }).map(([status, spec]) => [status, {
        description: spec.description,
        ...(spec.headers === undefined ? {} : { headers: spec.headers }),
        ...(spec.content === undefined ? {} : { content: Object.fromEntries(Object.entries(spec.content).map(([mime, schema]) => [mime, { schema }])) })
      }]))
    }
    const body = r.body ?? (r.rawBody === undefined ? undefined : Object.fromEntries(r.rawBody.map(m => [m, { type: 'string' }])))
    if (body !== undefined) op.requestBody = { required: true, content: Object.fromEntries(Object.entries(body).map(([mime, schema]) => [mime, { schema }])) }
    const entry = paths[r.path] ?? {}
    entry[r.method.toLowerCase()] = op
    paths[r.path] = entry
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Petal HTTP API',
      version: info.version,
      description: `Chain ${info.chainId}${info.description === '' ? '' : ` (${info.description})`}. Reads are open on loopback; writes need a bearer token (\`petal tokens create\`). Errors are {"error": {"code", "message", "hint"}}. See docs/api.md.`
    },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'a token from `petal tokens create` (petal_<id>_<secret>)' } } },
    paths
  }
}

/** Errors any route of its kind can answer, whatever it does. */
function commonResponses (r: RouteSpec): Record<string, ResponseSpec> {
  const out: Record<string, ResponseSpec> = {}
  if (r.params !== undefined || r.query !== undefined || r.body !== undefined) out[400] = errorResponse('bad parameters (API_BAD_REQUEST) or body (API_MALFORMED_JSON)')
  if (r.access !== 'public') out[401] = errorResponse('a token is needed and missing, unknown or revoked (API_UNAUTHORIZED)')
  out[403] = errorResponse(r.access === 'write' ? 'a read-only token (API_FORBIDDEN), or a request addressed to another host (API_HOST_REFUSED)' : 'a request addressed to a host other than loopback (API_HOST_REFUSED)')
  if (r.body !== undefined || r.rawBody !== undefined) {
    out[413] = errorResponse('the body is larger than the server accepts (API_BODY_TOO_LARGE)')
    out[415] = errorResponse('a content type the endpoint does not take (API_UNSUPPORTED_MEDIA_TYPE)')
  }
  out[500] = errorResponse('a bug (API_INTERNAL), logged on the node')
  out[503] = errorResponse('the server is shutting down, or a resource it needs is unavailable')
  return out
}

function paramsOf (schema: Schema | undefined, where: 'path' | 'query'): Array<Record<string, unknown>> {
  if (schema === undefined) return []
  const props = schema.properties
  if (!isRecord(props)) return []
  const required = Array.isArray(schema.required) ? schema.required : []
  return Object.entries(props).map(([name, s]) => {
    const { description, ...rest } = isRecord(s) ? s : {}
    return { name, in: where, required: where === 'path' || required.includes(name), ...(typeof description === 'string' ? { description } : {}), schema: rest }
  })
}
