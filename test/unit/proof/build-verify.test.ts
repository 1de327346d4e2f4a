import { describe, expect, it } from 'vitest'
import { publicKeyToPem } from '../../../src/crypto/index.js'
import { buildConsistencyProof, buildProofBundle, buildRowProof, createCheckpoint, parseTrustFile, verifyProof, type TrustAnchors, type VerifyReport } from '../../../src/proof/index.js'
import { provableChain } from '../../helpers/proof.js'

async function trustOf (pem: string): Promise<TrustAnchors> {
  const t = await parseTrustFile(pem)
  if (typeof t === 'string') throw new Error(t)
  return t
}

describe('row proofs from real blocks', () => {
  it('proves a row of every storage class, losslessly, and the verifier accepts it', async () => {
    const { chain, key, tree, typedHeight } = await provableChain()
    const tip = chain.tip().height
    const checkpoint = createCheckpoint({ chainId: chain.chainId, tree, tip, maxReorgDepth: 2, keys: [key], size: tip - 1 })
    const doc = await buildRowProof(chain.dir.blockPath(typedHeight), { table: 'people', rowid: 3n }, { chainId: chain.chainId, tree, checkpoint })
    expect(doc.row.values).toEqual([{ integer: '3' }, { text: 'zoë ✓ 𝄞' }, { real: '0.30000000000000004' }, { blob: '' }, { integer: '9223372036854775807' }])
    expect(doc.row.index).toBe(3)
    expect(doc.table.columns).toEqual(['id', 'name', 'score', 'photo', 'big'])
    const report: VerifyReport = await verifyProof(JSON.stringify(doc), await trustOf(publicKeyToPem(key.publicKey)), { requireFinal: true })
    expect(report.failure).toBeUndefined()
    expect(report.ok).toBe(true)
    expect(report.rows).toEqual([expect.objectContaining({ height: typedHeight, table: 'people', index: 3, rowid: '3', final: true })])
    expect(report.signatures).toEqual([expect.objectContaining({ kind: 'signatory', status: 'valid', key: key.id })])
    expect(report.checks.every(c => c.ok)).toBe(true)
  })

  it('proves many rows of several tables (WITHOUT ROWID too) against one checkpoint in a bundle', async () => {
    const { chain, key, tree, typedHeight } = await provableChain({ extraRows: 300 })
    const checkpoint = createCheckpoint({ chainId: chain.chainId, tree, tip: chain.tip().height, maxReorgDepth: 2, keys: [key] })
    const bundle = await buildProofBundle([
      { path: chain.dir.blockPath(typedHeight), rows: [{ table: 'people', rowid: 1n }, { table: 'people', index: 305 }, { table: 'people', rowid: 200n }, { table: 'tags', index: 0 }, { table: 'tags', index: 2 }, { table: 'notes', index: 0 }] },
      { path: chain.dir.blockPath(1), rows: [{ table: 't', index: 4 }] }
    ], { chainId: chain.chainId, tree, checkpoint })
    const tags = bundle.blocks[0]?.tables.find(t => t.name === 'tags')
    expect(tags?.rows.map(r => [r.rowid, r.values])).toEqual([[null, [{ text: 'a' }, { integer: '1' }]], [null, [{ text: 'c' }, null]]])
    const report = await verifyProof(bundle, await trustOf(publicKeyToPem(key.publicKey)))
    expect(report.failure).toBeUndefined()
    expect(report.rows).toHaveLength(7)
    // Not final: the checkpoint reaches the tip, and max_reorg_depth is 2.
    expect(report.checkpoint?.final).toBe(false)
    expect(report.checks.find(c => c.step === 'checkpoint')?.message).toMatch(/max_reorg_depth 2: heights above 3 could still be reorganised\)$/)
    const demanding = await verifyProof(bundle, await trustOf(publicKeyToPem(key.publicKey)), { requireFinal: true })
    expect(demanding.failure?.code).toBe('NOT_FINAL')
  })

  it('says so in words when no height is final yet (not "heights above -1")', async () => {
    const { chain, key, tree, typedHeight } = await provableChain()
    const checkpoint = createCheckpoint({ chainId: chain.chainId, tree, tip: chain.tip().height, maxReorgDepth: 100, keys: [key] })
    const proof = await buildRowProof(chain.dir.blockPath(typedHeight), { table: 'people', rowid: 3n }, { chainId: chain.chainId, tree, checkpoint })
    const report = await verifyProof(proof, await trustOf(publicKeyToPem(key.publicKey)))
    expect(report.failure).toBeUndefined()
    expect(report.checks.find(c => c.step === 'checkpoint')?.message).toMatch(/max_reorg_depth 100: every height could still be reorganised\)$/)
  })

  it('names the rowids a table has when a large one (the chunked way) lacks the row asked for', async () => {
    const { chain, key, tree, typedHeight } = await provableChain({ extraRows: 520 })
    const checkpoint = createCheckpoint({ chainId: chain.chainId, tree, tip: chain.tip().height, maxReorgDepth: 2, keys: [key], size: typedHeight + 1 })
    await expect(buildRowProof(chain.dir.blockPath(typedHeight), { table: 'people', rowid: 9999n }, { chainId: chain.chainId, tree, checkpoint }))
      .rejects.toMatchObject({ code: 'PROOF_ROW_NOT_FOUND', hint: 'its 526 row(s) have rowids from -7 to 525 (not necessarily contiguous)' })
  })

  it('refuses to build what would not verify', async () => {
    const { chain, key, tree, typedHeight } = await provableChain()
    const tip = chain.tip().height
    const checkpoint = createCheckpoint({ chainId: chain.chainId, tree, tip, maxReorgDepth: 2, keys: [key], size: typedHeight + 1 })
    const o = { chainId: chain.chainId, tree, checkpoint }
    await expect(buildRowProof(chain.dir.blockPath(typedHeight), { table: 'people', rowid: 99n }, o)).rejects.toMatchObject({ code: 'PROOF_ROW_NOT_FOUND', hint: 'its 6 row(s) have rowids from -7 to 5 (not necessarily contiguous)' })
    await expect(buildRowProof(chain.dir.blockPath(typedHeight), { table: 'tags', rowid: 1n }, o)).rejects.toMatchObject({ code: 'PROOF_ROW_NOT_FOUND' })
    await expect(buildRowProof(chain.dir.blockPath(typedHeight), { table: 'nope', index: 0 }, o)).rejects.toMatchObject({ code: 'PROOF_TABLE_NOT_FOUND' })
    // A block above the checkpoint, a block that is not the tree's leaf, a checkpoint of another tree.
    await expect(buildRowProof(chain.dir.blockPath(tip), { table: 't', index: 0 }, o)).rejects.toMatchObject({ code: 'PROOF_CHECKPOINT_MISMATCH' })
    await expect(buildRowProof(chain.dir.blockPath(1), { table: 't', index: 0 }, { ...o, tree: (await provableChain({ key })).tree })).rejects.toMatchObject({ code: 'PROOF_CHECKPOINT_MISMATCH' })
  })
})

