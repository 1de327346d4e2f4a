import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readdirSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import type { ApiServer } from '../../src/api/index.js'
import { http, startTestApi, type HttpResult } from '../helpers/api.js'
import { exchange, leanChain, raw, type Cleanup } from '../helpers/lean-records.js'

// Every reply of the HTTP API and the explorer carries X-Content-Type-Options: nosniff, errors
// included (mend36: before, only the explorer's files and the query and export streams had it, so
// a browser could sniff an error's JSON, which echoes parts of the request, as HTML). Through real
// HTTP on loopback: Fastify's routes, its error and not-found handlers, the router's refusals, the
// hijacked streams, the lean lane of POST /records (node:http's and the strict reader's) and the
// answers written on the socket to a request that is not HTTP.

const cleanup: Cleanup = []
let url: string
let port: number
let token: string
let readToken: string

beforeAll(async () => {
  const c = await leanChain(cleanup)
  token = c.token
  readToken = c.readToken
  let server: ApiServer
  ;({ server, url } = await startTestApi({ dir: c.dir, ingest: c.ingest }))
  cleanup.push(async () => { await server.close() })
  port = Number(new URL(url).port)
})
afterAll(async () => { for (const f of cleanup.splice(0).reverse()) await f() })

const nosniff = (r: HttpResult): unknown => r.headers['x-content-type-options']

async function post (path: string, body: string, type = 'application/json', auth = token): Promise<HttpResult> {
  return await http(url + path, { method: 'POST', headers: { 'content-type': type, authorization: `Bearer ${auth}`, 'content-length': String(Buffer.byteLength(body)) }, body })
}

/** The headers of each raw answer in `text`, lower-cased. */
function rawHeads (text: string): string[] {
  return text.split(/(?=HTTP\/1\.1 \d{3} )/).filter(a => a !== '').map(a => (a.split('\r\n\r\n')[0] ?? '').toLowerCase())
}

describe('X-Content-Type-Options: nosniff on every reply', () => {
  it('Fastify\'s answers: reads, errors, not found, the router\'s refusals, streams, files, the explorer', async () => {
    const asset = readdirSync(join(import.meta.dirname, '..', '..', 'dist', 'web', 'assets')).find(n => n.endsWith('.js')) ?? ''
    const cases: Array<[string, () => Promise<HttpResult>, number]> = [
      ['status', async () => await http(url + 'api/v1/status'), 200],
      ['a block', async () => await http(url + 'api/v1/blocks/0'), 200],
      ['a block above the tip', async () => await http(url + 'api/v1/blocks/99'), 404],
      ['a bad query string', async () => await http(url + 'api/v1/blocks?limit=abc'), 400],
      ['no such endpoint', async () => await http(url + 'api/v1/nothing'), 404],
      ['a path part too long', async () => await http(url + 'api/v1/blocks/' + 'a'.repeat(5000)), 400],
      ['bad percent-encoding', async () => await http(url + 'api/v1/blocks/%E0%A4%A'), 400],
      ['the block file', async () => await http(url + 'api/v1/blocks/0/file'), 200],
      ['a range past its end', async () => await http(url + 'api/v1/blocks/0/file', { headers: { range: 'bytes=999999-' } }), 416],
      ['a query', async () => await post('api/v1/query', '{"sql": "SELECT 1 AS one"}', 'application/json', readToken), 200],
      ['a refused query', async () => await post('api/v1/query', '{"sql": "DELETE FROM x"}', 'application/json', readToken), 403],
      ['events (HEAD)', async () => await http(url + 'api/v1/events', { method: 'HEAD' }), 200],
      ['a write without a token', async () => await http(url + 'api/v1/records/t', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '[]' }), 401],
      ['a form body', async () => await post('api/v1/records/t', 'a=1', 'application/x-www-form-urlencoded'), 415],
      ['metrics', async () => await http(url + 'metrics'), 200],
      ['the explorer', async () => await http(url), 200],
      ['an explorer script', async () => await http(url + 'assets/' + asset), 200],
      ['no such explorer file', async () => await http(url + 'assets/nothing.js'), 404]
    ]
    const missing: string[] = []
    for (const [what, send, status] of cases) {
      const r = await send()
      expect(r.status, what).toBe(status)
      if (nosniff(r) !== 'nosniff') missing.push(`${what} (${r.status})`)
    }
    // Before: every case but the explorer's two files and the query's 200.
    expect(missing).toEqual([])
  })

  it('the lean lane of POST /records: node:http\'s and the strict reader\'s, taken and refused', async () => {
    const ok = await post('api/v1/records/lean', '[{"a": 1}]')
    const refused = await post('api/v1/records/lean', '[{"a": "text"}]')
    expect([ok.status, nosniff(ok), refused.status, nosniff(refused)]).toEqual([202, 'nosniff', 422, 'nosniff'])
    const head = ['Host: 127.0.0.1', `Authorization: Bearer ${token}`, 'Content-Type: application/json']
    const one = (body: string): string => raw('POST /api/v1/records/lean HTTP/1.1', [...head, `Content-Length: ${body.length}`], body)
    const got = await exchange(port, [one('[{"a": 2}]') + one('[{"a": "text"}]') + one('[{"a": 3}]')], { end: true })
    const heads = rawHeads(got.text)
    expect(heads.map(h => h.slice(0, 12))).toEqual(['http/1.1 202', 'http/1.1 422', 'http/1.1 202'])
    for (const h of heads) expect(h).toContain('\r\nx-content-type-options: nosniff\r\n')
  })

  it('answers written on the socket: a request that is not HTTP, CONNECT', async () => {
    for (const request of ['NOT HTTP AT ALL\r\n\r\n', 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n']) {
      const text = await new Promise<string>((resolve, reject) => {
        const s = connect(port, '127.0.0.1', () => { s.write(request) })
        let got = ''
        s.setEncoding('utf8')
        s.on('data', (d: string) => { got += d })
        s.on('error', reject)
        s.on('close', () => { resolve(got) })
      })
      const heads = rawHeads(text)
      expect(heads, request).toHaveLength(1)
      expect(heads[0], request).toContain('\r\nx-content-type-options: nosniff\r\n')
    }
  })
})
