import { cpSync, mkdirSync, renameSync } from 'node:fs'
import { basename, join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { Chain, importBlock, reindexChain, signImport } from '../../../src/chain/index.js'
import { Ingest, parseRecords, readPendingSummary } from '../../../src/ingest/index.js'
import { readSeal, sealPathOf } from '../../../src/storage/index.js'
import { fixtureKey, newTestChain } from '../../helpers/chain.js'
import { checkExactlyOnce } from '../../helpers/ingest.js'
import { tmpDir } from '../../helpers/tmp.js'

const alice = fixtureKey('alice')
const open: Array<{ close: () => unknown }> = []
afterEach(async () => { for (const x of open.splice(0).reverse()) await x.close() })

// The seal's reconcile looks at the batches from max_reorg_depth below the tip the last reconcile
// met (pending.db meta reconciled_tip; ingest/pending-summary.ts, reconcileFloor), since "the tip
// never falls". It does when the index is rebuilt without the blocks above a missing file (petal
// reindex's hint, once the files above it are moved out: chain/reindex.ts). The chain then grew
// again past the noted tip on another branch, and the sealed batches between the fallen tip and the
// noted tip's window were looked at by no reconcile: their rows pending for good (the receipt said
// pending, the seal sealed nothing of them, status did not count them) (review54).
describe('reconcile after the tip fell below the tip the last reconcile met', () => {
  it('looks at every batch when the block noted at its floor is canonical no more: the rows are sealed again, once', async () => {
    const { chain, dir } = await newTestChain({ key: alice, consensus: { maxReorgDepth: 2 } })
    const other = join(tmpDir(), 'other')
    cpSync(dir, other, { recursive: true })
    let ingest = Ingest.open({ chain, key: alice })
    const r = await ingest.append('t', parseRecords('[{"n": 1}, {"n": 2}, {"n": 3}]', 'json'))
    expect((await ingest.sealNow()).blocks).toMatchObject([{ height: 1, rows: 3 }])
    for (let i = 0; i < 6; i++) {
      await ingest.append('u', parseRecords(`[{"i": ${i}}]`, 'json'))
      await ingest.sealNow()
    }
    expect(chain.tip().height).toBe(7)
    await ingest.close()
    chain.close()

    // The files of blocks 1-7 out of the data directory, the index rebuilt: the tip is the genesis.
    const away = join(tmpDir(), 'away')
    mkdirSync(away)
    for (let h = 1; h <= 7; h++) for (const p of [chain.dir.blockPath(h), sealPathOf(chain.dir.blockPath(h))]) renameSync(p, join(away, `${h}-${basename(p)}`))
    expect(await reindexChain(dir, { truncate: true })).toMatchObject({ tipHeight: 0 })

    // Another branch, longer than the noted tip, placed on the genesis.
    const b = Chain.open(other)
    for (let i = 0; i < 9; i++) await signImport(b, undefined, alice)
    const c = Chain.open(dir)
    open.push(c)
    for (const blk of b.index.range(1, b.tip().height)) await importBlock(c, b.pathOf(blk), readSeal(b.pathOf(blk)))
    b.close()
    expect(c.tip().height).toBe(9)
    ingest = Ingest.open({ chain: c, key: alice })
    open.push(ingest)
    const receipt = r.receipts[0] as string
    expect(ingest.receipt(receipt)?.state).toBe('pending')
    // status counts them, as the receipt says
    const p = readPendingSummary(c.dir.pendingDb, h => c.index.byHash(h)?.canonical === true, { height: c.tip().height, depth: 2 })
    expect(p.rows).toBe(9)
    expect(await ingest.reconcile()).toMatchObject({ requeued: 9 })
    const sealed = (await ingest.sealNow()).blocks
    expect(sealed.reduce((n, x) => n + x.rows, 0)).toBe(9)
    expect(ingest.receipt(receipt)?.state).toBe('sealed')
    expect(checkExactlyOnce(c, ingest, 't', r.receipts, v => String(v.n))).toEqual([])
    expect(await ingest.reconcile()).toMatchObject({ requeued: 0, restored: 0 })
  })
})
