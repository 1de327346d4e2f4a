import type { FastifyReply, FastifyRequest } from 'fastify'
import type { ApiContext } from './types.js'

/** A JSON Schema (draft 7 / OpenAPI 3.1), as plain data. */
export type Schema = Record<string, unknown>

export interface ResponseSpec {
  description: string
  /** content type → schema */
  content?: Record<string, Schema>
  headers?: Record<string, { description: string, schema: Schema }>
}

/**
 * One route: what Fastify registers and validates, and what the OpenAPI document says, from the
 * same schemas — so the document cannot drift from what the server accepts.
 */
export interface RouteSpec {
  method: 'GET' | 'POST' | 'PUT'
  /** OpenAPI template, e.g. /api/v1/blocks/{ref} */
  path: string
  operationId: string
  summary: string
  description?: string
  /** public: anyone; read: a read token when exposed without --public-read; write: a write token. */
  access: 'public' | 'read' | 'write'
  params?: Schema
  query?: Schema
  /** content type → schema of the request body */
  body?: Record<string, Schema>
  /** Request bodies of these types arrive as raw bytes (Buffer), parsed by the handler. */
  rawBody?: string[]
  bodyLimit?: number
  responses: Record<string, ResponseSpec>
  handler: (req: FastifyRequest, reply: FastifyReply, ctx: ApiContext) => Promise<unknown>
}

/** The value of a validated string field of params, query or body. */
export function field (from: unknown, key: string): string | undefined {
  if (typeof from !== 'object' || from === null) return undefined
  const v: unknown = Reflect.get(from, key)
  return typeof v === 'string' ? v : undefined
}

/** The value of a validated integer field (query strings are coerced by the schema). */
export function intField (from: unknown, key: string): number | undefined {
  if (typeof from !== 'object' || from === null) return undefined
  const v: unknown = Reflect.get(from, key)
  return typeof v === 'number' && Number.isSafeInteger(v) ? v : undefined
}

export function boolField (from: unknown, key: string): boolean | undefined {
  if (typeof from !== 'object' || from === null) return undefined
  const v: unknown = Reflect.get(from, key)
  return typeof v === 'boolean' ? v : undefined
}

/** Fastify's path syntax for an OpenAPI template. */
export function fastifyPath (path: string): string {
  return path.replace(/\{(\w+)\}/g, ':$1')
}
