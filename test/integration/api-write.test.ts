import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { request, type IncomingMessage } from 'node:http'
import { join } from 'node:path'
import { TokenStore } from '../../src/api/index.js'
import { signKeyOp } from '../../src/block/index.js'
import { Chain, signImport } from '../../src/chain/index.js'
import type { PetalNode } from '../../src/node/index.js'
import { errorOf, http, OpenApiChecker, postJson, startTestApi, type HttpResult } from '../helpers/api.js'
import { fixtureKey, makeSqlite, newTestChain } from '../helpers/chain.js'
import { startNode, stopAll, stopNode } from '../helpers/network.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'

const alice = fixtureKey('alice')
const bob = fixtureKey('bob')
const HTTP = { address: { host: '127.0.0.1', port: 0 }, limits: { rowsPerRequest: 1000, bodyBytes: 256 * 1024 } }
const FAST_SEAL = { everyMs: 50, pollMs: 20 }

let node: PetalNode
let url: string
let write: Record<string, string>
let read: Record<string, string>
let api: OpenApiChecker

async function send (path: string, body: string, type: string, headers: Record<string, string> = write): Promise<HttpResult> {
  const r = await http(url + path.slice(1), { method: path.startsWith('/api/v1/tables/') ? 'PUT' : 'POST', headers: { 'content-type': type, ...headers }, body })
  api.check(path.startsWith('/api/v1/tables/') ? 'PUT' : 'POST', path.startsWith('/api/v1/tables/') ? '/api/v1/tables/{table}' : '/api/v1/records/{table}', r)
  return r
}

async function receipt (id: string): Promise<{ state: string, table: string, sealed: { height: number, block_hash: string, rowid: string, row_url: string, proof_url: string } | null }> {
  const r = await http(url + `api/v1/receipts/${id}`)
  api.check('GET', '/api/v1/receipts/{id}', r)
  expect(r.status).toBe(200)
  return r.json as { state: string, table: string, sealed: { height: number, block_hash: string, rowid: string, row_url: string, proof_url: string } | null }
}

async function sealedAll (ids: string[]): Promise<void> {
  await waitFor(async () => {
    for (const id of ids) if ((await receipt(id)).state !== 'sealed') return false
    return true
  }, { what: 'the receipts to be sealed' })
}

beforeAll(async () => {
  const { chain, dir } = await newTestChain({ key: alice })
  chain.close()
  node = await startNode(dir, { name: 'writer', key: alice, http: HTTP, ingest: FAST_SEAL })
  url = node.httpUrl ?? ''
  const tokens = TokenStore.of(dir)
  write = { authorization: `Bearer ${tokens.create({ scope: 'write', name: 'w' }).token}` }
  read = { authorization: `Bearer ${tokens.create({ scope: 'read', name: 'r' }).token}` }
  api = new OpenApiChecker((await http(url + 'api/v1/openapi.json')).json as ConstructorParameters<typeof OpenApiChecker>[0])
})

afterAll(stopAll)

