import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ActivitySeries } from '../../../src/api/activity-series.js'
import { Chain, signImport } from '../../../src/chain/index.js'
import { extendChain, fixtureKey, makeSqlite, newTestChain } from '../../helpers/chain.js'
import { cloneGenesis } from '../../helpers/network.js'
import { tmpDir } from '../../helpers/tmp.js'

const alice = fixtureKey('alice')
const open: Chain[] = []
afterAll(() => { for (const c of open) c.close() })

function rowsOf (chain: Chain): number {
  let n = 0
  for (let h = 0; h <= chain.tip().height; h++) for (const t of chain.index.tablesOf(chain.get(h)?.hash ?? '')) n += t.rows
  return n
}

describe('ActivitySeries', () => {
  it('follows the canonical chain: appends new blocks, and rebuilds from the fork when the chain it saw is replaced', async () => {
    const { chain } = await newTestChain({ key: alice })
    open.push(chain)
    await extendChain(chain, alice, 3, 7)
    const s = new ActivitySeries()
    s.update(chain)
    expect([s.blocks, s.rowsInAll]).toEqual([4, 21])
    await extendChain(chain, alice, 2, 4)
    s.update(chain)
    expect([s.blocks, s.rowsInAll]).toEqual([6, rowsOf(chain)])
    // Every block in the buckets that span the chain's times, each once.
    const from = Math.floor(Date.parse(chain.get(0)?.timestamp ?? '') / 1000)
    const buckets = s.buckets(from, 1, 3600)
    expect(buckets.reduce((n, b) => n + b.blocks, 0)).toBe(6)
    expect(buckets.reduce((n, b) => n + b.rows, 0)).toBe(29)
    // Another chain on the same genesis, as a deep reorg looks to the series.
    const branch = Chain.open(await cloneGenesis(chain))
    open.push(branch)
    await signImport(branch, makeSqlite(join(tmpDir(), 'x.db'), 5, 9), alice)
    s.update(branch)
    expect([s.blocks, s.rowsInAll]).toEqual([2, 5])
  })
})
