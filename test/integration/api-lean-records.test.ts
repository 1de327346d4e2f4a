import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { DEFAULT_API_LIMITS, PetalMetrics, TokenStore, type ApiServer } from '../../src/api/index.js'
import { leanRecords } from '../../src/api/lean-records.js'
import { Ingest } from '../../src/ingest/index.js'
import { nullLogger } from '../../src/util/index.js'
import { http, startTestApi, type HttpResult } from '../helpers/api.js'
import { fixtureKey, newTestChain } from '../helpers/chain.js'

// The lean lane of POST /records (src/api/lean-records.ts) answers before Fastify sees the
// request. These tests check which requests it takes, and that its answers are Fastify's.

const alice = fixtureKey('alice')
const cleanup: Array<() => unknown> = []
let ingest: Ingest
let dir: string
let token: string
let readToken: string

beforeAll(async () => {
  const t = await newTestChain({ key: alice })
  dir = t.dir
  ingest = Ingest.open({ chain: t.chain, key: alice })
  cleanup.push(() => { t.chain.close() }, async () => { await ingest.close() })
  token = TokenStore.of(dir).create({ scope: 'write', name: 'w' }).token
  readToken = TokenStore.of(dir).create({ scope: 'read', name: 'r' }).token
})
afterAll(async () => { for (const f of cleanup.splice(0).reverse()) await f() })

/** A request with a Content-Length (node:http would send a string body chunked, which the lane leaves to Fastify). */
async function post (url: string, body: string, headers: Record<string, string> = {}): Promise<HttpResult> {
  return await http(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'content-length': String(Buffer.byteLength(body)), ...headers }, body })
}