describe('HTTP API, writes', () => {
  it('POST /records (JSON): 202 with one receipt per row; the receipts become sealed; the rows read back exactly', async () => {
    const body = '[{"id": 1, "name": "a", "big": 9223372036854775807, "x": 1.5, "raw": {"$base64": "AAH+/w=="}, "note": null}, {"id": 2, "name": "b", "big": -9223372036854775808, "x": 0.1, "raw": {"$base64": ""}, "note": "n"}]'
    const r = await send('/api/v1/records/readings', body, 'application/json')
    expect(r.status).toBe(202)
    const ack = r.json as { table: string, rows: number, created: boolean, added_columns: string[], receipts: string[] }
    expect(ack).toMatchObject({ table: 'readings', rows: 2, created: true, added_columns: ['id', 'name', 'big', 'x', 'raw', 'note'] })
    expect(ack.receipts.length).toBe(2)
    expect(new Set(ack.receipts).size).toBe(2)
    await sealedAll(ack.receipts)
    const first = await receipt(ack.receipts[0] ?? '')
    expect(first.sealed?.block_hash).toBe(node.chain.get(first.sealed?.height ?? -1)?.hash)
    const q = await postJson(url + 'api/v1/query', { sql: 'SELECT id, name, big, x, raw, note FROM readings ORDER BY id' }, read)
    expect(q.text).toBe('{"id":1,"name":"a","big":9223372036854775807,"x":1.5,"raw":{"$base64":"AAH+/w=="},"note":null}\n{"id":2,"name":"b","big":-9223372036854775808,"x":0.1,"raw":{"$base64":""},"note":"n"}\n')
    // The receipt's row_url is that row in its block.
    const row = await http(url + (first.sealed?.row_url ?? '').slice(1))
    expect((row.json as { rows: unknown[][] }).rows).toEqual([[Number(first.sealed?.rowid), 1, 'a', 9223372036854776000, 1.5, { $base64: 'AAH+/w==' }, null]])
    // And its proof_url, the row's proof in that block.
    const proof = await http(url + (first.sealed?.proof_url ?? '').slice(1), { headers: read })
    expect(proof.status, proof.text).toBe(200)
    expect(proof.json).toMatchObject({ petal_proof: 1, type: 'bundle', blocks: [{ height: first.sealed?.height, tables: [{ name: 'readings' }] }] })
  })

  it('NDJSON and CSV too; CSV is the inverse of the query CSV output', async () => {
    const nd = await send('/api/v1/records/readings', '{"id": 3, "name": "c"}\n{"id": 4, "name": "d, \\"quoted\\""}\n', 'application/x-ndjson')
    expect(nd.status).toBe(202)
    const csvIn = 'id,name,big,x,raw,note\r\n5,"e, f",7,2.0,\\x00ff,\r\n6,"",8,3.5,\\x,\\\\not a blob\r\n'
    const csv = await send('/api/v1/records/readings', csvIn, 'text/csv; charset=utf-8')
    expect(csv.status).toBe(202)
    await sealedAll([...(nd.json as { receipts: string[] }).receipts, ...(csv.json as { receipts: string[] }).receipts])
    const out = await postJson(url + 'api/v1/query', { sql: 'SELECT id, name, big, x, raw, note FROM readings WHERE id >= 5 ORDER BY id', format: 'csv' })
    expect(out.text).toBe(csvIn)
    expect((await postJson(url + 'api/v1/query', { sql: 'SELECT name FROM readings WHERE id = 4' })).text).toBe('{"name":"d, \\"quoted\\""}\n')
  })

  it('PUT /tables declares a table (201), again is 200, another definition is 409; wrong types are 422 with row and field', async () => {
    const put = async (sql: string, name = 'sensors'): Promise<HttpResult> => await send(`/api/v1/tables/${encodeURIComponent(name)}`, JSON.stringify({ sql }), 'application/json')
    const ddl = 'CREATE TABLE sensors (id INTEGER PRIMARY KEY, label TEXT NOT NULL, level REAL)'
    expect((await put(ddl)).status).toBe(201)
    const again = await put(ddl)
    expect(again.status).toBe(200)
    expect(again.json).toMatchObject({ created: false })
    const other = await put('CREATE TABLE sensors (id INTEGER PRIMARY KEY, label TEXT)')
    expect([other.status, errorOf(other).code]).toEqual([409, 'INGEST_TABLE_CONFLICT'])
    const wrong = await send('/api/v1/records/sensors', '[{"id": 1, "label": "ok", "level": 1.0}, {"id": 2, "label": "x", "level": "high"}]', 'application/json')
    expect(wrong.status).toBe(422)
    const e = wrong.json as { error: { code: string, details: { row: number, field: string } } }
    expect(e.error.code).toBe('INGEST_TYPE_MISMATCH')
    expect(e.error.details).toMatchObject({ row: 1, field: 'level' })
    // Nothing of the refused request was stored.
    expect(((await http(url + 'api/v1/status')).json as { ingest: { pending_rows: number } }).ingest.pending_rows).toBe(0)
  })

  it('SQL in table names is a name, never SQL: refused or quoted, and nothing else is touched', async () => {
    for (const name of ['x; DROP TABLE readings', "readings' --", '_meta', 'sqlite_master']) {
      const r = await send(`/api/v1/records/${encodeURIComponent(name)}`, '[{"a": 1}]', 'application/json')
      expect([r.status, errorOf(r).code], name).toEqual([400, 'INGEST_BAD_TABLE'])
    }
    const empty = await http(url + 'api/v1/records/', { method: 'POST', headers: { 'content-type': 'application/json', ...write }, body: '[{"a": 1}]' })
    expect([empty.status, errorOf(empty).code]).toEqual([404, 'API_NOT_FOUND'])
    const put = await send('/api/v1/tables/evil', JSON.stringify({ sql: 'CREATE TABLE evil (a); DROP TABLE readings' }), 'application/json')
    expect([put.status, errorOf(put).code]).toEqual([400, 'INGEST_BAD_TABLE'])
    const trig = await send('/api/v1/tables/evil', JSON.stringify({ sql: 'CREATE TRIGGER evil AFTER INSERT ON readings BEGIN DELETE FROM readings; END' }), 'application/json')
    expect(trig.status).toBe(400)
    expect((await postJson(url + 'api/v1/query', { sql: 'SELECT count(*) AS n FROM readings' })).text).toBe('{"n":6}\n')
  })

  it('malformed bodies, wrong content types and sizes get their coded errors', async () => {
    const cases: Array<[string, string, number, string]> = [
      ['[{"a": 1}, {"a": ', 'application/json', 400, 'INGEST_MALFORMED'],
      ['{"a": 1}', 'application/json', 400, 'INGEST_MALFORMED'],
      ['[1, 2]', 'application/json', 400, 'INGEST_MALFORMED'],
      ['{"a": 1}\n{"a": \n', 'application/x-ndjson', 400, 'INGEST_MALFORMED'],
      ['a,b\n1,2,3\n', 'text/csv', 400, 'INGEST_MALFORMED'],
      ['a,b\n"1,2\n', 'text/csv', 400, 'INGEST_MALFORMED'],
      [Buffer.from([0x5b, 0xff, 0xfe, 0x5d]).toString('latin1'), 'application/json', 400, 'INGEST_MALFORMED'],
      ['a\n1\n', 'text/plain', 415, 'API_UNSUPPORTED_MEDIA_TYPE'],
      ['a=1', 'application/x-www-form-urlencoded', 415, 'API_UNSUPPORTED_MEDIA_TYPE'],
      [JSON.stringify(Array.from({ length: 1001 }, (_, i) => ({ n: i }))), 'application/json', 413, 'INGEST_TOO_MANY_ROWS'],
      [JSON.stringify([{ s: 'x'.repeat(300 * 1024) }]), 'application/json', 413, 'API_BODY_TOO_LARGE']
    ]
    for (const [body, type, status, code] of cases) {
      const r = await http(url + 'api/v1/records/junk', { method: 'POST', headers: { 'content-type': type, ...write }, body: Buffer.from(body, type === 'application/json' && body.startsWith('[\u00ff') ? 'latin1' : 'utf8') })
      api.check('POST', '/api/v1/records/{table}', r)
      expect([r.status, errorOf(r).code], `${type}: ${body.slice(0, 40)}`).toEqual([status, code])
    }
    const bad = await send('/api/v1/records/junk', '{"a": 1}\n{"a": 2}\n{"a": }\n', 'application/x-ndjson')
    expect((bad.json as { error: { details: Record<string, unknown> } }).error.details).toMatchObject({ row: 2, line: 3 })
    expect(((await http(url + 'api/v1/status')).json as { ingest: { pending_rows: number } }).ingest.pending_rows).toBe(0)
  })

  it('a body over the limit is told the limit in bytes, and the hint, followed, gets the rows stored', async () => {
    // 600 rows of ~500 bytes: ~300 KB, over this server's 256 KiB.
    const rows = Array.from({ length: 600 }, (_, i) => ({ n: i, s: 'y'.repeat(500) }))
    const r = await send('/api/v1/records/split', JSON.stringify(rows), 'application/json')
    const e = (r.json as { error: { code: string, message: string, hint: string } }).error
    expect([r.status, e.code]).toEqual([413, 'API_BODY_TOO_LARGE'])
    expect(e.message).toContain(`at most ${256 * 1024} bytes`)
    expect(e.hint).toBe(`split the rows over several requests of at most ${256 * 1024} bytes each (each is stored as it comes)`)
    // As the hint says: two requests, each under the limit.
    for (const part of [rows.slice(0, 300), rows.slice(300)]) {
      const body = JSON.stringify(part)
      expect(Buffer.byteLength(body)).toBeLessThanOrEqual(256 * 1024)
      const ok = await send('/api/v1/records/split', body, 'application/json')
      expect(ok.status, ok.text).toBe(202)
    }
    // Another route's body over the limit: the limit, and no word of rows.
    const q = await postJson(url + 'api/v1/query', { sql: `SELECT '${'x'.repeat(300 * 1024)}'` })
    expect(errorOf(q)).toMatchObject({ code: 'API_BODY_TOO_LARGE', message: expect.stringContaining(`at most ${256 * 1024} bytes`), hint: `send a body of at most ${256 * 1024} bytes` })
  })

  it('writes need a write token: none or unknown is 401, a read token 403; receipts and reads do not', async () => {
    const body = '[{"a": 1}]'
    const none = await send('/api/v1/records/t1', body, 'application/json', {})
    expect([none.status, errorOf(none).code]).toEqual([401, 'API_UNAUTHORIZED'])
    const wrong = await send('/api/v1/records/t1', body, 'application/json', { authorization: 'Bearer petal_000000000000_' + 'x'.repeat(43) })
    expect([wrong.status, errorOf(wrong).code]).toEqual([401, 'API_UNAUTHORIZED'])
    const ro = await send('/api/v1/records/t1', body, 'application/json', read)
    expect([ro.status, errorOf(ro).code]).toEqual([403, 'API_FORBIDDEN'])
    const put = await send('/api/v1/tables/t1', JSON.stringify({ sql: 'CREATE TABLE t1 (a)' }), 'application/json', read)
    expect(put.status).toBe(403)
    const unknown = await http(url + 'api/v1/receipts/nope')
    expect([unknown.status, errorOf(unknown).code]).toEqual([404, 'INGEST_UNKNOWN_RECEIPT'])
  })

  it('100 concurrent writers each get their receipts; every row is sealed exactly once', async () => {
    const rs = await Promise.all(Array.from({ length: 100 }, async (_, i) => await send('/api/v1/records/many', JSON.stringify([{ writer: i, k: 0 }, { writer: i, k: 1 }]), 'application/json')))
    for (const r of rs) expect(r.status).toBe(202)
    const ids = rs.flatMap(r => (r.json as { receipts: string[] }).receipts)
    expect(new Set(ids).size).toBe(200)
    await sealedAll(ids)
    const q = await postJson(url + 'api/v1/query', { sql: 'SELECT count(*) AS n, count(DISTINCT writer || \':\' || k) AS d FROM many' })
    expect(q.text).toBe('{"n":200,"d":200}\n')
  })

  it('GET /events says what was sealed, and /metrics counts pending and sealed rows and seal latency', async () => {
    const events: string[] = []
    const res = await new Promise<IncomingMessage>((resolve, reject) => { const r = request(url + 'api/v1/events', { agent: false }); r.on('response', resolve); r.on('error', reject); r.end() })
    res.setEncoding('utf8')
    res.on('data', (s: string) => { events.push(s) })
    await waitFor(() => events.join('').includes('event: tip'), { what: 'the first event' })
    const r = await send('/api/v1/records/evented', '[{"v": 1}, {"v": 2}, {"v": 3}]', 'application/json')
    await sealedAll((r.json as { receipts: string[] }).receipts)
    await waitFor(() => /event: sealed\ndata: \{"height":\d+,"hash":"[0-9a-f]{64}","rows":3,"receipts":3\}/.test(events.join('')), { what: 'the sealed event' })
    const text = events.join('')
    expect(text.lastIndexOf('event: tip')).toBeLessThan(text.lastIndexOf('event: sealed')) // the tip first
    res.destroy()
    // One read of pending.db's summary a scrape: each pending gauge read its own until session 55.
    const ingest = node.ingest as NonNullable<typeof node.ingest>
    const stats = ingest.stats.bind(ingest)
    let reads = 0
    ingest.stats = () => { reads++; return stats() }
    const m = (await http(url + 'metrics')).text
    ingest.stats = stats
    expect(reads).toBe(1)
    expect(m).toMatch(/^petal_pending_rows 0$/m)
    expect(m).toMatch(/^petal_pending_bytes 0$/m)
    expect(Number(/^petal_sealed_rows_total (\d+)$/m.exec(m)?.[1])).toBeGreaterThanOrEqual(209)
    expect(Number(/^petal_seal_latency_seconds_count (\d+)$/m.exec(m)?.[1])).toBeGreaterThan(0)
    expect(m).toMatch(/^petal_http_requests_total\{method="POST",route="\/api\/v1\/records\/:table",status="202"\} \d+$/m)
  })

  it('every write route was checked against the OpenAPI document', () => {
    for (const s of ['POST /api/v1/records/{table} 202', 'POST /api/v1/records/{table} 400', 'POST /api/v1/records/{table} 413', 'POST /api/v1/records/{table} 422', 'PUT /api/v1/tables/{table} 201', 'PUT /api/v1/tables/{table} 409', 'GET /api/v1/receipts/{id} 200']) {
      expect([...api.seen], s).toContain(s)
    }
  })
})

