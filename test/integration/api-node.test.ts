import { afterAll, describe, expect, it } from 'vitest'
import { request, type IncomingMessage } from 'node:http'
import { join } from 'node:path'
import { http, OpenApiChecker, postJson } from '../helpers/api.js'
import { fixtureKey, makeSqlite, newTestChain } from '../helpers/chain.js'
import { addrOf, cloneGenesis, startNode, stopAll, waitConverged } from '../helpers/network.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'

afterAll(stopAll)

const alice = fixtureKey('alice')
const bob = fixtureKey('bob')
const HTTP = { address: { host: '127.0.0.1', port: 0 } }

describe('HTTP API on a running node', () => {
  it('reports the node (role, peers, sync), streams tips of blocks from peers, counts imports, and a query sees a block as soon as it is imported', async () => {
    const { chain, dir } = await newTestChain({ key: alice })
    const other = await cloneGenesis(chain)
    chain.close()
    const a = await startNode(dir, { name: 'A', key: alice, http: HTTP })
    // B holds a key no block has added: a follower all the same.
    const b = await startNode(other, { name: 'B', key: bob, bootstrap: [addrOf(a)], http: HTTP })
    const urlA = a.httpUrl ?? ''
    const urlB = b.httpUrl ?? ''
    expect(urlB).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/)
    await waitFor(async () => ((await http(urlB + 'api/v1/status')).json as { node: { peers: number } }).node.peers >= 1, { what: 'B to see its peer' })
    const api = new OpenApiChecker((await http(urlA + 'api/v1/openapi.json')).json as ConstructorParameters<typeof OpenApiChecker>[0])
    const ra = await http(urlA + 'api/v1/status')
    api.check('GET', '/api/v1/status', ra)
    const sa = ra.json as { node: { role: string, peer_id: string, listen: string[] } }
    // The key it seals with, and its standing at the tip (api54: the API did not say which key the node holds).
    expect(sa.node).toMatchObject({ role: 'signatory', peer_id: a.peerId, listen: a.listenAddrs(), signing_key: { id: alice.id, active: true, added_at: 0, revoked_at: null } })
    const rb = await http(urlB + 'api/v1/status')
    api.check('GET', '/api/v1/status', rb)
    const sb = rb.json as { node: { role: string, sync: { state: string } } }
    expect(sb.node).toMatchObject({ role: 'follower', signing_key: { id: bob.id, active: false, added_at: null, revoked_at: null } })

    // Follow B's events while A publishes.
    const tips: Array<{ height: number, hash: string }> = []
    const res = await new Promise<IncomingMessage>((resolve, reject) => { const r = request(urlB + 'api/v1/events', { agent: false }); r.on('response', resolve); r.on('error', reject); r.end() })
    res.setEncoding('utf8')
    let buf = ''
    res.on('data', (s: string) => {
      buf += s
      for (const m of buf.matchAll(/event: tip\ndata: (.*)\n\n/g)) tips.push(JSON.parse(m[1] ?? '{}') as { height: number, hash: string })
      buf = buf.slice(buf.lastIndexOf('\n\n') + 2)
    })
    await waitFor(() => tips.length === 1, { what: 'the first tip event' })
    const published = await a.publish(makeSqlite(join(tmpDir(), 'p.db'), 7, 3))
    await waitConverged([a, b], { height: 1 })
    await waitFor(() => tips.some(t => t.hash === published.block.hash), { what: 'B\'s tip event for A\'s block' })
    // No wait for the mirror: the query brings it up to the tip first.
    expect((await postJson(urlB + 'api/v1/query', { sql: 'SELECT count(*) AS n FROM t' })).text).toBe('{"n":7}\n')
    const metrics = (await http(urlB + 'metrics')).text
    expect(metrics).toMatch(/^petal_blocks_imported_total 1$/m)
    expect(metrics).toMatch(/^petal_peers 1$/m)
    expect(metrics).toMatch(/^petal_tip_height 1$/m)
    res.destroy()
  })

  it('a node whose HTTP port is taken does not start, and says so', async () => {
    const { chain, dir } = await newTestChain({ key: alice })
    chain.close()
    const first = await startNode(dir, { name: 'first', http: HTTP })
    const port = Number(new URL(first.httpUrl ?? '').port)
    // Started without a key: it says it has none.
    expect(((await http(first.httpUrl + 'api/v1/status')).json as { node: { role: string, signing_key: unknown } }).node).toMatchObject({ role: 'follower', signing_key: null })
    const other = await newTestChain({ key: alice })
    other.chain.close()
    await expect(startNode(other.dir, { name: 'second', http: { address: { host: '127.0.0.1', port } } })).rejects.toMatchObject({ code: 'API_LISTEN_FAILED' })
  })
})
