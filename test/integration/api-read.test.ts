import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHash } from 'node:crypto'
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { join } from 'node:path'
import { Chain, importBlock, signImport } from '../../src/chain/index.js'
import { readSeal } from '../../src/storage/index.js'
import { errorOf, http, type OpenApiChecker } from '../helpers/api.js'
import { openReadFixture, type ReadFixture } from '../helpers/api-read-fixture.js'
import { fixtureKey, makeSqlite } from '../helpers/chain.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'

const alice = fixtureKey('alice')

let f: ReadFixture
let chain: Chain
let branch: Chain
let url: string
let api: OpenApiChecker
const call: ReadFixture['call'] = async (method, docPath, path, o) => await f.call(method, docPath, path, o)

beforeAll(async () => {
  f = await openReadFixture()
  ;({ chain, branch, url, api } = f)
})

afterAll(async () => {
  await f?.close()
})

describe('HTTP API, reads', () => {
  it('GET /api/v1/status: chain, tip, counts, signatories; no node under serve', async () => {
    const r = await call('GET', '/api/v1/status', '/api/v1/status')
    expect(r.status).toBe(200)
    const s = r.json as { chain_id: string, tip: { height: number, hash: string }, blocks: number, side_blocks: number, signatories: { active: number }, node: unknown }
    expect(s.chain_id).toBe(chain.chainId)
    expect(s.tip).toMatchObject({ height: 3, hash: chain.tip().hash })
    expect(s.blocks).toBe(4)
    expect(s.side_blocks).toBe(1)
    expect(s.signatories.active).toBe(1)
    expect(s.node).toBeNull()
    expect(r.json).toMatchObject({ consensus: { key_op_quorum: 1 } })
  })

  it('GET /api/v1/blocks pages newest first with next_before, down to genesis', async () => {
    const seen: number[] = []
    let before: number | null | undefined
    for (;;) {
      const r = await call('GET', '/api/v1/blocks', `/api/v1/blocks?limit=3${before === undefined ? '' : `&before=${before}`}`)
      expect(r.status).toBe(200)
      const page = r.json as { blocks: Array<{ height: number, hash: string, table_count: number }>, next_before: number | null }
      seen.push(...page.blocks.map(b => b.height))
      for (const b of page.blocks) expect(b.hash).toBe(chain.get(b.height)?.hash)
      if (page.next_before === null) break
      before = page.next_before
    }
    expect(seen).toEqual([3, 2, 1, 0])
    const b2 = (await call('GET', '/api/v1/blocks', '/api/v1/blocks?before=3&limit=1')).json as { blocks: Array<{ height: number, table_count: number }> }
    expect(b2.blocks).toMatchObject([{ height: 2, table_count: 3, row_count: 8 }])
    expect(((await call('GET', '/api/v1/blocks', '/api/v1/blocks?before=0')).json as { blocks: unknown[] }).blocks).toEqual([])
  })

  it('GET /api/v1/blocks refuses bad parameters with API_BAD_REQUEST', async () => {
    for (const q of ['limit=0', 'limit=1001', 'limit=abc', 'before=-1', 'colour=red']) {
      const r = await call('GET', '/api/v1/blocks', `/api/v1/blocks?${q}`)
      expect(r.status, q).toBe(400)
      expect(errorOf(r).code).toBe('API_BAD_REQUEST')
    }
  })

  it('GET /api/v1/blocks/{ref}: by height, hash and prefix; side blocks by hash; tables and key operations', async () => {
    const b2 = chain.get(2)
    const byHeight = (await call('GET', '/api/v1/blocks/{ref}', '/api/v1/blocks/2')).json as Record<string, unknown>
    const byHash = (await call('GET', '/api/v1/blocks/{ref}', `/api/v1/blocks/${b2?.hash ?? ''}`)).json
    // A reference of digits only is a height, so the prefix must have a letter in it.
    let n = 10
    while (/^\d+$/.test(b2?.hash.slice(0, n) ?? '')) n++
    const byPrefix = (await call('GET', '/api/v1/blocks/{ref}', `/api/v1/blocks/${b2?.hash.slice(0, n) ?? ''}`)).json
    expect(byHash).toEqual(byHeight)
    expect(byPrefix).toEqual(byHeight)
    expect(byHeight).toMatchObject({ height: 2, hash: b2?.hash, seal: b2?.seal, rows_root: b2?.rowsRoot, signer: alice.id, signer_public_key: alice.publicKey.hex, canonical: true, file_url: `/api/v1/blocks/${b2?.hash ?? ''}/file` })
    const tables = byHeight.tables as Array<{ name: string, rows: number, root: string, rows_url: string }>
    expect(tables.map(t => [t.name, t.rows])).toEqual(chain.index.tablesOf(b2?.hash ?? '').map(t => [t.name, t.rows]))
    const odd = tables.find(t => t.name.startsWith('Odd'))
    expect(odd?.rows_url).toBe(`/api/v1/blocks/${b2?.hash ?? ''}/tables/${encodeURIComponent(odd?.name ?? '')}/rows`)
    const side = chain.index.sideBlocks()[0]
    const s = (await call('GET', '/api/v1/blocks/{ref}', `/api/v1/blocks/${side?.hash ?? ''}`)).json as { canonical: boolean, height: number }
    expect(s).toMatchObject({ canonical: false, height: 1 })
    const genesis = (await call('GET', '/api/v1/blocks/{ref}', '/api/v1/blocks/0')).json as { key_ops: Array<{ op: string, key_id: string }> }
    expect(genesis.key_ops).toEqual([expect.objectContaining({ op: 'add', key_id: alice.id })])
  })

  it('GET /api/v1/blocks/{ref}: 404 for an unknown block, 400 for a malformed reference', async () => {
    for (const ref of ['99', 'ab'.repeat(32), 'deadbeef']) {
      const r = await call('GET', '/api/v1/blocks/{ref}', `/api/v1/blocks/${ref}`)
      expect(r.status, ref).toBe(404)
      expect(errorOf(r).code).toBe('API_BLOCK_NOT_FOUND')
    }
    for (const ref of ['xyz', '1.5', 'DEADBEEF00', '-1']) {
      const r = await call('GET', '/api/v1/blocks/{ref}', `/api/v1/blocks/${ref}`)
      expect(r.status, ref).toBe(400)
      expect(errorOf(r).code).toBe('API_BAD_REQUEST')
    }
  })

  it('GET /api/v1/blocks/{ref}/file: the exact bytes, hash, seal and height headers, ETag, caching', async () => {
    for (const b of [chain.get(2), chain.index.sideBlocks()[0]]) {
      const r = await call('GET', '/api/v1/blocks/{ref}/file', `/api/v1/blocks/${b?.hash ?? ''}/file`)
      expect(r.status).toBe(200)
      expect(createHash('sha256').update(r.body).digest('hex')).toBe(b?.hash)
      expect(r.headers).toMatchObject({
        'content-type': 'application/vnd.sqlite3',
        'petal-block-hash': b?.hash,
        'petal-seal': b?.seal,
        'petal-height': String(b?.height),
        etag: `"${b?.hash ?? ''}"`,
        'cache-control': 'public, max-age=31536000, immutable',
        'content-length': String(b?.size)
      })
    }
    const byHeight = await call('GET', '/api/v1/blocks/{ref}/file', '/api/v1/blocks/2/file')
    expect(byHeight.headers['cache-control']).toBe('no-cache') // a reorg can change the block at a height
    expect(byHeight.body).toEqual(readFileSync(chain.dir.blockPath(2)))
    const again = await call('GET', '/api/v1/blocks/{ref}/file', '/api/v1/blocks/2/file', { headers: { 'if-none-match': `"${chain.get(2)?.hash ?? ''}"` } })
    expect(again.status).toBe(304)
    expect(again.body.length).toBe(0)
    const head = await http(url + 'api/v1/blocks/2/file', { method: 'HEAD' })
    expect(head.status).toBe(200)
    expect(head.headers).toMatchObject({ 'content-length': String(chain.get(2)?.size), 'petal-block-hash': chain.get(2)?.hash, etag: `"${chain.get(2)?.hash ?? ''}"` })
    expect(head.body.length).toBe(0)
    const headRange = await http(url + 'api/v1/blocks/2/file', { method: 'HEAD', headers: { range: 'bytes=10-19' } })
    expect([headRange.status, headRange.headers['content-length'], headRange.headers['content-range']]).toEqual([206, '10', `bytes 10-19/${chain.get(2)?.size ?? 0}`])
  })

  it('GET /api/v1/blocks/{ref}/file: byte ranges (206, suffix, If-Range), 416 past the end', async () => {
    const file = readFileSync(chain.dir.blockPath(3))
    const etag = `"${chain.get(3)?.hash ?? ''}"`
    const part = await call('GET', '/api/v1/blocks/{ref}/file', '/api/v1/blocks/3/file', { headers: { range: 'bytes=100-299' } })
    expect(part.status).toBe(206)
    expect(part.headers['content-range']).toBe(`bytes 100-299/${file.length}`)
    expect(part.body).toEqual(file.subarray(100, 300))
    const tail = await call('GET', '/api/v1/blocks/{ref}/file', '/api/v1/blocks/3/file', { headers: { range: 'bytes=-16' } })
    expect(tail.body).toEqual(file.subarray(file.length - 16))
    const open = await call('GET', '/api/v1/blocks/{ref}/file', '/api/v1/blocks/3/file', { headers: { range: `bytes=${file.length - 5}-` } })
    expect(open.body).toEqual(file.subarray(file.length - 5))
    const stale = await call('GET', '/api/v1/blocks/{ref}/file', '/api/v1/blocks/3/file', { headers: { range: 'bytes=0-9', 'if-range': '"0000"' } })
    expect(stale.status).toBe(200)
    expect(stale.body).toEqual(file)
    const fresh = await call('GET', '/api/v1/blocks/{ref}/file', '/api/v1/blocks/3/file', { headers: { range: 'bytes=0-9', 'if-range': etag } })
    expect(fresh.status).toBe(206)
    const several = await call('GET', '/api/v1/blocks/{ref}/file', '/api/v1/blocks/3/file', { headers: { range: 'bytes=0-1,5-6' } })
    expect(several.status).toBe(200)
    const past = await call('GET', '/api/v1/blocks/{ref}/file', '/api/v1/blocks/3/file', { headers: { range: `bytes=${file.length}-` } })
    expect(past.status).toBe(416)
    expect(past.headers['content-range']).toBe(`bytes */${file.length}`)
    expect(errorOf(past).code).toBe('API_RANGE_NOT_SATISFIABLE')
  })

  it('GET /api/v1/blocks/{ref}/file: a damaged file is never served (503 BLOCK_FILE_MISSING), and is again once restored', async () => {
    const path = chain.dir.blockPath(1)
    const good = readFileSync(path)
    const bad = Buffer.from(good)
    bad[bad.length - 1] = (bad[bad.length - 1] ?? 0) ^ 1
    const saved = join(tmpDir(), 'saved.db')
    copyFileSync(path, saved)
    // A different file at the same path (a new inode, as any writer of block files makes).
    writeFileSync(path + '.new', bad)
    const { renameSync } = await import('node:fs')
    renameSync(path + '.new', path)
    try {
      const r = await call('GET', '/api/v1/blocks/{ref}/file', '/api/v1/blocks/1/file')
      expect(r.status).toBe(503)
      expect(errorOf(r).code).toBe('BLOCK_FILE_MISSING')
    } finally {
      copyFileSync(saved, path + '.new')
      renameSync(path + '.new', path)
    }
    const ok = await call('GET', '/api/v1/blocks/{ref}/file', '/api/v1/blocks/1/file')
    expect(ok.status).toBe(200)
    expect(ok.body).toEqual(good)
  })

  it('GET …/tables/{table}/rows: lossless values as the query formats encode them', async () => {
    const r = await call('GET', '/api/v1/blocks/{ref}/tables/{table}/rows', '/api/v1/blocks/2/tables/vals/rows')
    expect(r.status).toBe(200)
    expect(r.text).toContain('[1,1,9223372036854775807,1.0,"x",{"$base64":"AAH+/w=="},null]')
    expect(r.text).toContain('[2,2,-9223372036854775808,0.1,"",{"$base64":""},null]')
    expect(r.json).toMatchObject({ height: 2, table: 'vals', paging: 'rowid', columns: ['rowid', 'id', 'big', 'r', 's', 'b', 'n'], next_after_rowid: null })
    // Table names match as SQLite matches them (case-insensitively), and may hold any character.
    const upper = await call('GET', '/api/v1/blocks/{ref}/tables/{table}/rows', '/api/v1/blocks/2/tables/VALS/rows')
    expect((upper.json as { table: string }).table).toBe('vals')
    const odd = await call('GET', '/api/v1/blocks/{ref}/tables/{table}/rows', `/api/v1/blocks/2/tables/${encodeURIComponent('Odd "Name"; DROP TABLE t; --')}/rows`)
    expect(odd.json).toMatchObject({ rows: [[1, 1]] })
  })

  it('GET …/rows pages a rowid table by rowid and a WITHOUT ROWID table by position, and every row comes once', async () => {
    const got: unknown[][] = []
    let after: string | null | undefined
    do {
      const r = await call('GET', '/api/v1/blocks/{ref}/tables/{table}/rows', `/api/v1/blocks/3/tables/t/rows?limit=100${after === undefined ? '' : `&after_rowid=${after}`}`)
      const page = r.json as { rows: unknown[][], next_after_rowid: string | null }
      got.push(...page.rows)
      after = page.next_after_rowid
    } while (after !== null)
    expect(got.length).toBe(250)
    expect(got.map(r => r[0])).toEqual(Array.from({ length: 250 }, (_, i) => i + 1))
    const kv: unknown[][] = []
    let offset: number | null = 0
    while (offset !== null) {
      const r = await call('GET', '/api/v1/blocks/{ref}/tables/{table}/rows', `/api/v1/blocks/2/tables/kv/rows?limit=2&offset=${offset}`)
      const page = r.json as { rows: unknown[][], paging: string, columns: string[], next_offset: number | null }
      expect(page.paging).toBe('position')
      expect(page.columns).toEqual(['k', 'v'])
      kv.push(...page.rows)
      offset = page.next_offset
    }
    expect(kv.map(r => r[0])).toEqual(['a', 'b', 'c', 'd', 'e']) // primary-key order, the Merkle order
    const wrong = await call('GET', '/api/v1/blocks/{ref}/tables/{table}/rows', '/api/v1/blocks/2/tables/kv/rows?after_rowid=0')
    expect(wrong.status).toBe(400)
    expect(errorOf(wrong).hint).toMatch(/offset/)
  })

  it('GET …/rows: 404 for a missing table (also reserved and SQL-looking names), 400 for bad paging', async () => {
    for (const t of ['nope', '_meta', '_keys', 't; DROP TABLE t', "t' OR '1'='1", 'sqlite_schema']) {
      const r = await call('GET', '/api/v1/blocks/{ref}/tables/{table}/rows', `/api/v1/blocks/2/tables/${encodeURIComponent(t)}/rows`)
      expect(r.status, t).toBe(404)
      expect(errorOf(r).code).toBe('API_TABLE_NOT_FOUND')
    }
    for (const q of ['after_rowid=1e3', 'after_rowid=99999999999999999999', 'limit=5000', 'after_rowid=1&offset=2', 'after_rowid=9223372036854775808']) {
      const r = await call('GET', '/api/v1/blocks/{ref}/tables/{table}/rows', `/api/v1/blocks/3/tables/t/rows?${q}`)
      expect(r.status, q).toBe(400)
      expect(errorOf(r).code).toBe('API_BAD_REQUEST')
    }
    expect(chain.index.tablesOf(chain.get(3)?.hash ?? '').map(t => t.rows)).toEqual([250]) // nothing was dropped
  })

  it('GET /api/v1/signers: at the tip and at a height; 404 above the tip', async () => {
    const r = await call('GET', '/api/v1/signers', '/api/v1/signers')
    expect(r.json).toEqual({ height: 3, active: 1, signers: [{ id: alice.id, public_key: alice.publicKey.hex, added_at: 0, revoked_at: null, active: true, peers: [] }] })
    expect((await call('GET', '/api/v1/signers', '/api/v1/signers?height=0')).json).toMatchObject({ height: 0, active: 1 })
    const above = await call('GET', '/api/v1/signers', '/api/v1/signers?height=9')
    expect(above.status).toBe(404)
    expect(errorOf(above).code).toBe('API_BLOCK_NOT_FOUND')
  })

  it('GET /api/v1/activity: canonical blocks and rows per time bucket, with the totals', async () => {
    const r = await call('GET', '/api/v1/activity', '/api/v1/activity?buckets=4')
    expect(r.status).toBe(200)
    const a = r.json as { from: number, to: number, bucket_seconds: number, buckets: Array<{ start: number, blocks: number, rows: number }>, total_blocks: number, total_rows: number }
    expect(a.buckets).toHaveLength(4)
    expect(a.to - a.from).toBe(4 * a.bucket_seconds)
    expect(a.total_blocks).toBe(4)
    expect(a.total_rows).toBe(10 + 8 + 250) // the side block's rows do not count
    // From block 1's time to now: blocks 1-3 and all their rows are in the buckets.
    expect(a.buckets.reduce((n, b) => n + b.rows, 0)).toBe(268)
    // (The genesis counts too when it was made in block 1's second.)
    const inRange = [0, 1, 2, 3].filter(h => Math.floor(Date.parse(chain.get(h)?.timestamp ?? '') / 1000) >= a.from).length
    expect(inRange).toBeGreaterThanOrEqual(3)
    expect(a.buckets.reduce((n, b) => n + b.blocks, 0)).toBe(inRange)
    const bad = await call('GET', '/api/v1/activity', '/api/v1/activity?from=100&to=50')
    expect(bad.status).toBe(400)
    expect(errorOf(bad).code).toBe('API_BAD_REQUEST')
  })

  it('GET /api/v1/peers: no network under serve', async () => {
    expect((await call('GET', '/api/v1/peers', '/api/v1/peers')).json).toEqual({ network: false, peers: [] })
  })
})

