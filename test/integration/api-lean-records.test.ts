import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { connect, type AddressInfo } from 'node:net'
import { DEFAULT_API_LIMITS, PetalMetrics, TokenStore, type ApiServer } from '../../src/api/index.js'
import { leanRecords } from '../../src/api/lean-records.js'
import type { Ingest } from '../../src/ingest/index.js'
import { nullLogger } from '../../src/util/index.js'
import { http, startTestApi, type HttpResult } from '../helpers/api.js'
import { answers, exchange, leanChain, listenWithReader, raw, type Cleanup } from '../helpers/lean-records.js'

// The lean lane of POST /records (src/api/lean-records.ts) answers before Fastify sees the
// request. These tests check which requests it takes, and that its answers are Fastify's; the
// strict reader's answers to hostile clients are in api-lean-reader-attack.test.ts.

const cleanup: Cleanup = []
let dir: string
let ingest: Ingest
let token: string
let readToken: string

beforeAll(async () => { ({ dir, ingest, token, readToken } = await leanChain(cleanup)) })
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

describe('POST /records, the strict reader in front of node:http', () => {
  it('answers with the bytes node:http answers with, and hands the rest of a connection to node:http', async () => {
    // A keep-alive timeout longer than the test: a connection the reader holds must not outlive close().
    const { server, url } = await startTestApi({ dir, ingest, limits: { keepAliveTimeoutMs: 3_600_000 } })
    const port = Number(new URL(url).port)
    const body = '[{"k": 1, "v": "a"}]'
    const req = (extra: string[] = [], b = body): string => raw('POST /api/v1/records/strict HTTP/1.1', ['Host: 127.0.0.1', `Authorization: Bearer ${token}`, 'Content-Type: application/json', `Content-Length: ${Buffer.byteLength(b)}`, ...extra], b)
    await exchange(port, [req(['Connection: close'])]) // the table exists from here on
    // The reader's answers (a whole head in one read), then node:http's lane's (the head split
    // across two reads goes to node:http): the same bytes, for rows taken and rows refused.
    for (const [b, extra] of [[body, []], [body, ['Connection: close']], ['[{"k": "text"}]', []], ['[{"k": 1}, {"k": ', ['Connection: close']]] as Array<[string, string[]]>) {
      const whole = req(extra, b)
      const viaReader = await exchange(port, [whole], { waitMs: 300 })
      const viaNode = await exchange(port, [whole.slice(0, 10), whole.slice(10)], { gapMs: 50, waitMs: 300 })
      expect(answers(viaReader.text), b).toEqual(answers(viaNode.text))
      expect(viaReader.text).toMatch(/^HTTP\/1\.1 (202 Accepted|422 Unprocessable Entity|400 Bad Request)\r\n/)
      expect([viaReader.closed, viaNode.closed], 'Connection: close is honoured alike').toEqual(extra.length > 0 ? [true, true] : [false, false])
    }
    // One connection: the reader answers two pipelined requests in order, node:http the GET and
    // everything after it, the lane's request included.
    const before = ingest.stats().pendingRows
    const one = await exchange(port, [req() + req() + raw('GET /api/v1/status HTTP/1.1', ['Host: 127.0.0.1'], '') + req(['Connection: close'])])
    const got = answers(one.text)
    expect(got.map(a => a.slice(0, 12))).toEqual(['HTTP/1.1 202', 'HTTP/1.1 202', 'HTTP/1.1 200', 'HTTP/1.1 202'])
    expect(got[2]).toContain('"chain_id"')
    expect(one.closed).toBe(true)
    expect(ingest.stats().pendingRows).toBe(before + 3)
    // A kept-alive connection the reader holds does not keep the server from closing.
    const held = connect(port, '127.0.0.1')
    await new Promise<void>(resolve => { held.once('data', () => { resolve() }); held.write(req()) })
    const closed = new Promise(resolve => held.once('close', resolve))
    await server.close()
    await closed
  })

  it('reads only requests of exactly the lane\'s shape: anything else goes to node:http, whose parser refuses what it refuses', async () => {
    const metrics = new PetalMetrics()
    const ctx = { ingest, tokens: TokenStore.of(dir), metrics, logger: nullLogger, limits: { ...DEFAULT_API_LIMITS, bodyBytes: 1000 }, access: { expose: false, publicRead: false } }
    const seen: string[] = []
    const next = (req: IncomingMessage, res: ServerResponse): void => {
      req.resume()
      req.on('end', () => { res.writeHead(418, { connection: 'close' }).end() })
    }
    const lane = leanRecords(ctx, next)
    const server = createServer((req, res) => { seen.push(`${req.method ?? ''} ${req.url ?? ''}`); lane.listener(req, res) })
    const { port, clientErrors } = await listenWithReader(server, lane, '400 Bad Request', cleanup)
    const b = '[{"a": 1}]'
    const line = 'POST /api/v1/records/lean HTTP/1.1'
    const good = ['Host: 127.0.0.1', `Authorization: Bearer ${token}`, 'Content-Type: application/json', `Content-Length: ${b.length}`]

    // The reader's own: answered without node:http's 'request' event.
    const mine = await exchange(port, [raw(line, [...good, 'Connection: close'], b)])
    expect([mine.text.slice(0, 12), seen]).toEqual(['HTTP/1.1 202', []])

    const hostile: Array<[string, string]> = [
      ['Content-Length and Transfer-Encoding', raw(line, [...good, 'Transfer-Encoding: chunked'], `${b.length.toString(16)}\r\n${b}\r\n0\r\n\r\n`)],
      ['two Content-Lengths, equal', raw(line, [...good, `Content-Length: ${b.length}`], b)],
      ['two Content-Lengths, different', raw(line, [...good, 'Content-Length: 3'], b)],
      ['a signed Content-Length', raw(line, [...good.slice(0, 3), `Content-Length: +${b.length}`], b)],
      ['a Content-Length with inner blanks', raw(line, [...good.slice(0, 3), `Content-Length: 1 ${b.length - 10}`], b)],
      ['an obs-fold line', raw(line, [...good.slice(0, 2), 'Content-Type:', ' application/json', good[3] as string], b)],
      ['a bare LF in the head', raw(line, [`${good[0] as string}\n${good[1] as string}`, ...good.slice(2)], b)],
      ['a bare CR in the head', raw(line, [`${good[0] as string}\r${good[1] as string}`, ...good.slice(2)], b)],
      ['a blank before the colon', raw(line, [...good.slice(0, 3), `Content-Length : ${b.length}`], b)],
      ['a NUL in a value', raw(line, [...good, 'X-A: a\0b'], b)],
      ['a byte over 0x7e in a value', raw(line, [...good, 'X-A: caf\xe9'], b)],
      ['Expect: 100-continue', raw(line, [...good, 'Expect: 100-continue'], b)],
      ['an Upgrade', raw(line, [...good, 'Connection: upgrade', 'Upgrade: websocket'], b)],
      ['a Connection list', raw(line, [...good, 'Connection: keep-alive, close'], b)],
      ['HTTP/1.0', raw('POST /api/v1/records/lean HTTP/1.0', good, b)],
      ['an absolute URL', raw('POST http://127.0.0.1/api/v1/records/lean HTTP/1.1', good, b)],
      ['no Host', raw(line, good.slice(1), b)],
      ['two Hosts', raw(line, [...good, 'Host: 127.0.0.1'], b)],
      ['two Authorizations', raw(line, [...good, `Authorization: Bearer ${token}`], b)],
      ['two Content-Types', raw(line, [...good, 'Content-Type: application/json'], b)],
      ['a head over 8 KiB', raw(line, [...good, `X-Pad: ${'p'.repeat(9000)}`], b)],
      ['a query string', raw('POST /api/v1/records/lean?x=1 HTTP/1.1', good, b)],
      ['a read token', raw(line, [good[0] as string, `Authorization: Bearer ${readToken}`, ...good.slice(2)], b)]
    ]
    for (const [what, bytes] of hostile) {
      seen.length = 0
      clientErrors.length = 0
      const rows = ingest.stats().pendingRows
      const r = await exchange(port, [bytes], { waitMs: 300 })
      // node:http read it: its 'request' event (the lane behind it or `next`), or its parser's
      // refusal (an HTTP/1.1 request without Host node:http refuses itself, before either).
      if (what === 'no Host') expect(r.text).toMatch(/^HTTP\/1\.1 400 Bad Request\r\nConnection: close\r\n/)
      else expect(seen.length + clientErrors.length, `${what}: ${r.text.slice(0, 40)}`).toBe(1)
      expect(clientErrors.filter(c => c === 'ERR_HTTP_REQUEST_TIMEOUT' || c === 'HPE_INVALID_EOF_STATE'), what).toEqual([])
      if (seen.length === 0) expect(ingest.stats().pendingRows, what).toBe(rows)
    }
  })

  it('keeps node:http\'s timeouts: the first head, a body, an idle kept-alive connection; and a half-close', async () => {
    const ctx = { ingest, tokens: TokenStore.of(dir), metrics: new PetalMetrics(), logger: nullLogger, limits: DEFAULT_API_LIMITS, access: { expose: false, publicRead: false } }
    const lane = leanRecords(ctx, (_req, res) => { res.writeHead(418).end() })
    const server = createServer(lane.listener)
    server.headersTimeout = 300
    server.requestTimeout = 400
    server.keepAliveTimeout = 300
    const { port, clientErrors } = await listenWithReader(server, lane, '408 Request Timeout', cleanup)
    const b = '[{"a": 1}]'
    const whole = raw('POST /api/v1/records/lean HTTP/1.1', ['Host: 127.0.0.1', `Authorization: Bearer ${token}`, 'Content-Type: application/json', `Content-Length: ${b.length}`], b)

    const silent = await exchange(port, [], { waitMs: 2000 })
    expect([silent.text.slice(0, 12), silent.closed, clientErrors]).toEqual(['HTTP/1.1 408', true, ['ERR_HTTP_REQUEST_TIMEOUT']])
    clientErrors.length = 0
    const slowBody = await exchange(port, [whole.slice(0, -3)], { waitMs: 2000 })
    expect([slowBody.text.slice(0, 12), slowBody.closed, clientErrors]).toEqual(['HTTP/1.1 408', true, ['ERR_HTTP_REQUEST_TIMEOUT']])
    clientErrors.length = 0
    const idle = await exchange(port, [whole], { waitMs: 4000 }) // node:http's keep-alive timer: keepAliveTimeout + 1 s
    expect([answers(idle.text).length, idle.text.slice(0, 12), idle.closed, clientErrors]).toEqual([1, 'HTTP/1.1 202', true, []])
    // A client that half-closes after its request gets its answer, then the end of the connection.
    const half = await exchange(port, [whole], { end: true, waitMs: 2000 })
    expect([half.text.slice(0, 12), half.closed]).toEqual(['HTTP/1.1 202', true])
    // A body the client stops sending (half-close) is node:http's EOF refusal.
    const cut = await exchange(port, [whole.slice(0, -3)], { end: true, waitMs: 2000 })
    expect([cut.closed, clientErrors]).toEqual([true, ['HPE_INVALID_EOF_STATE']])
  })
})
