import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { TokenStore, type ApiServer } from '../../src/api/index.js'
import { signImport, type Chain } from '../../src/chain/index.js'
import { Ingest } from '../../src/ingest/index.js'
import { signTipCheckpoints } from '../../src/proof/index.js'
import { errorOf, http, postJson, startTestApi } from '../helpers/api.js'
import { fixtureKey, makeSqlite, newTestChain } from '../helpers/chain.js'
import { sqliteFile } from '../helpers/query.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'

/**
 * An application that integrates over HTTP only is told what to do in the API's terms: a request,
 * a body field, a header (user51). Before, POST /query's QUERY_EMPTY, QUERY_UNKNOWN_TABLE,
 * QUERY_UNKNOWN_COLUMN and QUERY_TABLE_TOO_WIDE (and QUERY_TIMEOUT's and QUERY_TOO_MANY_ROWS's
 * options, --timeout and --max-rows, for the body's timeout_ms and max_rows), a consistency proof's PROOF_NO_CHECKPOINT and a
 * read token's API_FORBIDDEN sent it to `petal query …`, `petal checkpoint --list` or `petal
 * tokens create` only, commands of the node's machine. Each request a hint names is sent here, as
 * the hint gives it, and must answer.
 */
const alice = fixtureKey('alice')
let chain: Chain
let server: ApiServer
let url: string
let readToken: string
let ingest: Ingest

/** The body of the hint's `POST /api/v1/query {…}`. */
function hintedQuery (hint: string | undefined): { sql: string } {
  const body = /POST \/api\/v1\/query (\{"sql": "(?:[^"\\]|\\.)*"\})/.exec(hint ?? '')?.[1]
  expect(body, hint).toBeDefined()
  return JSON.parse(body ?? '{}') as { sql: string }
}

