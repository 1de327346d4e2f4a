import { describe, expect, it } from 'vitest'
import { importBlock } from '../../../src/chain/index.js'
import { checkpointText, mergeTrust, parseTrustFile, proveRows, signatoryVkey, signCheckpoint, signTipCheckpoints, storedChainTree, treeRoot, verifyProof } from '../../../src/proof/index.js'
import { readSeal } from '../../../src/storage/index.js'
import { extendChain, fixtureKey, forkedPair } from '../../helpers/chain.js'

const alice = fixtureKey('alice')

async function trustOf (text: string): Promise<Exclude<Awaited<ReturnType<typeof parseTrustFile>>, string>> {
  const t = await parseTrustFile(new TextEncoder().encode(text))
  if (typeof t === 'string') throw new Error(t)
  return t
}

// Session 53 (cb550821) said of a CONSISTENCY_FAILED between a proof and a trusted checkpoint, when
// the older of the two was not final, that a reorg may have abandoned it: "ask for the proof again".
// When the one not final is the trusted checkpoint (kept from before a reorg), a new proof fails the
// same way: it is the trusted checkpoint that is to be replaced (review53b).
describe('a trusted checkpoint that was not final, abandoned by a reorg', () => {
  it('the failure names the trusted checkpoint and says to trust a final one, not to ask for the proof again', async () => {
    const { a, b } = await forkedPair(alice, 2, { maxReorgDepth: 2 })
    await extendChain(a, alice, 2, 3)
    // The checkpoint a verifier kept of a's tree before the reorg: size 5 at tip 4, not final.
    const before = signCheckpoint(checkpointText({ chainId: a.chainId, size: 5, root: treeRoot(storedChainTree(a), 5), tip: 4, maxReorgDepth: 2 }), [alice])
    await extendChain(b, alice, 4, 3)
    for (let h = 3; h <= 6; h++) await importBlock(a, b.dir.blockPath(h), readSeal(b.dir.blockPath(h)))
    expect(a.tip().hash).toBe(b.tip().hash)
    await signTipCheckpoints(a, alice)
    // A proof against the final checkpoint of the current chain, of the same size.
    const doc = JSON.stringify(await proveRows(a, { height: 3, table: 't', rows: [{ rowid: 1n }], final: true }))
    const keys = await trustOf(await signatoryVkey(a.chainId, alice))
    const r = await verifyProof(doc, mergeTrust(keys, await trustOf(before)))
    expect(r.ok).toBe(false)
    expect(r.failure?.code).toBe('CONSISTENCY_FAILED')
    expect(r.failure?.message).toContain('the trusted checkpoint of size 5 was not final')
    expect(r.failure?.message).not.toContain('ask for the proof again')
    a.close()
    b.close()
  })
})
