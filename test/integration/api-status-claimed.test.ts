import { afterAll, describe, expect, it } from 'vitest'
import { Ingest } from '../../src/ingest/index.js'
import { http, OpenApiChecker, startTestApi } from '../helpers/api.js'
import { fixtureKey, newTestChain } from '../helpers/chain.js'

// GET /api/v1/status counted only the rows no seal had claimed, so while a seal built its block the
// API (and the explorer's "Pending rows") said 0 pending beside receipts saying pending, and had no
// `claimed_rows`, which `petal status --json` has (api54).
const cleanup: Array<() => unknown> = []
afterAll(async () => { for (const f of cleanup.splice(0).reverse()) await f() })

describe('GET /api/v1/status: rows a seal has claimed', () => {
  it('counts them pending, and says how many are claimed, as petal status does', async () => {
    const alice = fixtureKey('alice')
    const t = await newTestChain({ key: alice })
    cleanup.push(() => { t.chain.close() })
    const ingest = Ingest.open({ chain: t.chain, key: alice })
    cleanup.push(async () => { await ingest.close() })
    const { server, url } = await startTestApi({ dir: t.dir, ingest })
    cleanup.push(async () => { await server.close() })
    const api = new OpenApiChecker((await http(url + 'api/v1/openapi.json')).json as ConstructorParameters<typeof OpenApiChecker>[0])
    const status = async (): Promise<{ pending_rows: number, claimed_rows: number }> => {
      const r = await http(url + 'api/v1/status')
      api.check('GET', '/api/v1/status', r)
      return (r.json as { ingest: { pending_rows: number, claimed_rows: number } }).ingest
    }
    await ingest.append('readings', [{ sensor: 'a', v: 1 }, { sensor: 'b', v: 2 }, { sensor: 'c', v: 3 }])
    expect(await status()).toMatchObject({ pending_rows: 3, claimed_rows: 0 })
    // A seal at work: it has claimed the rows pending into its batch and builds their block, and
    // a row comes in meanwhile.
    expect(await ingest.store.write(() => ingest.store.claim(1 << 30, 100, Date.now()))).toMatchObject({ rows: 3 })
    await ingest.append('readings', [{ sensor: 'd', v: 4 }])
    expect(await status()).toMatchObject({ pending_rows: 4, claimed_rows: 3 })
    // The seal that ends takes them (the claimed batch is reconciled and sealed again).
    await ingest.sealNow()
    expect(await status()).toMatchObject({ pending_rows: 0, claimed_rows: 0 })
  })
})