function noCliCommand (hint: string | undefined): void {
  expect(hint).toBeDefined()
  expect(hint).not.toMatch(/`petal |petal query/)
}

beforeAll(async () => {
  chain = (await newTestChain({ key: alice })).chain
  await signImport(chain, makeSqlite(join(tmpDir(), 'b1.db'), 10, 1), alice)
  // 2 × 1,100 distinct columns: beyond SQLite's 2,000 per table, so the mirror leaves it out.
  for (const prefix of ['c', 'd']) {
    const cols = Array.from({ length: 1100 }, (_, i) => `${prefix}${i} INT`)
    await signImport(chain, sqliteFile(join(tmpDir(), `${prefix}.db`), db => { db.exec(`CREATE TABLE wide (${cols.join(', ')}); INSERT INTO wide (${prefix}0) VALUES (7)`) }), alice)
  }
  await signTipCheckpoints(chain, alice)
  readToken = TokenStore.of(chain.dir.root).create({ scope: 'read', name: 'app' }).token
  ingest = Ingest.open({ chain, key: alice })
  ;({ server, url } = await startTestApi({ dir: chain.dir.root, ingest }))
}, 60_000)

afterAll(async () => {
  await server?.close()
  await ingest?.close()
  chain?.close()
})

describe('POST /api/v1/query: the hints name the request to send', () => {
  it('an empty statement: QUERY_EMPTY names the "sql" field, and its example answers', async () => {
    const r = await postJson(url + 'api/v1/query', { sql: '  ' })
    expect(r.status).toBe(400)
    const e = errorOf(r)
    expect(e.code).toBe('QUERY_EMPTY')
    noCliCommand(e.hint)
    const again = await postJson(url + 'api/v1/query', { ...hintedQuery(e.hint), format: 'json' })
    expect(again.status).toBe(200)
    expect(again.text).toContain('"rowCount":1')
  })

  it('an unknown table: the hint\'s request lists the chain\'s tables', async () => {
    const r = await postJson(url + 'api/v1/query', { sql: 'SELECT * FROM nope' })
    expect(r.status).toBe(400)
    const e = errorOf(r)
    expect(e.code).toBe('QUERY_UNKNOWN_TABLE')
    noCliCommand(e.hint)
    const tables = await postJson(url + 'api/v1/query', { ...hintedQuery(e.hint), format: 'csv' })
    expect(tables.status).toBe(200)
    expect(tables.text).toContain('t')
  })

  it('an unknown column: the hint\'s request, TABLE filled in, lists the table\'s columns', async () => {
    const r = await postJson(url + 'api/v1/query', { sql: 'SELECT nope FROM t' })
    const e = errorOf(r)
    expect(e.code).toBe('QUERY_UNKNOWN_COLUMN')
    noCliCommand(e.hint)
    const cols = await postJson(url + 'api/v1/query', { sql: hintedQuery(e.hint).sql.replace('TABLE', 't'), format: 'csv' })
    expect(cols.status).toBe(200)
    expect(cols.text.split(/\r?\n/)).toContain('_height')
  })

  it('a time limit or a row limit: the hint names the body\'s field, not the CLI\'s option', async () => {
    const slow = errorOf(await postJson(url + 'api/v1/query', { sql: 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c', timeout_ms: 200 }))
    expect(slow.code).toBe('QUERY_TIMEOUT')
    expect(slow.hint).toContain('"timeout_ms"')
    expect(slow.hint).not.toContain('--timeout')
    const many = errorOf(await postJson(url + 'api/v1/query', { sql: 'SELECT 1', max_rows: 0 }))
    expect(many.code).toBe('QUERY_TOO_MANY_ROWS')
    expect(many.hint).toContain('"max_rows"')
    expect(many.hint).not.toContain('--max-rows')
    // The message too (user52): it said "(--max-rows)", the CLI's option, to an HTTP client.
    expect(many.message).toContain('more than 0 rows')
    expect(many.message).not.toContain('--max-rows')
  })

  it('_keys, a table inside each block: the hint says per_block, which answers', async () => {
    const e = errorOf(await postJson(url + 'api/v1/query', { sql: 'SELECT * FROM _keys' }))
    expect(e.code).toBe('QUERY_UNKNOWN_TABLE')
    noCliCommand(e.hint)
    expect(e.hint).toContain('"per_block": true')
    expect(e.hint).toContain('GET /api/v1/signers')
    expect((await postJson(url + 'api/v1/query', { sql: 'SELECT * FROM _keys', per_block: true })).status).toBe(200)
    expect((await http(url + 'api/v1/signers')).status).toBe(200)
  })

  it('a table too wide for the mirror, queried or exported: the hint says per_block, which answers', async () => {
    const q = errorOf(await postJson(url + 'api/v1/query', { sql: 'SELECT count(*) FROM wide' }))
    const x = errorOf(await http(url + 'api/v1/tables/wide/export'))
    for (const e of [q, x]) {
      expect(e.code).toBe('QUERY_TABLE_TOO_WIDE')
      noCliCommand(e.hint)
      expect(e.hint).toContain('"per_block": true')
    }
    const r = await postJson(url + 'api/v1/query', { sql: 'SELECT count(*) AS n FROM wide', per_block: true, format: 'ndjson' })
    expect(r.status).toBe(200)
    expect(r.text.trim().split('\n')).toHaveLength(2)
  })
})

describe('proofs and tokens', () => {
  it('a consistency proof of a size not stored: the hint names GET /api/v1/checkpoints/latest, which gives the size', async () => {
    const r = await http(url + 'api/v1/proofs/consistency?from=1&to=99')
    expect(r.status).toBe(409)
    const e = errorOf(r)
    expect(e.code).toBe('PROOF_NO_CHECKPOINT')
    noCliCommand(e.hint)
    expect(e.hint).toContain('GET /api/v1/checkpoints/latest')
    const latest = await http(url + 'api/v1/checkpoints/latest')
    expect(latest.status).toBe(200)
    const size = (JSON.parse(latest.text) as { size: number }).size
    expect((await http(url + `api/v1/proofs/consistency?from=${size}&to=${size}`)).status).toBe(200)
  })

  // Not every size up to the latest is kept (a node that pulled keeps the checkpoints it was sent;
  // this one signed its tip's only): the hint said "give sizes up to it", and a size below the latest
  // failed the same way. It names the sizes it keeps nearest, and each answers (review52).
  // Session 56: it named one size only (the nearest below the missing one, and the latest), and the
  // client had to guess the other: from=2 with "none below it". It names the whole request, which answers.
  it('a consistency proof of a size not stored below the latest: the hint names sizes that answer, as a request', async () => {
    const latest = (JSON.parse((await http(url + 'api/v1/checkpoints/latest')).text) as { size: number }).size
    expect(latest).toBeGreaterThan(2)
    for (const [from, to] of [[2, latest], [latest, latest + 5], [1, 2]]) {
      const e = errorOf(await http(url + `api/v1/proofs/consistency?from=${from}&to=${to}`))
      expect(e.code).toBe('PROOF_NO_CHECKPOINT')
      noCliCommand(e.hint)
      expect(e.hint).toContain(`size ${latest}`)
      const request = /GET \/(api\/v1\/proofs\/consistency\?from=\d+&to=\d+)/.exec(e.hint ?? '')?.[1]
      expect(request, e.hint).toBeDefined()
      expect((await http(url + (request ?? ''))).status, e.hint).toBe(200)
    }
  })

  // A row proof no stored checkpoint covers: only the node's operator can get one. Until session 56
  // the client was told the operator's command alone (`petal … pull …`), as if it could run it.
  // Last in the file: it adds a block no checkpoint covers.
  it('a row proof no checkpoint covers: the hint says no request gets one, and what the operator can do', async () => {
    const top = (await signImport(chain, makeSqlite(join(tmpDir(), 'b9.db'), 3, 9), alice)).block.height
    await waitFor(async () => (await http(url + `api/v1/blocks/${top}`)).status === 200, { what: 'the server to see the new block' })
    const e = errorOf(await http(url + `api/v1/proofs/row?height=${top}&table=t&rowid=1`))
    expect(e.code).toBe('PROOF_NO_CHECKPOINT')
    expect(e.hint).toMatch(/^no request makes this node get a checkpoint that covers it: ask again later/)
    expect(e.hint).toContain('What the node\'s operator can do, on its machine: only a signatory signs checkpoints')
    // What it says the client can do now: the latest checkpoint's size, whose rows prove.
    expect(e.hint).toContain('GET /api/v1/checkpoints/latest gives the size the latest it keeps covers')
    const size = (JSON.parse((await http(url + 'api/v1/checkpoints/latest')).text) as { size: number }).size
    expect(size).toBe(top)
    expect((await http(url + 'api/v1/proofs/row?height=1&table=t&rowid=1')).status).toBe(200)
    // A served Daisy directory: Daisy signs none, so not "ask again later" (the audience alone differs).
    const daisy = await startTestApi({ dir: chain.dir.root, checkpointAudience: () => ({ kind: 'daisy', dir: '/srv/daisy' }) })
    try {
      const d = errorOf(await http(daisy.url + `api/v1/proofs/row?height=${top}&table=t&rowid=1`))
      expect(d.hint).toMatch(/^no request gets one: this is a Daisy chain, and Daisy signs no checkpoints/)
      expect(d.hint).not.toContain('ask again')
    } finally {
      await daisy.server.close()
    }
  })

  it('a read token on a write: API_FORBIDDEN says to send a write token in the Authorization header', async () => {
    const r = await postJson(url + 'api/v1/records/t', [{ a: 1 }], { authorization: `Bearer ${readToken}` })
    expect(r.status).toBe(403)
    const e = errorOf(r)
    expect(e.code).toBe('API_FORBIDDEN')
    expect(e.hint).toContain('Authorization: Bearer')
  })

  it('an unknown token: API_UNAUTHORIZED says what a valid one looks like and where it goes', async () => {
    const r = await postJson(url + 'api/v1/records/t', [{ a: 1 }], { authorization: 'Bearer petal_000000000000_nope' })
    expect(r.status).toBe(401)
    expect(errorOf(r).hint).toContain('Authorization: Bearer petal_<id>_<secret>')
  })
})

// A statement stopped at the most timeout_ms the server allows was told to raise timeout_ms, a
// request the server refuses (API_BAD_REQUEST past the most): it is told to narrow it (review51b).
describe('a time limit at the most the server allows', () => {
  it('QUERY_TIMEOUT says to narrow the statement, not to raise "timeout_ms", which the server refuses', async () => {
    const { server: capped, url: at } = await startTestApi({ dir: chain.dir.root, ingest, limits: { maxQueryTimeoutMs: 300 } })
    try {
      const sql = 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c'
      // Below the most, raising it is a request the server takes.
      const below = errorOf(await postJson(at + 'api/v1/query', { sql, timeout_ms: 100 }))
      expect(below.code).toBe('QUERY_TIMEOUT')
      expect(below.hint).toContain('raise the body\'s "timeout_ms"')
      // At the most, it is not: the server refuses more.
      expect((await postJson(at + 'api/v1/query', { sql, timeout_ms: 301 })).status).toBe(400)
      const most = errorOf(await postJson(at + 'api/v1/query', { sql, timeout_ms: 300 }))
      expect(most.code).toBe('QUERY_TIMEOUT')
      expect(most.hint).not.toContain('raise')
      expect(most.hint).toContain('narrow it')
      expect(most.hint).toContain('(300)')
    } finally {
      await capped.close()
    }
  })
})
