import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { renameSync } from 'node:fs'
import { signImport } from '../../src/chain/index.js'
import type { PetalNode } from '../../src/node/index.js'
import { errorOf, http, postJson } from '../helpers/api.js'
import { fixtureKey, makeSqlite, newTestChain } from '../helpers/chain.js'
import { startNode, stopAll } from '../helpers/network.js'
import { tmpDir } from '../helpers/tmp.js'

/**
 * A table that only blocks above where the node's query mirror stopped have (a block file missing:
 * MIRROR_BLOCK_MISSING) was answered QUERY_UNKNOWN_TABLE, "no block has a table of that name"
 * (http35). Now the stop: the table, its block, why the mirror stops, and the remedy; once the
 * file is back, the mirror catches up and the same statement answers.
 */
const alice = fixtureKey('alice')
let node: PetalNode
let url: string
let dir: string
let file: string

beforeAll(async () => {
  const t = await newTestChain({ key: alice })
  dir = t.dir
  await signImport(t.chain, makeSqlite(join(tmpDir(), 'b1.db'), 5, 1, 't'), alice)
  await signImport(t.chain, makeSqlite(join(tmpDir(), 'b2.db'), 5, 2, 'u'), alice)
  file = t.chain.pathOf(t.chain.get(2) ?? expect.fail('no block 2'))
  t.chain.close()
  renameSync(file, file + '.away') // before the node's mirror has block 2
  node = await startNode(dir, { name: 'stopped-mirror', key: alice, http: { address: { host: '127.0.0.1', port: 0 } } })
  url = node.httpUrl ?? ''
})

afterAll(stopAll)

describe('POST /query and export while the query mirror is stopped below the tip', () => {
  it('a table above the stop: 503 MIRROR_BLOCK_MISSING naming it, the stop and the remedy', async () => {
    expect((await postJson(url + 'api/v1/query', { sql: 'SELECT count(*) AS n FROM t' })).text).toBe('{"n":5}\n')
    const r = await postJson(url + 'api/v1/query', { sql: 'SELECT count(*) AS n FROM u' })
    expect(r.status).toBe(503)
    const e = errorOf(r)
    expect(e.code).toBe('MIRROR_BLOCK_MISSING')
    expect(e.message).toBe('table u is first in block 2, which the query mirror does not have yet: the query mirror stops at height 1: the file of block 2 is missing or damaged')
    expect(e.hint).toContain(`\`petal --dir ${dir} verify --repair\``)
    const x = await http(url + 'api/v1/tables/U/export')
    expect(x.status).toBe(503)
    expect(errorOf(x).message).toContain('table U is first in block 2')
    // A table no block has is still unknown.
    expect(errorOf(await postJson(url + 'api/v1/query', { sql: 'SELECT * FROM nowhere' })).code).toBe('QUERY_UNKNOWN_TABLE')
  })

  it('the file back (what `verify --repair` does): the mirror catches up and the statement answers', async () => {
    renameSync(file + '.away', file)
    const r = await postJson(url + 'api/v1/query', { sql: 'SELECT count(*) AS n FROM u' })
    expect(r.status).toBe(200)
    expect(r.text).toBe('{"n":5}\n')
  })
})
