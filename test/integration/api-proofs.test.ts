import { afterAll, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import type { PetalNode } from '../../src/node/index.js'
import { parseTrustFile, signatoryVkey, verifyProof, type BundleDocument } from '../../src/proof/index.js'
import { errorOf, http, OpenApiChecker, type HttpResult } from '../helpers/api.js'
import { fixtureKey, makeSqlite, newTestChain } from '../helpers/chain.js'
import { addrOf, cloneGenesis, startNode, stopAll, waitConverged } from '../helpers/network.js'
import { makeTypedSqlite } from '../helpers/proof.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'

afterAll(stopAll)

const alice = fixtureKey('alice')
const HTTP = { address: { host: '127.0.0.1', port: 0 } }

/** The node's latest checkpoint once it covers `height`. */
async function checkpointCovering (node: PetalNode, height: number): Promise<{ size: number, note: string, final: boolean, tip: number, root: string, source: string }> {
  return await waitFor(async () => {
    const r = await http((node.httpUrl ?? '') + 'api/v1/checkpoints/latest')
    const c = r.json as { size?: number }
    return r.status === 200 && (c.size ?? 0) > height ? r.json as { size: number, note: string, final: boolean, tip: number, root: string, source: string } : undefined
  }, { what: `a checkpoint covering height ${height}` })
}

describe('proof endpoints on a running node', () => {
  it('serves row proofs (by block, by query, by receipt) and checkpoints that verify offline, with coded errors', async () => {
    const { chain, dir } = await newTestChain({ key: alice, consensus: { maxReorgDepth: 1 } })
    const other = await cloneGenesis(chain)
    const chainId = chain.chainId
    chain.close()
    const a = await startNode(dir, { name: 'A', key: alice, http: HTTP, ingest: { everyMs: 60_000 } })
    const b = await startNode(other, { name: 'B', bootstrap: [addrOf(a)], http: HTTP })
    const url = (a.httpUrl ?? '') + 'api/v1/'
    const api = new OpenApiChecker((await http(url + 'openapi.json')).json as ConstructorParameters<typeof OpenApiChecker>[0])
    const get = async (path: string, template: string): Promise<HttpResult> => {
      const r = await http(url + path)
      api.check('GET', '/api/v1/' + template, r)
      return r
    }
    const trust = await parseTrustFile(new TextEncoder().encode(await signatoryVkey(chainId, alice)))
    if (typeof trust === 'string') throw new Error(trust)

    const published = await a.publish(makeTypedSqlite(join(tmpDir(), 'typed.db')))
    const cp = await checkpointCovering(a, published.block.height)
    expect(cp).toMatchObject({ size: 2, tip: 1, final: false })
    expect((await get('checkpoints/latest', 'checkpoints/latest')).json).toMatchObject({ note: cp.note, root: cp.root, source: 'self' })

    const byPath = await get(`blocks/${published.block.height}/tables/people/rows/3/proof`, 'blocks/{ref}/tables/{table}/rows/{rowid}/proof')
    expect(byPath.status, byPath.text).toBe(200)
    const doc = byPath.json as BundleDocument
    expect(doc).toMatchObject({ petal_proof: 1, type: 'bundle', chain_id: chainId, checkpoint: cp.note })
    const report = await verifyProof(byPath.text, trust)
    expect(report.ok, report.failure?.message).toBe(true)
    expect(report.rows[0]).toMatchObject({ table: 'people', rowid: '3', values: [{ integer: '3' }, { text: 'zoë ✓ 𝄞' }, { real: expect.any(String) }, { blob: '' }, { integer: '9223372036854775807' }] })
    const byQuery = await get(`proofs/row?height=${published.block.height}&table=people&rowid=3`, 'proofs/row')
    expect(byQuery.json).toEqual(doc)
    // By hash, too; a forged value is caught by the verifier.
    expect((await get(`blocks/${published.block.hash}/tables/people/rows/3/proof`, 'blocks/{ref}/tables/{table}/rows/{rowid}/proof')).json).toEqual(doc)
    expect((await verifyProof(byPath.text.replace('zoë', 'zoe'), trust)).ok).toBe(false)

    // Errors: coded, with the documented statuses.
    expect(errorOf(await get(`blocks/${published.block.height}/tables/people/rows/99/proof`, 'blocks/{ref}/tables/{table}/rows/{rowid}/proof')).code).toBe('PROOF_ROW_NOT_FOUND')
    expect(errorOf(await get(`blocks/${published.block.height}/tables/nope/rows/1/proof`, 'blocks/{ref}/tables/{table}/rows/{rowid}/proof')).code).toBe('PROOF_TABLE_NOT_FOUND')
    expect(errorOf(await get('blocks/77/tables/people/rows/1/proof', 'blocks/{ref}/tables/{table}/rows/{rowid}/proof')).code).toBe('API_BLOCK_NOT_FOUND')
    expect((await get(`blocks/${published.block.height}/tables/people/rows/1x/proof`, 'blocks/{ref}/tables/{table}/rows/{rowid}/proof')).status).toBe(400)
    const notFinal = await get(`blocks/${published.block.height}/tables/people/rows/3/proof?final=true`, 'blocks/{ref}/tables/{table}/rows/{rowid}/proof')
    expect(notFinal.status).toBe(409)
    expect(errorOf(notFinal).code).toBe('PROOF_NO_CHECKPOINT')
    // Its hint names the API's way to leave it out, not only the CLI's --final (user50).
    expect(errorOf(notFinal).hint).toContain('final=true')

    // A receipt: pending (409), then sealed and proven; the block above makes block 2 final (depth 1).
    const ingest = a.ingest
    if (ingest === undefined) throw new Error('node without ingest')
    const { receipts } = await ingest.append('readings', [{ sensor: 'A', value: 1n }, { sensor: 'B', value: -2n }])
    const rid = receipts[1] as string
    const pending = await get(`receipts/${rid}/proof`, 'receipts/{id}/proof')
    expect(pending.status).toBe(409)
    expect(errorOf(pending).code).toBe('PROOF_ROW_PENDING')
    expect(errorOf(await get('receipts/nope-1/proof', 'receipts/{id}/proof')).code).toBe('INGEST_UNKNOWN_RECEIPT')
    await ingest.sealNow()
    await a.publish(makeSqlite(join(tmpDir(), 'more.db'), 2, 5))
    await checkpointCovering(a, 3)
    const sealed = await get(`receipts/${rid}/proof?final=true`, 'receipts/{id}/proof')
    expect(sealed.status, sealed.text).toBe(200)
    const r2 = await verifyProof(sealed.text, trust, { requireFinal: true })
    expect(r2.ok, r2.failure?.message).toBe(true)
    expect(r2.rows[0]).toMatchObject({ table: 'readings', height: 2, values: [{ text: 'B' }, { integer: '-2' }] })
    const finalCp = await get('checkpoint?final=true', 'checkpoint')
    expect(finalCp.json).toMatchObject({ size: 3, tip: 3, final: true })

    // Consistency between two stored checkpoints, checkable against the older one alone.
    const cons = await get('proofs/consistency?from=2&to=4', 'proofs/consistency')
    expect(cons.status, cons.text).toBe(200)
    const old = await parseTrustFile(new TextEncoder().encode(cp.note))
    if (typeof old === 'string') throw new Error(old)
    expect((await verifyProof(cons.text, { ...old, keys: trust.keys })).ok).toBe(true)
    expect(errorOf(await get('proofs/consistency?from=2&to=99', 'proofs/consistency')).code).toBe('PROOF_NO_CHECKPOINT')

    // A follower signs nothing, but keeps the signatory's gossiped checkpoints and proves rows against them.
    await waitConverged([a, b], { height: 3 })
    const fromB = await checkpointCovering(b, 3)
    expect(fromB.source).toMatch(/^peer /)
    const proofB = await http((b.httpUrl ?? '') + `api/v1/receipts/${rid}/proof`)
    expect(errorOf(proofB).code, 'a receipt is answered by the node that issued it').toBe('INGEST_UNKNOWN_RECEIPT')
    const rowB = await http((b.httpUrl ?? '') + 'api/v1/blocks/2/tables/readings/rows/2/proof')
    expect(rowB.status, rowB.text).toBe(200)
    const r3 = await verifyProof(rowB.text, trust)
    expect(r3.ok, r3.failure?.message).toBe(true)
    expect(r3.rows[0]?.values).toEqual([{ text: 'B' }, { integer: '-2' }])

    // Every proof route was checked against the OpenAPI document here (api-read.test.ts leaves them to this file).
    for (const route of ['blocks/{ref}/tables/{table}/rows/{rowid}/proof', 'proofs/row', 'receipts/{id}/proof', 'proofs/consistency', 'checkpoints/latest', 'checkpoint']) {
      expect([...api.seen].some(x => x.startsWith(`GET /api/v1/${route} 200`)), route).toBe(true)
    }
  })
})
