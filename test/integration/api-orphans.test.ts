import { afterAll, beforeAll, expect, it } from 'vitest'
import { Ingest, orphanJudging } from '../../src/ingest/index.js'
import { startTestApi } from '../helpers/api.js'
import { openReadFixture, type ReadFixture } from '../helpers/api-read-fixture.js'
import { fixtureKey } from '../helpers/chain.js'

// GET /api/v1/orphans: `petal orphans --all --json` over HTTP (docs/api.md), checked against the
// OpenAPI document. The read fixture has one side block: alice's block 1 of 4 rows.

const alice = fixtureKey('alice')
let f: ReadFixture

beforeAll(async () => { f = await openReadFixture() })
afterAll(async () => { await f?.close() })

interface Listed { tip: { height: number }, orphans: Array<{ height: number, hash: string, signer: string, rows: number, state: string, reason?: string }> }

it('lists the side block, awaiting re-seal; ?signer= filters; a bad signer is 400', async () => {
  const side = f.chain.index.sideBlocks()
  expect(side).toHaveLength(1)
  const r = await f.call('GET', '/api/v1/orphans', '/api/v1/orphans')
  expect(r.status).toBe(200)
  expect(r.json).toMatchObject({ tip: { height: 3 }, orphans: [{ height: 1, hash: side[0]?.hash, signer: alice.id, tables: [{ name: 't', rows: 4 }], rows: 4, state: 'pending' }] })
  const theirs = await f.call('GET', '/api/v1/orphans', `/api/v1/orphans?signer=${fixtureKey('bob').id}`)
  expect((theirs.json as Listed).orphans).toEqual([])
  const mine = await f.call('GET', '/api/v1/orphans', `/api/v1/orphans?signer=${alice.id}`)
  expect((mine.json as Listed).orphans).toHaveLength(1)
  expect((await f.call('GET', '/api/v1/orphans', '/api/v1/orphans?signer=nobody')).status).toBe(400)
})

it('a node judges with its ingest service: a block whose rows the service sealed is the service\'s to re-seal', async () => {
  const hash = f.chain.index.sideBlocks()[0]?.hash as string
  const ingest = Ingest.open({ chain: f.chain, readonly: true })
  const judging = orphanJudging(ingest, [alice.id])
  const { server, url } = await startTestApi({ dir: f.chain.dir.root, orphans: { ...judging, ingestOwned: h => h === hash } })
  try {
    const r = await fetch(`${url}api/v1/orphans`)
    expect(((await r.json()) as Listed).orphans).toMatchObject([{ hash, state: 'not-resealable', reason: 'ingest-rows' }])
  } finally {
    await server.close()
    await ingest.close()
  }
})