describe('POST /records, the lean lane', () => {
  it('takes plain requests and hands every other one, untouched, to the next handler', async () => {
    const metrics = new PetalMetrics()
    const ctx = { ingest, tokens: TokenStore.of(dir), metrics, logger: nullLogger, limits: { ...DEFAULT_API_LIMITS, bodyBytes: 1000 }, access: { expose: false, publicRead: false } }
    const passed: string[] = []
    const next = (req: IncomingMessage, res: ServerResponse): void => {
      passed.push(`${req.method ?? ''} ${req.url ?? ''}`)
      req.resume()
      req.on('end', () => { res.writeHead(418).end() })
    }
    const lane = leanRecords(ctx, next)
    const server = createServer(lane.listener)
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    cleanup.push(async () => { await new Promise(resolve => server.close(resolve)) })
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/records/`

    const ok = await post(url + 'lean', '[{"a": 1, "b": "x"}]')
    expect([ok.status, ok.headers['content-type'], passed]).toEqual([202, 'application/json; charset=utf-8', []])
    expect(ok.json).toMatchObject({ table: 'lean', rows: 1, created: true, added_columns: ['a', 'b'] })
    const nd = await post(url + 'lean', '{"a": 2, "b": "y"}\n', { 'content-type': 'application/x-ndjson' })
    expect([nd.status, passed]).toEqual([202, []])
    // A refusal of the rows is the lane's answer, coded as Fastify's error handler codes it.
    const wrong = await post(url + 'lean', '[{"a": "text"}]')
    expect([wrong.status, wrong.headers['cache-control'], passed]).toEqual([422, 'no-store', []])
    expect(wrong.json).toMatchObject({ error: { code: 'INGEST_TYPE_MISMATCH', details: { row: 0, field: 'a' } } })
    expect(metrics.httpRequests.get({ route: '/api/v1/records/:table', method: 'POST', status: '202' })).toBe(2)
    expect(metrics.httpRequests.get({ route: '/api/v1/records/:table', method: 'POST', status: '422' })).toBe(1)

    const others: Array<[string, () => Promise<HttpResult>]> = [
      ['a query string', async () => await post(url + 'lean?x=1', '[{"a": 1}]')],
      ['a trailing slash', async () => await post(url + 'lean/', '[{"a": 1}]')],
      ['an escaped name', async () => await post(url + '%6Cean', '[{"a": 1}]')],
      ['a name the ingest service refuses', async () => await post(url + '_meta', '[{"a": 1}]')],
      ['another content type', async () => await post(url + 'lean', '[{"a": 1}]', { 'content-type': 'text/plain' })],
      ['a body over the limit', async () => await post(url + 'lean', JSON.stringify([{ a: 1, b: 'x'.repeat(1000) }]))],
      ['an empty body', async () => await post(url + 'lean', '')],
      ['a chunked body', async () => await http(url + 'lean', { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: '[{"a": 1}]' })],
      ['no token', async () => await post(url + 'lean', '[{"a": 1}]', { authorization: '' })],
      ['a read token', async () => await post(url + 'lean', '[{"a": 1}]', { authorization: `Bearer ${readToken}` })],
      ['another host', async () => await post(url + 'lean', '[{"a": 1}]', { host: 'example.com' })],
      ['another method', async () => await http(url + 'lean', { method: 'PUT', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'content-length': '2' }, body: '[]' })]
    ]
    for (const [what, send] of others) {
      passed.length = 0
      const r = await send()
      expect([r.status, passed.length], what).toEqual([418, 1])
    }
    const rows = ingest.stats().pendingRows
    lane.close()
    passed.length = 0
    expect((await post(url + 'lean', '[{"a": 3}]')).status, 'a closing server: Fastify answers 503').toBe(418)
    expect(ingest.stats().pendingRows).toBe(rows)
  })

  it('answers as the Fastify route does: status, headers and body, for rows taken and refused', async () => {
    let server: ApiServer
    ;({ server } = await startTestApi({ dir, ingest, limits: { rowsPerRequest: 3 } }))
    cleanup.push(async () => { await server.close() })
    const base = `${server.url}api/v1/records/`
    // The same request through the lane, then through Fastify (a query string, which the route
    // ignores, keeps it out of the lane).
    const cases: Array<[string, string, string]> = [
      ['same', '[{"n": 1, "s": "a"}]', 'application/json'],
      ['same', '[{"n": 2, "s": "b"}, {"n": 3, "s": "c"}]', 'application/json'],
      ['same', '{"n": 4, "s": "d", "extra": 1.5}\n', 'application/x-ndjson; charset=utf-8'],
      ['same', 'n,s\n5,e\n', 'text/csv'],
      ['same', '[{"n": "x"}]', 'application/json'],
      ['same', '[{"n": 1}, {"n": ', 'application/json'],
      ['same', '[{"n": 1}, {"n": 2}, {"n": 3}, {"n": 4}]', 'application/json'],
      ['Bad_Name_That_Is_Far_Too_Long_For_A_Table_Because_It_Has_More_Than_64', '[{"n": 1}]', 'application/json'],
      ['same', '[]', 'application/json']
    ]
    const norm = (r: HttpResult): unknown => ({
      status: r.status,
      type: r.headers['content-type'],
      cache: r.headers['cache-control'],
      length: r.headers['content-length'] === undefined ? undefined : 'set',
      body: r.text.replace(/"[a-z2-7]{8}-\d+"/g, '"RECEIPT"').replace(/"created":true/, '"created":false').replace(/"added_columns":\["[^\]]*"\]/, '"added_columns":[]')
    })
    let accepted = 0
    for (const [table, body, type] of cases) {
      const lean = await post(base + table, body, { 'content-type': type })
      const fastify = await post(base + table + '?via=fastify', body, { 'content-type': type })
      expect(norm(lean), `${type}: ${body}`).toEqual(norm(fastify))
      if (lean.status === 202) accepted += 2
    }
    expect(accepted).toBeGreaterThanOrEqual(8)
    // Both count under the route, as one series.
    const metrics = (await http(server.url + 'metrics')).text
    expect(metrics).toMatch(new RegExp(`^petal_http_requests_total\\{method="POST",route="/api/v1/records/:table",status="202"\\} ${accepted}$`, 'm'))
  })
})
