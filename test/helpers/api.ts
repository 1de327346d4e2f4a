import { Ajv, type ValidateFunction } from 'ajv'
import { request } from 'node:http'
import { expect } from 'vitest'
import { startApiServer, type ApiServer, type ApiServerOptions } from '../../src/api/index.js'

export interface HttpResult {
  status: number
  headers: Record<string, string | string[] | undefined>
  trailers: Record<string, string | undefined>
  body: Buffer
  text: string
  /** the body parsed as JSON (undefined if it is not JSON) */
  json: unknown
  /** the connection was cut before the response ended */
  aborted: boolean
}

/** One HTTP request with node:http (which, unlike fetch, shows trailers and abnormal ends). */
export async function http (url: string, o: { method?: string, headers?: Record<string, string>, body?: string | Buffer } = {}): Promise<HttpResult> {
  return await new Promise<HttpResult>((resolve, reject) => {
    const req = request(url, { method: o.method ?? 'GET', headers: o.headers, agent: false }, res => {
      const chunks: Buffer[] = []
      let aborted = false
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('aborted', () => { aborted = true })
      res.on('error', () => { aborted = true })
      res.on('close', () => {
        const body = Buffer.concat(chunks)
        const text = body.toString('utf8')
        let json: unknown
        try { json = JSON.parse(text) } catch {}
        resolve({ status: res.statusCode ?? 0, headers: res.headers, trailers: res.trailers, body, text, json, aborted: aborted || !res.complete })
      })
    })
    req.on('error', reject)
    if (o.body !== undefined) req.write(o.body)
    req.end()
  })
}

export async function postJson (url: string, body: unknown, headers: Record<string, string> = {}): Promise<HttpResult> {
  return await http(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })
}

/** The error of an error response, checked to have the one shape every error has. */
export function errorOf (r: HttpResult): { code: string, message: string, hint?: string } {
  expect(r.headers['content-type']).toMatch(/^application\/json/)
  const j = r.json as { error?: { code?: unknown, message?: unknown } }
  expect(typeof j?.error?.code).toBe('string')
  expect(typeof j?.error?.message).toBe('string')
  expect(r.text).not.toMatch(/\n\s+at /) // never a stack trace
  return j.error as { code: string, message: string, hint?: string }
}

export async function startTestApi (o: Partial<ApiServerOptions> & { dir: string }): Promise<{ server: ApiServer, url: string }> {
  const server = await startApiServer({ address: { host: '127.0.0.1', port: 0 }, watchMs: 20, ...o })
  return { server, url: server.url }
}

/**
 * Checks responses against the OpenAPI document the server publishes: the status must be
 * documented for the route, and a JSON body must match its schema.
 */
export class OpenApiChecker {
  private readonly ajv = new Ajv({ strict: false, allErrors: true })
  private readonly compiled = new Map<string, ValidateFunction>()
  readonly seen = new Set<string>()

  constructor (readonly doc: { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: unknown }> }> }>> }) {}

  check (method: string, path: string, r: HttpResult): void {
    const op = this.doc.paths[path]?.[method.toLowerCase()]
    expect(op, `${method} ${path} is in the OpenAPI document`).toBeDefined()
    const spec = op?.responses[String(r.status)]
    expect(spec, `${method} ${path} documents status ${r.status}`).toBeDefined()
    this.seen.add(`${method} ${path} ${r.status}`)
    const schema = spec?.content?.['application/json']?.schema
    const type = String(r.headers['content-type'] ?? '')
    if (schema === undefined || !type.startsWith('application/json')) return
    const key = `${method} ${path} ${r.status}`
    let v = this.compiled.get(key)
    if (v === undefined) { v = this.ajv.compile(schema as object); this.compiled.set(key, v) }
    const ok = v(r.json)
    expect(ok, `${key}: ${JSON.stringify(v.errors)}`).toBe(true)
  }
}
