import { describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { Chain, importBlock, pendingOrphans, resealOrphan, signImport } from '../../../src/chain/index.js'
import { readSeal } from '../../../src/storage/index.js'
import { fixtureKey, makeSqlite, newTestChain } from '../../helpers/chain.js'
import { cloneGenesis } from '../../helpers/network.js'
import { tmpDir } from '../../helpers/tmp.js'

describe('pendingOrphans', () => {
  it('lists this signer\'s orphaned blocks until their content is back on the canonical chain', async () => {
    const alice = fixtureKey('alice')
    const { chain } = await newTestChain({ key: alice })
    const mine = (await signImport(chain, makeSqlite(join(tmpDir(), 'm.db'), 3, 1), alice)).block
    expect(pendingOrphans(chain, alice.id)).toEqual([])

    // A longer branch from elsewhere orphans it.
    const other = Chain.open(await cloneGenesis(chain))
    const o1 = (await signImport(other, makeSqlite(join(tmpDir(), 'o1.db'), 2, 2), alice)).block
    const o2 = (await signImport(other, makeSqlite(join(tmpDir(), 'o2.db'), 2, 3), alice)).block
    for (const b of [o1, o2]) await importBlock(chain, other.pathOf(b), readSeal(other.pathOf(b)), { expectedHash: b.hash })
    other.close()
    expect(chain.tip().hash).toBe(o2.hash)
    expect(pendingOrphans(chain, alice.id).map(b => b.hash)).toEqual([mine.hash])
    expect(pendingOrphans(chain, fixtureKey('bob').id)).toEqual([])

    await resealOrphan(chain, mine.hash, alice)
    expect(pendingOrphans(chain, alice.id)).toEqual([])
    expect(chain.tip().rowsRoot).toBe(mine.rowsRoot)
    chain.close()
  })
})
