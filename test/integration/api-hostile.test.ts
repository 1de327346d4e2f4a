import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connect } from 'node:net'
import { request } from 'node:http'
import { TokenStore } from '../../src/api/index.js'
import type { PetalNode } from '../../src/node/index.js'
import { errorOf, http, startTestApi, type HttpResult } from '../helpers/api.js'
import { fixtureKey, newTestChain } from '../helpers/chain.js'
import { startNode, stopAll } from '../helpers/network.js'
import { waitFor } from '../helpers/wait.js'

/**
 * Hostile input on every route (http35): each request gets a coded JSON error below 500, never a
 * stack trace, a reset or another error shape. The first cases are the defects the sweep found;
 * the table after them is the rest of the sweep, kept so that none of it regresses.
 */
const alice = fixtureKey('alice')
let node: PetalNode
let url: string
let port: number
let write: Record<string, string>
const LONG = 'a'.repeat(5000)

beforeAll(async () => {
  const { chain, dir } = await newTestChain({ key: alice })
  chain.close()
  node = await startNode(dir, { name: 'hostile', key: alice, http: { address: { host: '127.0.0.1', port: 0 } }, ingest: { everyMs: 50, pollMs: 20 } })
  url = node.httpUrl ?? ''
  port = Number(new URL(url).port)
  write = { authorization: `Bearer ${TokenStore.of(dir).create({ scope: 'write', name: 'w' }).token}` }
  const r = await http(url + 'api/v1/records/t', { method: 'POST', headers: { ...write, 'content-type': 'application/json' }, body: '[{"a": 1}]' })
  expect(r.status).toBe(202)
  // The sweep asks for block 1's tables: wait for the row's seal (a loaded CI run got there first:
  // API_BLOCK_NOT_FOUND where API_TABLE_NOT_FOUND was meant).
  await waitFor(async () => (await http(url + 'api/v1/blocks/1')).status === 200, { what: 'block 1, the row sealed' })
})

afterAll(stopAll)

/** A refusal in the one coded shape, below 500. */
function refused (r: HttpResult, what: string, status?: number): { code: string, message: string, hint?: string } {
  expect(r.status, `${what}: ${r.text.slice(0, 300)}`).toBeGreaterThanOrEqual(400)
  expect(r.status, what).toBeLessThan(500)
  if (status !== undefined) expect(r.status, what).toBe(status)
  return errorOf(r)
}

/** Raw bytes on a fresh connection; what came back once the server closed it. */
async function raw (data: string): Promise<string> {
  return await new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1')
    let got = ''
    s.setEncoding('utf8')
    s.on('data', (d: string) => { got += d })
    s.on('error', reject)
    s.on('connect', () => { s.write(data) })
    s.on('close', () => { resolve(got) })
  })
}

