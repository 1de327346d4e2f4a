import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connect, type Socket } from 'node:net'
import { request } from 'node:http'
import { join } from 'node:path'
import { ApiError, startApiServer, TokenStore, type ApiServer } from '../../src/api/index.js'
import { Chain, signImport } from '../../src/chain/index.js'
import { errorOf, http, postJson, startTestApi, type HttpResult } from '../helpers/api.js'
import { fixtureKey, makeSqlite, newTestChain } from '../helpers/chain.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'

const alice = fixtureKey('alice')
let chain: Chain
let dir: string
const servers: ApiServer[] = []

async function serve (o: Parameters<typeof startTestApi>[0] extends infer T ? Omit<T & object, 'dir'> : never = {}): Promise<string> {
  const { server, url } = await startTestApi({ dir, ...o })
  servers.push(server)
  return url
}

beforeAll(async () => {
  const t = await newTestChain({ key: alice })
  chain = t.chain
  dir = t.dir
  await signImport(chain, makeSqlite(join(tmpDir(), 'b1.db'), 20, 1), alice)
})

afterAll(async () => {
  for (const s of servers.splice(0)) await s.close()
  chain?.close()
})

/** Send raw bytes on a fresh connection; resolves with everything received once the server closes it. */
async function raw (port: number, send: (s: Socket) => void): Promise<string> {
  return await new Promise<string>((resolve, reject) => {
    const s = connect(port, '127.0.0.1')
    let got = ''
    s.setEncoding('utf8')
    s.on('data', (d: string) => { got += d })
    s.on('error', reject)
    s.on('close', () => { resolve(got) })
    s.on('connect', () => { send(s) })
  })
}

function portOf (url: string): number { return Number(new URL(url).port) }

describe('HTTP API security: tokens and exposure', () => {
  it('refuses to listen beyond loopback without --http-expose (and never binds)', async () => {
    await expect(startApiServer({ dir, address: { host: '0.0.0.0', port: 0 } })).rejects.toMatchObject({ code: 'API_EXPOSE_REQUIRED' })
    await expect(startApiServer({ dir, address: { host: '192.0.2.1', port: 0 } })).rejects.toBeInstanceOf(ApiError)
  })

  it('exposed: reads need a token (401 with WWW-Authenticate otherwise); created and revoked tokens count at once', async () => {
    const url = await serve({ access: { expose: true } })
    const store = TokenStore.of(dir) // as `petal tokens` in another process would
    const cases: Array<[Record<string, string>, string]> = [
      [{}, 'needs a token'],
      [{ authorization: 'Basic YWxpY2U6c2VjcmV0' }, 'not "Bearer'],
      [{ authorization: 'Bearer' }, 'not "Bearer'],
      [{ authorization: 'Bearer nonsense' }, 'unknown or revoked'],
      [{ authorization: `Bearer petal_${'0'.repeat(12)}_${'A'.repeat(43)}` }, 'unknown or revoked']
    ]
    for (const [headers, msg] of cases) {
      const r = await http(url + 'api/v1/status', { headers })
      expect(r.status, JSON.stringify(headers)).toBe(401)
      expect(r.headers['www-authenticate']).toBe('Bearer realm="petal"')
      const e = errorOf(r)
      expect(e.code).toBe('API_UNAUTHORIZED')
      expect(e.message).toContain(msg)
    }
    const { token, info } = store.create({ scope: 'read', name: 'reader' })
    const ok = await http(url + 'api/v1/status', { headers: { authorization: `Bearer ${token}` } })
    expect(ok.status).toBe(200)
    // A token that differs in its last character is another token.
    const near = token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A')
    expect((await http(url + 'api/v1/status', { headers: { authorization: `Bearer ${near}` } })).status).toBe(401)
    const q = await postJson(url + 'api/v1/query', { sql: 'SELECT 1 AS x' }, { authorization: `bearer ${token}` })
    expect(q.text).toBe('{"x":1}\n')
    expect((await http(url + 'metrics')).status).toBe(401)
    // The document and the page for people are public.
    expect((await http(url + 'api/v1/openapi.json')).status).toBe(200)
    expect((await http(url)).status).toBe(200)
    store.revoke(info.id)
    expect((await http(url + 'api/v1/status', { headers: { authorization: `Bearer ${token}` } })).status).toBe(401)
    expect(store.list().map(t => t.id)).not.toContain(info.id)
  })

  it('exposed with public reads: no token needed to read', async () => {
    const url = await serve({ access: { expose: true, publicRead: true } })
    expect((await http(url + 'api/v1/blocks/1')).status).toBe(200)
  })

  it('on loopback, a request addressed to another host is refused (no DNS rebinding); loopback names pass', async () => {
    const url = await serve()
    const port = portOf(url)
    for (const host of ['evil.example', `evil.example:${port}`, '192.168.1.5', '[2001:db8::1]:80']) {
      const r = await http(url + 'api/v1/status', { headers: { host } })
      expect(r.status, host).toBe(403)
      expect(errorOf(r).code).toBe('API_HOST_REFUSED')
    }
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, 'app.localhost']) {
      expect((await http(url + 'api/v1/status', { headers: { host } })).status, host).toBe(200)
    }
    const missing = await http(url + 'nope', { headers: { host: 'evil.example' } })
    expect(errorOf(missing).code).toBe('API_HOST_REFUSED')
  })

  it('a corrupt token file is a coded 503 for requests that need a token, never a 500', async () => {
    const other = await newTestChain({ key: alice })
    other.chain.close()
    const { writeFileSync, mkdirSync } = await import('node:fs')
    mkdirSync(join(other.dir, 'api'))
    writeFileSync(join(other.dir, 'api', 'tokens.json'), '{"tokens": [')
    const { server, url } = await startTestApi({ dir: other.dir, access: { expose: true } })
    servers.push(server)
    const r = await http(url + 'api/v1/status', { headers: { authorization: 'Bearer x' } })
    expect([r.status, errorOf(r).code]).toEqual([503, 'API_TOKENS_CORRUPT'])
  })
})

