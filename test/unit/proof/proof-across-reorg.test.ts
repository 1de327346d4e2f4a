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

// A proof made against a checkpoint that was not final, checked after a reorg abandoned its block
// against a checkpoint of the new chain: verify-proof said "the chain was rewritten or the proof
// forged", or offered to trust the keys instead, where a reorg explains it (docs/proofs.md,
// "Verifying: `petal verify-proof`").
describe('a proof made before a reorg, checked against the chain after it', () => {
  it('says that its checkpoint was not final and a reorg may have abandoned it', async () => {
    const { a, b } = await forkedPair(alice, 2, { maxReorgDepth: 2 })
    await extendChain(a, alice, 1, 4)
    await signTipCheckpoints(a, alice)
    const doc = JSON.stringify(await proveRows(a, { height: 3, table: 't', rows: [{ rowid: 1n }] }))
    const keys = await trustOf(await signatoryVkey(a.chainId, alice))
    expect((await verifyProof(doc, keys)).ok).toBe(true)
    await extendChain(b, alice, 2, 3)
    for (const h of [3, 4]) await importBlock(a, b.dir.blockPath(h), readSeal(b.dir.blockPath(h)))
    expect(a.tip().hash).toBe(b.tip().hash)
    const tree = storedChainTree(a)
    const note = (size: number): string => signCheckpoint(checkpointText({ chainId: a.chainId, size, root: treeRoot(tree, size), tip: 4, maxReorgDepth: 2 }), [alice])
    // The same size over the new branch's root, and a larger one without a path to it.
    for (const [size, code] of [[4, 'CONSISTENCY_FAILED'], [5, 'CONSISTENCY_MISSING']] as const) {
      const r = await verifyProof(doc, mergeTrust(keys, await trustOf(note(size))))
      expect(r.ok).toBe(false)
      expect(r.failure?.code).toBe(code)
      expect(r.failure?.message).toContain('was not final')
      expect(r.failure?.message).toContain('reorg')
      expect(r.failure?.message).not.toContain('forged')
    }
    a.close()
    b.close()
  })
})

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
