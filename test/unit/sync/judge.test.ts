import { describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { signSeal, verifySeal } from '../../../src/block/index.js'
import { generateSigningKey } from '../../../src/crypto/index.js'
import { headerOf } from '../../../src/network/index.js'
import { judgeHeader, sealedFieldsOf } from '../../../src/sync/index.js'
import { Chain, signImport } from '../../../src/chain/index.js'
import { fixtureKey, makeSqlite, newTestChain } from '../../helpers/chain.js'
import { cloneGenesis } from '../../helpers/network.js'
import { tmpDir } from '../../helpers/tmp.js'

describe('judgeHeader', () => {
  it('accepts a genuine header, rejects a forged or inconsistent one, ignores one it cannot judge', async () => {
    const alice = fixtureKey('alice')
    const { chain } = await newTestChain({ key: alice })
    const other = Chain.open(await cloneGenesis(chain))
    const b1 = (await signImport(other, makeSqlite(join(tmpDir(), 'a.db'), 2, 1), alice)).block
    const b2 = (await signImport(other, makeSqlite(join(tmpDir(), 'b.db'), 2, 2), alice)).block
    other.close()
    const h1 = headerOf(b1)
    expect(judgeHeader(chain, h1)).toBe('accept')
    // Parent unknown here: judged with the key set at the tip.
    expect(judgeHeader(chain, headerOf(b2))).toBe('accept')
    // Seal by a key that is not the claimed signer's.
    const forger = generateSigningKey()
    expect(judgeHeader(chain, { ...h1, seal: signSeal(forger, { chainId: chain.chainId, height: 1, rowsRoot: h1.rowsRoot }, h1.hash) })).toBe('reject')
    // A seal over other fields than those claimed.
    expect(judgeHeader(chain, { ...h1, rowsRoot: 'e'.repeat(64) })).toBe('reject')
    // Known parent, wrong height.
    expect(judgeHeader(chain, { ...h1, height: 7 })).toBe('reject')
    // Signed by a key this node does not know (it may have been added on a branch it lacks).
    const stranger = generateSigningKey()
    expect(judgeHeader(chain, { ...h1, signer: stranger.id, seal: signSeal(stranger, { chainId: chain.chainId, height: 1, rowsRoot: h1.rowsRoot }, h1.hash) })).toBe('ignore')
    // A genesis that is not this chain's.
    expect(judgeHeader(chain, { ...h1, height: 0 })).toBe('reject')
    chain.close()
  })

  it('reads the fields a wire header\'s seal signs the same way for every height: no chain id in the genesis seal', async () => {
    const alice = fixtureKey('alice')
    const { chain } = await newTestChain({ key: alice })
    const b1 = headerOf((await signImport(chain, makeSqlite(join(tmpDir(), 'a.db'), 2, 1), alice)).block)
    const genesis = chain.get(0)
    if (genesis === undefined) throw new Error('no genesis')
    const g = headerOf(genesis)
    expect(sealedFieldsOf(chain.chainId, g).chainId).toBe('')
    expect(verifySeal(alice.publicKey, sealedFieldsOf(chain.chainId, g), g.hash, g.seal)).toBe(true)
    // What the header feed used to check a genesis seal against, which no genesis seal verifies:
    expect(verifySeal(alice.publicKey, { ...sealedFieldsOf(chain.chainId, g), chainId: chain.chainId }, g.hash, g.seal)).toBe(false)
    expect(verifySeal(alice.publicKey, sealedFieldsOf(chain.chainId, b1), b1.hash, b1.seal)).toBe(true)
    expect(judgeHeader(chain, g)).toBe('accept')
    chain.close()
  })
})