describe('HTTP API, events, metrics, OpenAPI', () => {
  it('GET /api/v1/events streams the tip, then a reorg and the new tip when a longer branch wins; a closed client is cleaned up', async () => {
    const events: Array<{ event: string, data: Record<string, unknown> }> = []
    let buf = ''
    const req = request(url + 'api/v1/events', { agent: false })
    const res = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => { req.on('response', resolve); req.on('error', reject); req.end() })
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toMatch(/^text\/event-stream/)
    res.setEncoding('utf8')
    res.on('data', (s: string) => {
      buf += s
      let i
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i)
        buf = buf.slice(i + 2)
        const event = /^event: (.*)$/m.exec(block)?.[1]
        const data = /^data: (.*)$/m.exec(block)?.[1]
        if (event !== undefined && data !== undefined) events.push({ event, data: JSON.parse(data) as Record<string, unknown> })
      }
    })
    await waitFor(() => events.length >= 1, { what: 'the first tip event' })
    expect(events[0]).toEqual({ event: 'tip', data: expect.objectContaining({ height: 3, hash: chain.tip().hash }) })
    await waitFor(async () => ((await http(url + 'metrics')).text.match(/^petal_event_clients (\d+)$/m)?.[1]) === '1', { what: 'one event client' })

    // The side branch grows to height 4 and is imported: a reorg of depth 3 (fork at genesis).
    const work = tmpDir()
    const oldTip = chain.tip()
    for (let i = 0; i < 3; i++) await signImport(branch, makeSqlite(join(work, `x${i + 2}.db`), 2, 20 + i), alice)
    for (let h = 2; h <= 4; h++) await importBlock(chain, branch.dir.blockPath(h), readSeal(branch.dir.blockPath(h)))
    expect(chain.tip().hash).toBe(branch.tip().hash)
    await waitFor(() => events.some(e => e.event === 'tip' && e.data.hash === branch.tip().hash), { what: 'the new tip event' })
    // At equal height (3') the lower hash may already win, so the switch is reported from the old
    // tip to 3' or to 4', whichever the watcher saw first; then the tip events follow the branch.
    const reorg = events.find(e => e.event === 'reorg')
    const to = reorg?.data.to as { height: number, hash: string } | undefined
    expect(reorg?.data).toEqual({ from: { height: 3, hash: oldTip.hash }, to, fork: { height: 0, hash: chain.chainId }, depth: 3 })
    expect(to?.hash).toBe(branch.get(to?.height ?? -1)?.hash)
    const tipAfter = events.findIndex(e => e.event === 'tip' && e.data.hash === to?.hash)
    expect(events.indexOf(reorg ?? events[0] as never)).toBe(tipAfter - 1)
    expect(events.at(-1)).toEqual({ event: 'tip', data: expect.objectContaining({ height: 4, hash: branch.tip().hash }) })

    // After the reorg, reads follow the new chain, and the old block 3 is still served by hash.
    expect(((await call('GET', '/api/v1/status', '/api/v1/status')).json as { tip: { height: number } }).tip.height).toBe(4)
    const old = await call('GET', '/api/v1/blocks/{ref}/file', `/api/v1/blocks/${oldTip.hash}/file`)
    expect(createHash('sha256').update(old.body).digest('hex')).toBe(oldTip.hash)
    const q = await call('POST', '/api/v1/query', '/api/v1/query', { body: { sql: 'SELECT count(*) AS n FROM t' } })
    expect(q.text).toBe('{"n":10}\n') // blocks 1' (4 rows) + 2'..4' (2 rows each)

    res.destroy()
    await waitFor(async () => ((await http(url + 'metrics')).text.match(/^petal_event_clients (\d+)$/m)?.[1]) === '0', { what: 'the closed client to be gone' })
  })

  it('GET /metrics: Prometheus text with tip height, queries and HTTP requests by route and status', async () => {
    // A query that fails, counted by its code (the query tests run on a server of their own).
    expect(errorOf(await call('POST', '/api/v1/query', '/api/v1/query', { body: { sql: 'SELEC 1' } })).code).toBe('QUERY_SYNTAX')
    const r = await call('GET', '/metrics', '/metrics')
    expect(r.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/)
    expect(r.text).toMatch(/^# TYPE petal_tip_height gauge\npetal_tip_height 4$/m)
    expect(r.text).toMatch(/^petal_http_requests_total\{method="GET",route="\/api\/v1\/blocks\/:ref",status="404"\} \d+$/m)
    expect(r.text).toMatch(/^petal_queries_total\{outcome="QUERY_SYNTAX"\} \d+$/m)
    expect(r.text).toMatch(/^petal_query_duration_seconds_count \d+$/m)
    for (const line of r.text.trim().split('\n')) expect(line).toMatch(/^(# (HELP|TYPE) \w+ .+|\w+(\{[^}]*\})? [-+\d.e]+(Inf)?)$/)
  })

  it('GET / is the explorer (a page that links to the API without scripts); unknown paths are coded 404s', async () => {
    const home = await http(url)
    expect(home.headers['content-type']).toMatch(/^text\/html/)
    expect(home.text).toContain('href="/api/v1/status"')
    const r = await http(url + 'api/v2/status')
    expect(r.status).toBe(404)
    expect(errorOf(r).code).toBe('API_NOT_FOUND')
    // A browser's mistyped page gets the explorer, which says "no such page" (user47).
    const page = await http(url + 'block/1', { headers: { accept: 'text/html' } })
    expect([page.status, page.headers['content-type']]).toEqual([404, 'text/html; charset=utf-8'])
    expect(page.text).toContain('href="/api/v1/status"')
  })

  it('GET /api/v1/openapi.json documents exactly the registered routes, and every response above matched it', async () => {
    const { apiRoutes } = await import('../../src/api/server.js')
    const { DEFAULT_API_LIMITS } = await import('../../src/api/index.js')
    const routes = apiRoutes(DEFAULT_API_LIMITS).map(r => `${r.method} ${r.path}`).sort()
    const documented = Object.entries(api.doc.paths).flatMap(([p, ops]) => Object.keys(ops).map(m => `${m.toUpperCase()} ${p}`)).sort()
    expect(documented).toEqual(routes)
    // Each documented read route was exercised against the document in this file.
    // POST /api/v1/query: api-query.test.ts checks each of its responses against the document.
    for (const r of routes.filter(r => r.startsWith('GET'))) {
      // Events are read above without the checker; receipts belong to the write tests (api-write.test.ts).
      if (r === 'GET /api/v1/events' || r === 'GET /api/v1/openapi.json' || r === 'GET /api/v1/receipts/{id}') continue
      // Proofs and checkpoints need a signatory node: test/integration/api-proofs.test.ts checks each against the document.
      if (/\/(proof|proofs\/|checkpoint)/.test(r)) continue
      // Export needs encrypted blocks too: test/integration/api-export.test.ts checks it against the document.
      if (r === 'GET /api/v1/tables/{table}/export') continue
      // Orphans: test/integration/api-orphans.test.ts checks it against the document.
      if (r === 'GET /api/v1/orphans') continue
      expect([...api.seen].some(s => s.startsWith(r + ' ')), r).toBe(true)
    }
  })
})
