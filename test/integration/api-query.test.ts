// POST /api/v1/query on the read API's test chain: every output format with exact values, per-block
// mode, statement errors before output, an error after output has started, malformed requests.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Chain } from '../../src/chain/index.js'
import { errorOf, http, postJson, type HttpResult, type OpenApiChecker } from '../helpers/api.js'
import { openReadFixture, type ReadFixture } from '../helpers/api-read-fixture.js'

let f: ReadFixture
let chain: Chain
let url: string
let api: OpenApiChecker
const call: ReadFixture['call'] = async (method, docPath, path, o) => await f.call(method, docPath, path, o)

beforeAll(async () => {
  f = await openReadFixture()
  ;({ chain, url, api } = f)
})

afterAll(async () => {
  await f?.close()
})

describe('HTTP API, POST /api/v1/query', () => {
  it('answers in every format with exact values and the result summary (trailers; rowCount and tip in json)', async () => {
    const sql = 'SELECT big, r, s, b, n FROM vals ORDER BY id'
    const nd = await call('POST', '/api/v1/query', '/api/v1/query', { body: { sql } })
    expect(nd.status).toBe(200)
    expect(nd.headers['content-type']).toBe('application/x-ndjson; charset=utf-8')
    expect(nd.text).toBe('{"big":9223372036854775807,"r":1.0,"s":"x","b":{"$base64":"AAH+/w=="},"n":null}\n{"big":-9223372036854775808,"r":0.1,"s":"","b":{"$base64":""},"n":null}\n')
    expect(nd.trailers).toMatchObject({ 'petal-row-count': '2', 'petal-tip-height': '3', 'petal-tip-hash': chain.tip().hash })
    const json = await call('POST', '/api/v1/query', '/api/v1/query', { body: { sql, format: 'json' } })
    expect(json.text).toContain('"rowCount":2')
    expect(json.json).toMatchObject({ columns: ['big', 'r', 's', 'b', 'n'], tip: { height: 3, hash: chain.tip().hash } })
    const csv = await call('POST', '/api/v1/query', '/api/v1/query', { body: { sql, format: 'csv' } })
    expect(csv.headers['content-type']).toMatch(/^text\/csv/)
    expect(csv.text).toBe('big,r,s,b,n\r\n9223372036854775807,1.0,x,\\x0001feff,\r\n-9223372036854775808,0.1,"",\\x,\r\n')
    const table = await call('POST', '/api/v1/query', '/api/v1/query', { body: { sql: 'SELECT count(*) AS n FROM t', format: 'table' } })
    expect(table.text).toBe('  n\n---\n260\n(1 row)\n')
  })

  it('per_block mode with from/to, as petal query --per-block', async () => {
    const r = await call('POST', '/api/v1/query', '/api/v1/query', { body: { sql: 'SELECT count(*) AS n FROM t', per_block: true, from: 1, to: 3 } })
    expect(r.text).toBe('{"_height":1,"n":10}\n{"_height":3,"n":250}\n')
  })

  it('statement errors come with their query codes and statuses, before any output', async () => {
    const cases: Array<[unknown, number, string]> = [
      [{ sql: 'SELEC 1' }, 400, 'QUERY_SYNTAX'],
      [{ sql: 'SELECT * FROM nope' }, 400, 'QUERY_UNKNOWN_TABLE'],
      [{ sql: '' }, 400, 'QUERY_EMPTY'],
      [{ sql: 'DELETE FROM t' }, 403, 'QUERY_NOT_READONLY'],
      [{ sql: "ATTACH 'x.db' AS x" }, 403, 'QUERY_ATTACH_REFUSED'],
      [{ sql: 'PRAGMA journal_mode = DELETE' }, 403, 'QUERY_PRAGMA_REFUSED'],
      [{ sql: "SELECT load_extension('x')" }, 403, 'QUERY_EXTENSION_REFUSED'],
      [{ sql: 'SELECT 1; SELECT 2' }, 400, 'QUERY_MULTIPLE_STATEMENTS'],
      [{ sql: 'SELECT * FROM t', max_rows: 3 }, 413, 'QUERY_TOO_MANY_ROWS'],
      [{ sql: 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) FROM c', timeout_ms: 300 }, 422, 'QUERY_TIMEOUT']
    ]
    for (const [body, status, code] of cases) {
      const r = await call('POST', '/api/v1/query', '/api/v1/query', { body })
      expect([r.status, errorOf(r).code], JSON.stringify(body)).toEqual([status, code])
    }
    // The sandbox was killed at the time limit; the next statement gets a fresh one.
    expect((await call('POST', '/api/v1/query', '/api/v1/query', { body: { sql: 'SELECT 1 AS one' } })).text).toBe('{"one":1}\n')
  })

  it('an error after output has started cuts the stream (NDJSON says why first)', async () => {
    // 100,000 rows are several chunks of output: the error comes after the first was sent.
    const sql = 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 100000) SELECT x FROM c'
    const r = await call('POST', '/api/v1/query', '/api/v1/query', { body: { sql, max_rows: 50000 } })
    expect(r.status).toBe(200)
    expect(r.aborted).toBe(true)
    const lines = r.text.trimEnd().split('\n')
    expect(lines.at(-1)).toMatch(/^\{"error":\{"code":"QUERY_TOO_MANY_ROWS"/)
    expect(lines.length).toBe(50001)
    const csv = await postJson(url + 'api/v1/query', { sql, max_rows: 50000, format: 'csv' })
    expect(csv.aborted).toBe(true)
    expect(csv.text).not.toMatch(/error/)
    // An answer that fits in the first chunk gets the error's status instead (nothing partial).
    const small = await call('POST', '/api/v1/query', '/api/v1/query', { body: { sql, max_rows: 5000 } })
    expect([small.status, errorOf(small).code]).toEqual([413, 'QUERY_TOO_MANY_ROWS'])
  })

  it('refuses malformed requests with coded errors', async () => {
    const post = async (body: string, type = 'application/json'): Promise<HttpResult> => {
      const r = await http(url + 'api/v1/query', { method: 'POST', headers: { 'content-type': type }, body })
      api.check('POST', '/api/v1/query', r)
      return r
    }
    const cases: Array<[HttpResult, number, string]> = [
      [await post('{"sql": '), 400, 'API_MALFORMED_JSON'],
      [await post(''), 400, 'API_MALFORMED_JSON'],
      [await post('[1,2]'), 400, 'API_BAD_REQUEST'],
      [await post('{"sql": 5}'), 400, 'API_BAD_REQUEST'],
      [await post('{"sql": "SELECT 1", "perBlock": true}'), 400, 'API_BAD_REQUEST'],
      [await post('{"sql": "SELECT 1", "format": "xml"}'), 400, 'API_BAD_REQUEST'],
      [await post('{"sql": "SELECT 1", "timeout_ms": 600001}'), 400, 'API_BAD_REQUEST'],
      [await post('{"sql": "SELECT 1", "from": 2}'), 400, 'API_BAD_REQUEST'],
      [await post('{"sql": "SELECT 1", "__proto__": {"x": 1}}'), 400, 'API_MALFORMED_JSON'],
      [await post('sql=SELECT+1', 'application/x-www-form-urlencoded'), 415, 'API_UNSUPPORTED_MEDIA_TYPE'],
      [await post('SELECT 1', 'text/plain'), 415, 'API_UNSUPPORTED_MEDIA_TYPE']
    ]
    for (const [r, status, code] of cases) expect([r.status, errorOf(r).code]).toEqual([status, code])
  })

  it('every response above matched the OpenAPI document, successes and errors', () => {
    const seen = [...api.seen].filter(s => s.startsWith('POST /api/v1/query '))
    expect(new Set(seen.map(s => s.split(' ')[2]))).toEqual(new Set(['200', '400', '403', '413', '415', '422']))
  })
})