describe('consistency proofs between checkpoints', () => {
  it('show that the chain only grew, and refuse a checkpoint from a rewritten chain', async () => {
    const { chain, key, tree } = await provableChain()
    const trust = await trustOf(publicKeyToPem(key.publicKey))
    const tip = chain.tip().height
    const from = createCheckpoint({ chainId: chain.chainId, tree, size: 3, tip, maxReorgDepth: 2, keys: [key] })
    const to = createCheckpoint({ chainId: chain.chainId, tree, tip, maxReorgDepth: 2, keys: [key] })
    const doc = buildConsistencyProof({ chainId: chain.chainId, tree, from, to })
    const r = await verifyProof(doc, trust)
    expect(r.failure).toBeUndefined()
    expect(r.proven[0]).toMatch(/only grew/)
    // Trusting the older checkpoint itself instead of the key works for the `from` side only.
    expect((await verifyProof(doc, { keys: [], witnesses: [], checkpoints: [from] })).failure?.code).toBe('SIGNATURE_UNTRUSTED')
    expect((await verifyProof(doc, { ...trust, checkpoints: [from] })).failure).toBeUndefined()
    expect((await verifyProof(doc, trust, { requireFinal: true })).failure?.code).toBe('NOT_FINAL')
    // Another tree of the same size (another chain's blocks under this chain's name): inconsistent.
    const other = await provableChain({ key })
    const forgedTo = createCheckpoint({ chainId: chain.chainId, tree: other.tree, tip, maxReorgDepth: 2, keys: [key] })
    expect((await verifyProof({ ...doc, to: forgedTo }, trust)).failure?.code).toBe('CONSISTENCY_FAILED')
    expect(() => buildConsistencyProof({ chainId: chain.chainId, tree, from: to, to: from })).toThrow(/larger/)
  })
})
