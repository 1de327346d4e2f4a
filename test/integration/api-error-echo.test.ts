import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { realpathSync } from 'node:fs'
import { join } from 'node:path'
import { Ingest } from '../../src/ingest/index.js'
import { TokenStore, type ApiServer } from '../../src/api/index.js'
import { errorAudience, errorBody } from '../../src/api/http-errors.js'
import { signImport, type Chain } from '../../src/chain/index.js'
import { QueryError } from '../../src/query/index.js'
import { quote, reviveError, said, serializeError } from '../../src/util/index.js'
import { errorOf, http, postJson, startTestApi, type HttpResult } from '../helpers/api.js'
import { fixtureKey, makeSqlite, newTestChain } from '../helpers/chain.js'
import { tmpDir } from '../helpers/tmp.js'
import { chainTreeOf } from '../helpers/proof.js'
import { buildRowProof, createCheckpoint } from '../../src/proof/index.js'

/**
 * An exposed node takes the data directory's path out of its own words only, never out of the
 * client's text it repeats (mend37). Before, a guess of the path sent in a request (a table name,
 * a column, a CSV header, a JSON field) came back as `<data dir>` when it was right and as sent
 * when it was wrong: an oracle for the exact path (review36). Here every such reply to the real
 * path is the reply to a wrong guess of the same length with the guess replaced, through real HTTP
 * on 127.0.0.1; and a query cannot read the path from `database_list` either.
 */
const alice = fixtureKey('alice')
let chain: Chain
let ingest: Ingest
let dir: string
let url: string
let write: Record<string, string>
let server: ApiServer

beforeAll(async () => {
  const t = await newTestChain({ key: alice })
  chain = t.chain
  dir = realpathSync(t.dir)
  await signImport(chain, makeSqlite(join(tmpDir(), 'b1.db'), 5, 1), alice)
  ingest = Ingest.open({ chain, key: alice })
  write = { authorization: `Bearer ${TokenStore.of(t.dir).create({ scope: 'write', name: 'w' }).token}` }
  ;({ server, url } = await startTestApi({ dir: t.dir, ingest, access: { expose: true, publicRead: true } }))
})

afterAll(async () => {
  await server?.close()
  await ingest?.close()
  chain?.close()
})

const post = async (path: string, body: string, type: string): Promise<HttpResult> =>
  await http(url + path, { method: 'POST', headers: { ...write, 'content-type': type }, body })

/** Each way a request's text comes back in an error, sending `g` as that text. */
const channels: Array<[string, (g: string) => Promise<HttpResult>]> = [
  ['a table in SQL', async g => await postJson(url + 'api/v1/query', { sql: `SELECT * FROM "${g}"` })],
  ['a column in SQL', async g => await postJson(url + 'api/v1/query', { sql: `SELECT "${g}" FROM _blocks` })],
  ['a table per block', async g => await postJson(url + 'api/v1/query', { sql: `SELECT "${g}" FROM t`, per_block: true })],
  ['a PRAGMA\'s name', async g => await postJson(url + 'api/v1/query', { sql: `PRAGMA "${g}"` })],
  ['an export\'s table', async g => await http(url + `api/v1/tables/${encodeURIComponent(g)}/export`)],
  ['a block\'s table', async g => await http(url + `api/v1/blocks/1/tables/${encodeURIComponent(g)}/rows`)],
  ['a receipt', async g => await http(url + `api/v1/receipts/${encodeURIComponent(g)}`)],
  ['a receipt\'s proof', async g => await http(url + `api/v1/receipts/${encodeURIComponent(g)}/proof`)],
  ['an explorer file', async g => await http(url + `assets/${g.slice(1)}`)],
  ['a CSV header', async g => await post('api/v1/records/t2', `"${g}","${g}"\n1,2\n`, 'text/csv')],
  ['a JSON field', async g => await post('api/v1/records/t2', JSON.stringify([{ [g]: [1] }]), 'application/json')],
  ['an NDJSON field', async g => await post('api/v1/records/t2', `{"a": 1}\n{"${g}": {"x": 1}}\n`, 'application/x-ndjson')],
  ['an encrypt policy\'s column', async g => await http(url + 'api/v1/tables/enc1', { method: 'PUT', headers: { ...write, 'content-type': 'application/json' }, body: JSON.stringify({ sql: 'CREATE TABLE enc1 (id INTEGER PRIMARY KEY, a TEXT)', encrypt: { columns: [g], recipients: [alice.publicKey.hex] } }) })],
  ['an encrypt policy\'s declared column', async g => await http(url + 'api/v1/tables/enc2', { method: 'PUT', headers: { ...write, 'content-type': 'application/json' }, body: JSON.stringify({ sql: `CREATE TABLE enc2 ("${g}" INTEGER PRIMARY KEY, a TEXT)`, encrypt: { columns: [g], recipients: [alice.publicKey.hex] } }) })],
  ['an unknown endpoint', async g => await http(url + `api/v1/x${g}`)],
  ['a field of the wrong type', async g => {
    await post('api/v1/records/t3', JSON.stringify([{ [g]: 1 }]), 'application/json')
    return await post('api/v1/records/t3', JSON.stringify([{ [g]: 'text' }]), 'application/json')
  }]
]

