import { afterAll, describe, expect, it } from 'vitest'
import { request, type IncomingMessage } from 'node:http'
import { join } from 'node:path'
import { signImport } from '../../src/chain/index.js'
import { startTestApi } from '../helpers/api.js'
import { fixtureKey, makeSqlite, newTestChain } from '../helpers/chain.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'

// GET /events against GET /status (docs/api.md): both read the index, where a new tip is seen
// first; the stream's watcher looks at it every watchMs or when the node pokes it after an import
// (during sync, after the group's flush), so it may lag the index.
const cleanup: Array<() => unknown> = []
afterAll(async () => { for (const f of cleanup.splice(0).reverse()) await f() })

describe('GET /api/v1/events after GET /api/v1/status', () => {
  it('starts a new stream at the tip the next event follows: no tip twice, none it did not change from (mend31)', async () => {
    const alice = fixtureKey('alice')
    const t = await newTestChain({ key: alice })
    cleanup.push(() => { t.chain.close() })
    // No poll in this test: the watcher looks only when poked, as after a node's import.
    const { server, url } = await startTestApi({ dir: t.dir, watchMs: 3_600_000 })
    cleanup.push(async () => { await server.close() })
    const work = tmpDir()
    await signImport(t.chain, makeSqlite(join(work, 'b1.db'), 3, 1), alice)
    // The index has block 1, the watcher still genesis: /status says 1.
    const status = await (await fetch(url + 'api/v1/status')).json() as { tip: { height: number } }
    expect(status.tip.height).toBe(1)

    const events: Array<{ event: string, height: number }> = []
    const req = request(url + 'api/v1/events', { agent: false })
    const res = await new Promise<IncomingMessage>((resolve, reject) => { req.on('response', resolve); req.on('error', reject); req.end() })
    cleanup.push(() => { res.destroy() })
    res.setEncoding('utf8')
    let buf = ''
    res.on('data', (s: string) => {
      buf += s
      for (let i; (i = buf.indexOf('\n\n')) >= 0; buf = buf.slice(i + 2)) {
        const block = buf.slice(0, i)
        const event = /^event: (.*)$/m.exec(block)?.[1]
        const data = /^data: (.*)$/m.exec(block)?.[1]
        if (event !== undefined && data !== undefined) events.push({ event, height: (JSON.parse(data) as { height: number }).height ?? -1 })
      }
    })
    await waitFor(() => events.length >= 1, { what: 'the first tip event' })
    // The watcher catches up (the node's poke after the import's flush), then block 2 comes.
    server.poke()
    await signImport(t.chain, makeSqlite(join(work, 'b2.db'), 3, 2), alice)
    server.poke()
    await waitFor(() => events.some(e => e.height === 2), { what: 'the tip event of block 2' })
    // The stream said block 1 once, at connect: the watcher's catching up was no change for it.
    expect(events).toEqual([{ event: 'tip', height: 1 }, { event: 'tip', height: 2 }])
  })
})
