import { afterAll, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { fixtureKey, makeSqlite, newTestChain } from '../helpers/chain.js'
import { addrOf, cloneGenesis, startNode, stopAll, waitConverged } from '../helpers/network.js'
import { tmpDir } from '../helpers/tmp.js'

afterAll(stopAll)

describe('smoke', () => {
  it('propagates a block', async () => {
    const alice = fixtureKey('alice')
    const { chain, dir } = await newTestChain({ key: alice })
    const bDir = await cloneGenesis(chain)
    chain.close()
    const a = await startNode(dir, { name: 'A', key: alice })
    const b = await startNode(bDir, { name: 'B', bootstrap: [addrOf(a)] })
    const src = makeSqlite(join(tmpDir(), 's.db'), 5, 1)
    await a.publish(src)
    const tip = await waitConverged([a, b], { height: 1 })
    expect(tip.height).toBe(1)
  })
})