describe('HTTP API: readers never wait for writers', () => {
  it('starts and answers while another connection holds the index\'s write lock (a long import or seal)', async () => {
    const other = Chain.open(dir)
    try {
      await other.index.withWriteLock(async () => {
        // Longer than SQLite's 5 s busy timeout would be, had the server asked for the lock.
        const { server, url } = await startTestApi({ dir })
        servers.push(server)
        const r = await http(url + 'api/v1/status')
        expect(r.status).toBe(200)
        expect((await http(url + 'api/v1/blocks/1')).status).toBe(200)
      })
    } finally {
      other.close()
    }
  })
})

describe('HTTP API security: hostile clients', () => {
  it('a body over the limit is a 413, with or without a Content-Length', async () => {
    const url = await serve({ limits: { bodyBytes: 1024 } })
    const big = JSON.stringify({ sql: `SELECT '${'x'.repeat(4000)}'` })
    const r = await http(url + 'api/v1/query', { method: 'POST', headers: { 'content-type': 'application/json' }, body: big })
    expect([r.status, errorOf(r).code]).toEqual([413, 'API_BODY_TOO_LARGE'])
    const chunked = await new Promise<HttpResult>((resolve, reject) => {
      const req = request(url + 'api/v1/query', { method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' }, agent: false }, res => {
        const parts: Buffer[] = []
        res.on('data', (c: Buffer) => parts.push(c))
        res.on('end', () => { const text = Buffer.concat(parts).toString(); resolve({ status: res.statusCode ?? 0, headers: res.headers, trailers: {}, body: Buffer.concat(parts), text, json: JSON.parse(text), aborted: false }) })
      })
      req.on('error', reject)
      for (let i = 0; i < 8; i++) req.write(big.slice(i * 500, (i + 1) * 500))
      req.end()
    })
    expect([chunked.status, errorOf(chunked).code]).toEqual([413, 'API_BODY_TOO_LARGE'])
    expect((await http(url + 'api/v1/status')).status).toBe(200)
  })

  it('a slowloris client (headers never finished) and a stalled body are cut with 408, while others are served', async () => {
    const url = await serve({ limits: { headersTimeoutMs: 400, requestTimeoutMs: 800 } })
    const port = portOf(url)
    const slow = raw(port, s => { s.write('GET /api/v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: a') })
    const stalled = raw(port, s => { s.write('POST /api/v1/query HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"sql":') })
    expect((await http(url + 'api/v1/status')).status).toBe(200)
    for (const got of [await slow, await stalled]) {
      expect(got).toMatch(/^HTTP\/1\.1 408 /)
      expect(got).toContain('"code":"API_REQUEST_TIMEOUT"')
    }
  })

  it('oversized headers and bytes that are not HTTP get coded errors', async () => {
    const url = await serve()
    const port = portOf(url)
    const huge = await raw(port, s => { s.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`) })
    expect(huge).toMatch(/^HTTP\/1\.1 431 /)
    expect(huge).toContain('"code":"API_HEADERS_TOO_LARGE"')
    const junk = await raw(port, s => { s.write('\u0000\u0001garbage\r\n\r\n') })
    expect(junk).toMatch(/^HTTP\/1\.1 400 /)
    expect(junk).toContain('"code":"API_MALFORMED_REQUEST"')
    expect((await http(url + 'api/v1/status')).status).toBe(200)
  })

  it('more statements than the sandboxes and queue hold get 429 API_BUSY with Retry-After; the rest run', async () => {
    const url = await serve({ limits: { concurrentQueries: 2, queuedQueries: 3 } })
    const sql = 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 300000) SELECT count(*) AS n FROM c'
    const rs = await Promise.all(Array.from({ length: 20 }, async () => await postJson(url + 'api/v1/query', { sql })))
    const ok = rs.filter(r => r.status === 200)
    const busy = rs.filter(r => r.status === 429)
    expect(ok.length + busy.length).toBe(20)
    expect(ok.length).toBeGreaterThanOrEqual(5)
    for (const r of ok) expect(r.text).toBe('{"n":300000}\n')
    expect(busy.length).toBeGreaterThan(0)
    for (const r of busy) {
      expect(errorOf(r).code).toBe('API_BUSY')
      expect(r.headers['retry-after']).toBe('1')
    }
  })

  it('a client that goes away in the middle of an answer frees its sandbox; the next statement runs', async () => {
    const url = await serve({ limits: { concurrentQueries: 1, queuedQueries: 0 } })
    await new Promise<void>((resolve, reject) => {
      const req = request(url + 'api/v1/query', { method: 'POST', headers: { 'content-type': 'application/json' }, agent: false }, res => {
        res.once('data', () => { res.destroy(); resolve() })
      })
      req.on('error', reject)
      req.end(JSON.stringify({ sql: 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 5000000) SELECT x, printf(\'%050d\', x) FROM c', timeout_ms: 60000 }))
    })
    await waitFor(async () => /^petal_queries_running 0$/m.test((await http(url + 'metrics')).text), { what: 'the aborted statement to be released' })
    const next = await postJson(url + 'api/v1/query', { sql: 'SELECT 2 AS y' })
    expect(next.text).toBe('{"y":2}\n')
  })

  it('1,000 concurrent requests of every kind: each gets its answer or its coded error, and the node keeps serving', async () => {
    // Slow clients are the slowloris test's business: here a loaded test machine may take long
    // to get to a connection's headers, which must not count against the server.
    const url = await serve({ limits: { headersTimeoutMs: 120_000 } })
    const kinds: Array<() => Promise<HttpResult>> = [
      async () => await http(url + 'api/v1/status'),
      async () => await http(url + 'api/v1/blocks/1'),
      async () => await http(url + 'api/v1/blocks/1/file', { headers: { range: 'bytes=0-99' } }),
      async () => await http(url + 'api/v1/blocks/1/tables/t/rows?limit=5'),
      async () => await http(url + 'api/v1/blocks/999'),
      async () => await http(url + 'api/v1/query', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"sql": ' }),
      async () => await postJson(url + 'api/v1/query', { sql: 'SELECT count(*) AS n FROM t' }),
      async () => await http(url + 'api/v1/nothing-here'),
      async () => await http(url + 'api/v1/status', { headers: { host: 'evil.example' } })
    ]
    const expected: Array<[number[], string | undefined]> = [
      [[200], undefined], [[200], undefined], [[206], undefined], [[200], undefined], [[404], 'API_BLOCK_NOT_FOUND'],
      [[400], 'API_MALFORMED_JSON'], [[200, 429], undefined], [[404], 'API_NOT_FOUND'], [[403], 'API_HOST_REFUSED']
    ]
    const rs = await Promise.all(Array.from({ length: 1000 }, async (_, i) => ({ i, r: await (kinds[i % kinds.length] as () => Promise<HttpResult>)() })))
    const tally = new Map<string, number>()
    for (const { i, r } of rs) {
      const [statuses, code] = expected[i % kinds.length] as [number[], string | undefined]
      expect(statuses, `request ${i}: ${r.status} ${r.text.slice(0, 200)}`).toContain(r.status)
      if (code !== undefined) expect(errorOf(r).code).toBe(code)
      if (r.status === 429) expect(errorOf(r).code).toBe('API_BUSY')
      if (i % kinds.length === 6 && r.status === 200) expect(r.text).toBe('{"n":20}\n')
      tally.set(String(r.status), (tally.get(String(r.status)) ?? 0) + 1)
    }
    expect(tally.get('500')).toBeUndefined()
    expect((await http(url + 'api/v1/status')).status).toBe(200)
    expect((await postJson(url + 'api/v1/query', { sql: 'SELECT 3 AS z' })).text).toBe('{"z":3}\n')
  })
})
