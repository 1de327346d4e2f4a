import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import Database from 'better-sqlite3'
import { createHash } from 'node:crypto'
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { join } from 'node:path'
import type { ApiServer } from '../../src/api/index.js'
import { Chain, importBlock, signImport } from '../../src/chain/index.js'
import { readSeal } from '../../src/storage/index.js'
import { errorOf, http, OpenApiChecker, postJson, startTestApi, type HttpResult } from '../helpers/api.js'
import { fixtureKey, makeSqlite, newTestChain } from '../helpers/chain.js'
import { cloneGenesis } from '../helpers/network.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'

const alice = fixtureKey('alice')
const MAX = 9223372036854775807n

let chain: Chain
let branch: Chain
let server: ApiServer
let url: string
let api: OpenApiChecker

/** GET (or any method) and check the response against the OpenAPI document. */
async function call (method: string, docPath: string, path: string, o: { headers?: Record<string, string>, body?: unknown } = {}): Promise<HttpResult> {
  const r = o.body === undefined ? await http(url + path.slice(1), { method, headers: o.headers }) : await postJson(url + path.slice(1), o.body, o.headers)
  api.check(method, docPath, r)
  return r
}

function valuesDb (path: string): string {
  const db = new Database(path)
  db.exec(`CREATE TABLE vals (id INTEGER PRIMARY KEY, big INTEGER, r REAL, s TEXT, b BLOB, n);
    CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER) WITHOUT ROWID;
    CREATE TABLE "Odd ""Name""; DROP TABLE t; --" (x)`)
  const ins = db.prepare('INSERT INTO vals (big, r, s, b, n) VALUES (?, ?, ?, ?, ?)')
  ins.safeIntegers(true)
  ins.run(MAX, 1.0, 'x', Buffer.from([0, 1, 0xfe, 0xff]), null)
  ins.run(-MAX - 1n, 0.1, '', Buffer.alloc(0), null)
  for (const k of ['e', 'a', 'd', 'c', 'b']) db.prepare('INSERT INTO kv VALUES (?, ?)').run(k, k.charCodeAt(0))
  db.prepare('INSERT INTO "Odd ""Name""; DROP TABLE t; --" VALUES (1)').run()
  db.close()
  return path
}

beforeAll(async () => {
  const work = tmpDir()
  const t = await newTestChain({ key: alice })
  chain = t.chain
  await signImport(chain, makeSqlite(join(work, 'b1.db'), 10, 1), alice)
  await signImport(chain, valuesDb(join(work, 'b2.db')), alice)
  await signImport(chain, makeSqlite(join(work, 'b3.db'), 250, 3), alice)
  // A side branch: another block 1 on the same genesis.
  branch = Chain.open(await cloneGenesis(chain))
  await signImport(branch, makeSqlite(join(work, 'x1.db'), 4, 9), alice)
  const side = branch.dir.blockPath(1)
  expect((await importBlock(chain, side, readSeal(side))).status).toBe('side')
  ;({ server, url } = await startTestApi({ dir: chain.dir.root }))
  const doc = await http(url + 'api/v1/openapi.json')
  api = new OpenApiChecker(doc.json as ConstructorParameters<typeof OpenApiChecker>[0])
})

afterAll(async () => {
  await server?.close()
  chain?.close()
  branch?.close()
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
    expect(r.json).toEqual({ height: 3, active: 1, signers: [{ id: alice.id, public_key: alice.publicKey.hex, added_at: 0, revoked_at: null, active: true }] })
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
  })

  it('GET /api/v1/openapi.json documents exactly the registered routes, and every response above matched it', async () => {
    const { apiRoutes } = await import('../../src/api/server.js')
    const { DEFAULT_API_LIMITS } = await import('../../src/api/index.js')
    const routes = apiRoutes(DEFAULT_API_LIMITS).map(r => `${r.method} ${r.path}`).sort()
    const documented = Object.entries(api.doc.paths).flatMap(([p, ops]) => Object.keys(ops).map(m => `${m.toUpperCase()} ${p}`)).sort()
    expect(documented).toEqual(routes)
    // Each documented read route was exercised against the document in this file.
    for (const r of routes.filter(r => r.startsWith('GET') || r === 'POST /api/v1/query')) {
      // Events are read above without the checker; receipts belong to the write tests (api-write.test.ts).
      if (r === 'GET /api/v1/events' || r === 'GET /api/v1/openapi.json' || r === 'GET /api/v1/receipts/{id}') continue
      // Proofs and checkpoints need a signatory node: test/integration/api-proofs.test.ts checks each against the document.
      if (/\/(proof|proofs\/|checkpoint)/.test(r)) continue
      // Export needs encrypted blocks too: test/integration/api-export.test.ts checks it against the document.
      if (r === 'GET /api/v1/tables/{table}/export') continue
      expect([...api.seen].some(s => s.startsWith(r + ' ')), r).toBe(true)
    }
  })
})