describe('defects found by the sweep (each failed on the old code)', () => {
  it('a path part over 2000 characters: 400 API_BAD_REQUEST, not Fastify\'s own shape echoing the path', async () => {
    for (const p of [`api/v1/blocks/${LONG}`, `api/v1/blocks/1/tables/${LONG}/rows`, `api/v1/receipts/${LONG}`, `api/v1/tables/${LONG}/export`]) {
      const e = refused(await http(url + p), p.slice(0, 30), 400)
      expect(e.code).toBe('API_BAD_REQUEST')
      expect(e.message).toBe('a part of the path is longer than 2000 characters')
    }
    const e = refused(await http(url + `api/v1/records/${LONG}`, { method: 'POST', headers: { ...write, 'content-type': 'application/json' }, body: '[{"a": 1}]' }), 'records', 400)
    expect(e.code).toBe('API_BAD_REQUEST')
  })

  it('a path that is not valid percent-encoding: 400 API_BAD_REQUEST', async () => {
    for (const p of ['api/v1/blocks/%zz', 'api/v1/receipts/%c0', 'api/v1/blocks/1/tables/%E0%A4%A/rows']) {
      const e = refused(await http(url + p), p, 400)
      expect(e.code).toBe('API_BAD_REQUEST')
    }
  })

  it('HEAD /events: the head of an event stream, then the end (it never answered, holding a stream)', async () => {
    const r = await new Promise<{ status: number, type: string | undefined }>((resolve, reject) => {
      const req = request(url + 'api/v1/events', { method: 'HEAD', agent: false }, res => { res.resume(); res.on('end', () => { resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'] }) }) })
      req.on('error', reject)
      req.end()
    })
    expect(r).toEqual({ status: 200, type: 'text/event-stream; charset=utf-8' })
  })

  it('CONNECT: a coded 404, not a reset connection', async () => {
    const got = await raw('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n')
    expect(got).toMatch(/^HTTP\/1\.1 404 Not Found\r\n/)
    expect(JSON.parse(got.slice(got.indexOf('\r\n\r\n') + 4))).toMatchObject({ error: { code: 'API_NOT_FOUND', message: 'no such endpoint: CONNECT example.com:443' } })
  })

  it('a record field holding NUL: INGEST_BAD_COLUMN that says so (its hint spoke of 2000 columns)', async () => {
    const e = refused(await http(url + 'api/v1/records/t', { method: 'POST', headers: { ...write, 'content-type': 'application/json' }, body: '[{"b\\u0000c": 1}]' }), 'NUL field', 400)
    expect(e.code).toBe('INGEST_BAD_COLUMN')
    expect(e.message).toContain('holds a NUL character')
    expect(e.hint).toBe('rename the field without the NUL character')
  })

  it('one record of 1.2 M fields in a 15 MiB body: 400 INGEST_BAD_COLUMN at once, and the node goes on (wire46)', async () => {
    // It held the node's event loop for minutes: a quadratic duplicate check, then every step after.
    const fields = Array.from({ length: 1_200_000 }, (_, i) => `"f${i}":1`).join(',')
    for (const [type, body] of [['application/json', `[{${fields}}]`], ['text/csv', `${fields.replaceAll(':1', '')}\n`]]) {
      expect(Buffer.byteLength(body as string)).toBeLessThan(16 * 1024 * 1024)
      const e = refused(await http(url + 'api/v1/records/wide', { method: 'POST', headers: { ...write, 'content-type': type as string }, body }), `wide ${type}`, 400)
      expect(e.code).toBe('INGEST_BAD_COLUMN')
    }
    expect((await http(url + 'api/v1/records/t', { method: 'POST', headers: { ...write, 'content-type': 'application/json' }, body: '[{"a": 2}]' })).status).toBe(202)
  }, 120_000)
})

describe('the rest of the sweep: coded refusals below 500', () => {
  const gets: Array<[string, string]> = [
    ['api/v1/blocks/%00', 'API_BAD_REQUEST'], ['api/v1/blocks/-1', 'API_BAD_REQUEST'], ['api/v1/blocks/1e3', 'API_BAD_REQUEST'],
    ['api/v1/blocks/99999999999999999999', 'API_BLOCK_NOT_FOUND'], ['api/v1/blocks/%2e%2e/file', 'API_NOT_FOUND'],
    ['api/v1/blocks/1/tables/..%2f..%2fetc/rows', 'API_TABLE_NOT_FOUND'], ['api/v1/blocks/1/tables/t%00x/rows', 'API_TABLE_NOT_FOUND'],
    ['api/v1/blocks/1/tables/sqlite_master/rows', 'API_TABLE_NOT_FOUND'], ['api/v1/blocks/1/tables/t/rows?limit=-1', 'API_BAD_REQUEST'],
    ['api/v1/blocks/1/tables/t/rows?limit=1e308', 'API_BAD_REQUEST'], ['api/v1/blocks/1/tables/t/rows?after_rowid=99999999999999999999', 'API_BAD_REQUEST'],
    ['api/v1/blocks/1/tables/t/rows?limit=1&limit=2', 'API_BAD_REQUEST'], ['api/v1/blocks?before=1e300', 'API_BAD_REQUEST'],
    ['api/v1/signers?height=99999999999', 'API_BLOCK_NOT_FOUND'], ['api/v1/activity?from=10&to=5', 'API_BAD_REQUEST'],
    ['api/v1/activity?buckets=1e9', 'API_BAD_REQUEST'], ['api/v1/receipts/%00', 'INGEST_UNKNOWN_RECEIPT'], ['api/v1/receipts/%00/proof', 'INGEST_UNKNOWN_RECEIPT'],
    ['api/v1/proofs/row?height=1&table=%00&rowid=1', 'PROOF_TABLE_NOT_FOUND'], ['api/v1/proofs/consistency?from=1e300&to=1e301', 'API_BAD_REQUEST'],
    ['api/v1/blocks/1/tables/t/rows/99999999999999999999/proof', 'API_BAD_REQUEST'], ['api/v1/tables/%00/export', 'QUERY_UNKNOWN_TABLE'],
    ['api/v1/tables/..%2f..%2fx/export', 'QUERY_UNKNOWN_TABLE'], ['api/v1/tables/t/export?from=5&to=1', 'API_BAD_REQUEST'],
    ['assets/..%2f..%2fpackage.json', 'API_NOT_FOUND'], ['assets/%00', 'API_NOT_FOUND']
  ]
  it.each(gets)('GET %s: %s', async (p, code) => {
    expect(refused(await http(url + p), p).code).toBe(code)
  })

  const posts: Array<[string, string, string, string]> = [
    ['api/v1/query', 'text/plain', 'SELECT 1', 'API_UNSUPPORTED_MEDIA_TYPE'], ['api/v1/query', 'application/json', '', 'API_MALFORMED_JSON'],
    ['api/v1/query', 'application/json', '[]', 'API_BAD_REQUEST'], ['api/v1/query', 'application/json', '{"sql":"SELECT 1","timeout_ms":1e300}', 'API_BAD_REQUEST'],
    ['api/v1/query', 'application/json', '{"sql":"SELECT 1","max_rows":-1}', 'API_BAD_REQUEST'], ['api/v1/query', 'application/json', '{"sql":"\\u0000"}', 'QUERY_SQL_ERROR'],
    ['api/v1/query', 'application/json', '{"sql":"SELECT 1","per_block":true,"from":5,"to":1}', 'API_BAD_REQUEST'],
    ['api/v1/query', 'application/json', '{"sql":"SELECT 1","__proto__":{"x":1}}', 'API_MALFORMED_JSON'],
    ['api/v1/records/t', 'application/json', '[{"a":99999999999999999999999}]', 'INGEST_MALFORMED'], ['api/v1/records/t', 'application/json', '[{"a":"\\ud800"}]', 'INGEST_MALFORMED'],
    ['api/v1/records/t', 'text/csv', 'a\n"unterminated', 'INGEST_MALFORMED'], ['api/v1/records/t', 'application/x-ndjson', '{"a":1}\n{', 'INGEST_MALFORMED'],
    ['api/v1/records/t', 'multipart/form-data; boundary=x', '--x--', 'API_UNSUPPORTED_MEDIA_TYPE'], ['api/v1/records/%2e%2e', 'application/json', '[{"a":1}]', 'API_NOT_FOUND'],
    ['api/v1/records/%00', 'application/json', '[{"a":1}]', 'INGEST_BAD_TABLE'], ['api/v1/records/sqlite_master', 'application/json', '[{"a":1}]', 'INGEST_BAD_TABLE']
  ]
  it.each(posts)('POST %s (%s) %s: %s', async (p, type, body, code) => {
    expect(refused(await http(url + p, { method: 'POST', headers: { ...write, 'content-type': type }, body }), p).code).toBe(code)
  })

  it('odd methods: 404 API_NOT_FOUND', async () => {
    for (const m of ['DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'PROPFIND']) expect(refused(await http(url + 'api/v1/status', { method: m }), m).code).toBe('API_NOT_FOUND')
  })

  it('bad Range headers: the whole file, a range, or 416 — never an error of the server', async () => {
    for (const [range, status] of [['bytes=5-1', 200], ['bytes=abc', 200], ['items=0-1', 200], ['bytes=0-1,2-3', 200], ['bytes=-99999999999999999999', 206], ['bytes=0-99999999999999999999', 206], ['bytes=99999999999999999999-', 416], ['bytes=-0', 416]] as const) {
      const r = await http(url + 'api/v1/blocks/1/file', { headers: { range } })
      expect(r.status, range).toBe(status)
      if (status === 416) expect(errorOf(r).code).toBe('API_RANGE_NOT_SATISFIABLE')
    }
  })

  it('broken framing (negative or huge Content-Length, NUL in the path): 400 API_MALFORMED_REQUEST', async () => {
    for (const head of ['POST /api/v1/query HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: -1\r\n\r\n',
      'POST /api/v1/query HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 99999999999999999999\r\n\r\n',
      'GET /api/v1/blocks/1\u0000 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n']) {
      const got = await raw(head)
      expect(got).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/)
      expect(got).toContain('"code":"API_MALFORMED_REQUEST"')
    }
  })
})

describe('an event client that never reads', () => {
  it('is dropped once it is eventBufferBytes behind; the server goes on answering', async () => {
    const t = await newTestChain({ key: alice })
    const { server, url: api } = await startTestApi({ dir: t.dir, limits: { eventBufferBytes: 64 * 1024 } })
    try {
      const s = connect(Number(new URL(api).port), '127.0.0.1')
      s.on('error', () => {})
      await new Promise<void>(resolve => { s.on('connect', () => { resolve() }) })
      s.write('GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
      s.pause() // never reads
      await waitFor(() => server.events.clients === 1, { what: 'the stream to open' })
      const big = 'ab'.repeat(32 * 1024) // 64 KiB an event
      // Far more than the kernel's socket buffers take: the rest stays in the server, until the limit.
      for (let i = 0; i < 400 && server.events.clients > 0; i++) {
        server.events.emit({ type: 'sealed', data: { height: i, hash: big, rows: 1, receipts: 1 } })
        await new Promise(resolve => setImmediate(resolve))
      }
      await waitFor(() => server.events.clients === 0, { what: 'the slow client to be dropped' })
      expect((await http(api + 'api/v1/status')).status).toBe(200)
      s.destroy()
    } finally {
      await server.close()
      t.chain.close()
    }
  })
})