describe('HTTP API, writes on a node that cannot seal', () => {
  it('a node whose key is not a signatory refuses writes (409, nothing stored) until the key is added, at once, without a restart', async () => {
    const { chain, dir } = await newTestChain({ key: alice })
    chain.close()
    const b = await startNode(dir, { name: 'bob', key: bob, http: HTTP, ingest: FAST_SEAL })
    const burl = b.httpUrl ?? ''
    const token = { authorization: `Bearer ${TokenStore.of(dir).create({ scope: 'write' }).token}`, 'content-type': 'application/json' }
    const refused = await http(burl + 'api/v1/records/r', { method: 'POST', headers: token, body: '[{"a": 1}]' })
    expect([refused.status, errorOf(refused).code]).toEqual([409, 'INGEST_NOT_SIGNATORY'])
    expect(((await http(burl + 'api/v1/status')).json as { ingest: { pending_rows: number } }).ingest.pending_rows).toBe(0)
    // alice adds bob in a block made by another process on the same directory.
    const other = Chain.open(dir)
    await signImport(other, makeSqlite(join(tmpDir(), 'k.db'), 1, 0), alice, { keyOps: [signKeyOp(alice, other.chainId, 'A', bob.publicKey)] })
    other.close()
    await waitFor(async () => (await http(burl + 'api/v1/records/r', { method: 'POST', headers: token, body: '[{"a": 1}]' })).status === 202, { what: 'bob\'s node to take writes' })
    await waitFor(async () => ((await postJson(burl + 'api/v1/query', { sql: 'SELECT count(*) AS n FROM r' })).text) === '{"n":1}\n', { what: 'bob to seal the row' })
    expect(b.chain.tip().signer).toBe(bob.id)
    await stopNode(b)
  })

  it('petal serve takes no writes (409 API_READ_ONLY) and keeps no receipts', async () => {
    const { chain, dir } = await newTestChain({ key: alice })
    chain.close()
    const { server, url: surl } = await startTestApi({ dir })
    try {
      const token = { authorization: `Bearer ${TokenStore.of(dir).create({ scope: 'write' }).token}`, 'content-type': 'application/json' }
      const r = await http(surl + 'api/v1/records/r', { method: 'POST', headers: token, body: '[{"a": 1}]' })
      expect([r.status, errorOf(r).code]).toEqual([409, 'API_READ_ONLY'])
      // Without a token, too: a hint to create one would only lead to this refusal.
      for (const [method, path, body] of [['POST', 'records/r', '[{"a": 1}]'], ['PUT', 'tables/r', '{"sql": "CREATE TABLE r (a)"}']] as const) {
        const anonymous = await http(surl + 'api/v1/' + path, { method, headers: { 'content-type': 'application/json' }, body })
        expect([anonymous.status, errorOf(anonymous).code]).toEqual([409, 'API_READ_ONLY'])
      }
      expect(errorOf(await http(surl + 'api/v1/receipts/abc')).code).toBe('API_READ_ONLY')
      expect(((await http(surl + 'api/v1/status')).json as { api: { writes: boolean }, ingest: unknown })).toMatchObject({ api: { writes: false }, ingest: null })
    } finally {
      await server.close()
    }
  })
})
