import Database from 'better-sqlite3'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ApiServer } from '../../src/api/index.js'
import { signImport, type Chain } from '../../src/chain/index.js'
import { generateSigningKey } from '../../src/crypto/index.js'
import { buildRecordsFile, parseRecords } from '../../src/ingest/index.js'
import { errorOf, http, OpenApiChecker, startTestApi, type HttpResult } from '../helpers/api.js'
import { fixtureKey, newTestChain } from '../helpers/chain.js'
import { tmpDir } from '../helpers/tmp.js'

const CSV = 'id,name,diagnosis,score,photo\r\n1,ann,flu,1.5,\\x00ff\r\n2,"",,,\\x\r\n3,"a, b",cold,-2.25,\r\n'

describe('GET /api/v1/tables/{t}/export', () => {
  let chain: Chain
  let server: ApiServer
  let url: string
  let work: string
  let api: OpenApiChecker
  const get = async (q: string): Promise<HttpResult> => {
    const r = await http(`${url}api/v1/tables/${q}`)
    api.check('GET', '/api/v1/tables/{table}/export', r)
    return r
  }

  beforeAll(async () => {
    const key = fixtureKey('alice')
    ;({ chain } = await newTestChain({ key }))
    work = tmpDir()
    const f = join(work, 'p.db')
    buildRecordsFile(f, 'patients', parseRecords(CSV, 'csv'))
    // The same rows twice: block 2 with an encrypted column the API must never decrypt.
    await signImport(chain, f, key)
    const g = join(work, 'q.db')
    buildRecordsFile(g, 'patients', parseRecords(CSV, 'csv'))
    await signImport(chain, g, key, { encrypt: { columns: [['patients', 'diagnosis']], recipients: [generateSigningKey().publicKey] } })
    ;({ server, url } = await startTestApi({ dir: chain.dir.root }))
    api = new OpenApiChecker((await http(`${url}api/v1/openapi.json`)).json as ConstructorParameters<typeof OpenApiChecker>[0])
  }, 60_000)

  afterAll(async () => {
    await server?.close()
    chain?.close()
  })

  it('streams CSV that is the imported CSV, block by block', async () => {
    const r = await get(`patients/export?to=1`)
    expect(r.status).toBe(200)
    expect(r.headers['content-type']).toMatch(/^text\/csv/)
    expect(r.body.toString('utf8')).toBe(CSV)
  })

  it('never decrypts: block 2\'s diagnosis comes as ciphertext', async () => {
    const r = await get(`patients/export?format=ndjson&from=2`)
    const rows = r.body.toString('utf8').trim().split('\n').map(l => JSON.parse(l) as Record<string, unknown>)
    expect(rows).toHaveLength(3)
    expect(rows.map(x => x.name)).toEqual(['ann', '', 'a, b'])
    for (const x of rows) expect(x.diagnosis).toHaveProperty('$base64')
  })

  it('sends an SQLite file with the table and all its rows', async () => {
    const r = await get(`patients/export?format=sqlite`)
    expect(r.headers['content-type']).toBe('application/vnd.sqlite3')
    const f = join(work, 'got.db')
    writeFileSync(f, r.body)
    const db = new Database(f, { readonly: true })
    expect(db.prepare('SELECT count(*) FROM patients').pluck().get()).toBe(6)
    db.close()
  })

  it('an unknown table is a coded error with the tables in its hint', async () => {
    const r = await get(`nope/export`)
    expect(r.status).toBe(400)
    expect(errorOf(r)).toMatchObject({ code: 'QUERY_UNKNOWN_TABLE', hint: expect.stringContaining('patients') })
  })
})
