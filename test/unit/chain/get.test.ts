import { describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { signImport } from '../../../src/chain/index.js'
import { fixtureKey, makeSqlite, newTestChain } from '../../helpers/chain.js'
import { tmpDir } from '../../helpers/tmp.js'

const alice = fixtureKey('alice')

describe('Chain.get', () => {
  it('takes a ref of decimal digits as a height, and as a hash prefix when no block is at that height', async () => {
    const { chain } = await newTestChain({ key: alice })
    // About 1 block hash in 43 starts with 8 decimal digits: add blocks until one does.
    let found: { hash: string, height: number } | undefined
    for (let i = 0; i < 600 && found === undefined; i++) {
      const r = await signImport(chain, makeSqlite(join(tmpDir(), 'd.db'), 1, i), alice)
      if (/^\d{8}/.test(r.block.hash)) found = { hash: r.block.hash, height: r.block.height }
    }
    expect(found).toBeDefined()
    if (found === undefined) return
    expect(chain.get(found.hash.slice(0, 8))?.hash).toBe(found.hash)
    expect(chain.get(found.hash.slice(0, 12))?.hash).toBe(found.hash)
    expect(chain.get(String(found.height))?.hash).toBe(found.hash)
    expect(chain.get('1')?.height).toBe(1)
    expect(chain.get('99999999')).toBeUndefined()
    chain.close()
  })
})