describe('an exposed node repeats a client\'s text as sent', () => {
  it('a guess of the data directory comes back as a wrong guess does', async () => {
    const wrong = dir.slice(0, -1) + (dir.endsWith('Z') ? 'Y' : 'Z')
    for (const [what, send] of channels) {
      const right = await send(dir)
      const other = await send(wrong)
      expect(right.status, what).toBeGreaterThanOrEqual(400)
      expect(right.status, what).toBeLessThan(500)
      expect(right.text, what).toContain(dir)
      expect(right.text, what).not.toContain('<data dir>')
      expect(right.text, what).toBe(other.text.split(wrong).join(dir))
      expect(right.status, what).toBe(other.status)
    }
  })

  it('a query cannot read the data directory from database_list', async () => {
    for (const [sql, perBlock] of [['PRAGMA database_list', false], ['SELECT file FROM pragma_database_list', false], ['SELECT * FROM "PRAGMA_DATABASE_LIST"', true], ["SELECT file FROM 'pragma_database_list'", false], ["SELECT file FROM 'pragma_database_list'", true]] as const) {
      const r = await postJson(url + 'api/v1/query', { sql, per_block: perBlock })
      expect(r.status, sql).toBe(403)
      expect(errorOf(r).code, sql).toBe('QUERY_PRAGMA_REFUSED')
      expect(r.text, sql).not.toContain(dir)
    }
  })

  it('the node\'s own words are scrubbed beside a quoted guess, across a process boundary', () => {
    const e = reviveError(serializeError(new QueryError('QUERY_SQL_ERROR', said`${dir}/query.db: ${quote(`no such table: ${dir}`)}`, { hint: said`${dir} ${quote(dir)}`, details: { sqliteCode: dir, sqliteMessage: dir }, quoted: { details: ['sqliteMessage'] } })))
    const body = errorBody(e, errorAudience(dir, true)).error
    expect(body.message).toBe(`<data dir>/query.db: no such table: ${dir}`)
    expect(body.hint).toBe(`<data dir> ${dir}`)
    expect(body.details).toEqual({ sqliteCode: '<data dir>', sqliteMessage: dir })
  })

  it('a served Daisy directory\'s state is scrubbed as well as the Daisy directory its hints name (lead, session 53)', () => {
    const daisy = join(tmpDir(), 'daisy')
    const e = new QueryError('QUERY_SQL_ERROR', `${dir}/query.db of ${daisy}`, { hint: `${daisy}/blocks and ${dir}`, details: { sqliteCode: 'SQLITE_ERROR', sqliteMessage: 'x' } })
    const body = errorBody(e, errorAudience(daisy, true, [dir])).error
    expect(body.message).toBe('<data dir>/query.db of <data dir>')
    expect(body.hint).toBe('<data dir>/blocks and <data dir>')
    expect(errorAudience(daisy, false, [dir]).hide).toEqual([])
  })

  it('a proof\'s unknown table is quoted', async () => {
    const tree = chainTreeOf(chain)
    const checkpoint = createCheckpoint({ chainId: chain.chainId, tree, tip: chain.tip().height, maxReorgDepth: 2, keys: [alice] })
    const err = await buildRowProof(chain.pathOf(chain.get(1) ?? expect.fail('no block 1')), { table: dir, rowid: 1n }, { chainId: chain.chainId, tree, checkpoint }).catch((e: unknown) => e)
    const body = errorBody(err, errorAudience(dir, true)).error
    expect(body.code).toBe('PROOF_TABLE_NOT_FOUND')
    expect(body.message).toContain(`"${dir}"`)
  })
})
