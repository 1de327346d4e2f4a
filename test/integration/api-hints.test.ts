import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import type { ApiServer } from '../../src/api/index.js'
import { signImport, type Chain } from '../../src/chain/index.js'
import { errorClasses } from '../../src/util/index.js'
import { errorOf, http, startTestApi } from '../helpers/api.js'
import { fixtureKey, makeSqlite, newTestChain } from '../helpers/chain.js'
import { tmpDir } from '../helpers/tmp.js'

/**
 * An error raised without a hint of its own gets its code's documented hint (docs/errors.md) in the
 * HTTP reply, as the CLI prints it (mend29; before, the reply had no hint at all).
 */
const alice = fixtureKey('alice')
let chain: Chain
let server: ApiServer
let url: string

function documented (code: string): string | undefined {
  for (const c of errorClasses()) if (code in c.docs) return c.docs[code]?.hint
  return undefined
}

beforeAll(async () => {
  chain = (await newTestChain({ key: alice })).chain
  await signImport(chain, makeSqlite(join(tmpDir(), 'b1.db'), 10, 1), alice)
  ;({ server, url } = await startTestApi({ dir: chain.dir.root }))
  expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/)
})

afterAll(async () => {
  await server?.close()
  chain?.close()
})

describe('HTTP error replies carry the documented hint when the error has none', () => {
  it('a route check without a hint (after_rowid with offset): API_BAD_REQUEST with its documented hint', async () => {
    const r = await http(url + 'api/v1/blocks/1/tables/t/rows?after_rowid=1&offset=2')
    expect(r.status).toBe(400)
    const e = errorOf(r)
    expect(e.code).toBe('API_BAD_REQUEST')
    expect(documented('API_BAD_REQUEST')).toContain('/api/v1/openapi.json')
    expect(e.hint).toBe(documented('API_BAD_REQUEST'))
  })

  // `?format=xml` said "must be equal to one of the allowed values" without them (user50).
  it('a value outside a list names the values the endpoint takes', async () => {
    const r = await http(url + 'api/v1/tables/t/export?format=xml')
    expect(r.status).toBe(400)
    expect(errorOf(r).message).toMatch(/format must be equal to one of the allowed values: csv, ndjson, sqlite$/)
  })

  it('a body that is not JSON: API_MALFORMED_JSON with its documented hint', async () => {
    const r = await http(url + 'api/v1/query', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"sql": ' })
    expect(r.status).toBe(400)
    const e = errorOf(r)
    expect(e.code).toBe('API_MALFORMED_JSON')
    expect(documented('API_MALFORMED_JSON')).toBeDefined()
    expect(e.hint).toBe(documented('API_MALFORMED_JSON'))
  })

  it('a hint given where the error is raised still wins over the documented one', async () => {
    const r = await http(url + 'api/v1/blocks/1/tables/nope/rows')
    expect(r.status).toBe(404)
    const e = errorOf(r)
    expect(e.code).toBe('API_TABLE_NOT_FOUND')
    expect(e.hint).toBeDefined()
    expect(e.hint).not.toBe(documented('API_TABLE_NOT_FOUND'))
  })
})
