import { cpSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it, vi } from 'vitest'
import { Chain, chainTreeLeaf, importBlock, reindexChain, signImport } from '../../../src/chain/index.js'
import {
  buildConsistencyProof, buildProofBundle, chainLeafHash, chainLeafOf, findCheckpoint, inclusionProof, signTipCheckpoints, signTipCheckpointsLocked,
  signatoryVkey, storedChainTree, treeRoot, verifyProof, parseTrustFile, proveRows, judgeCheckpoint, keepReceivedCheckpoint, signCheckpoint, checkpointText, cosignCheckpoint
} from '../../../src/proof/index.js'
import { readSeal, WITNESS_KEY_LAST_META } from '../../../src/storage/index.js'
import { sha256FileSync } from '../../../src/crypto/index.js'
import { toHex } from '../../../src/util/index.js'
import { extendChain, fixtureKey, forkedPair, makeSqlite, newTestChain } from '../../helpers/chain.js'
import { chainTreeOf } from '../../helpers/proof.js'
import { tmpDir } from '../../helpers/tmp.js'

const alice = fixtureKey('alice')

/** The stored tree equals a tree rebuilt in memory from the index, node for node at the root and every leaf. */
function expectTreeMatches (chain: Chain): void {
  const stored = storedChainTree(chain)
  const memory = chainTreeOf(chain)
  expect(stored.size).toBe(chain.tip().height + 1)
  expect(toHex(treeRoot(stored, stored.size))).toBe(toHex(treeRoot(memory, memory.size)))
  for (let h = 0; h < stored.size; h++) expect(inclusionProof(stored, h, stored.size).map(toHex)).toEqual(inclusionProof(memory, h, memory.size).map(toHex))
}

async function trustOf (chain: Chain): Promise<Parameters<typeof verifyProof>[1]> {
  const t = await parseTrustFile(new TextEncoder().encode(await signatoryVkey(chain.chainId, alice)))
  if (typeof t === 'string') throw new Error(t)
  return t
}

describe('chain tree in chain.db', () => {
  it('grows with every accepted block, with the leaf the verifier encodes, and answers a proof with one query', async () => {
    const { chain } = await newTestChain({ key: alice })
    expectTreeMatches(chain)
    await extendChain(chain, alice, 6, 2)
    expectTreeMatches(chain)
    const tip = chain.tip()
    expect(toHex(chainTreeLeaf(tip))).toBe(toHex(chainLeafHash(chainLeafOf(tip))))
    // The height's eight bytes (a DataView since session 25): the largest height and 2^32 + 1 as the
    // verifier encodes them; a negative height is refused, as Buffer's writeBigUInt64BE refused it.
    for (const height of [Number.MAX_SAFE_INTEGER, 2 ** 32 + 1]) expect(toHex(chainTreeLeaf({ ...tip, height }))).toBe(toHex(chainLeafHash(chainLeafOf({ ...tip, height }))))
    expect(() => chainTreeLeaf({ ...tip, height: -1 })).toThrow(RangeError)
    const spy = vi.spyOn(chain.index.tree, 'readNodes')
    inclusionProof(storedChainTree(chain), 3, 7)
    expect(spy).toHaveBeenCalledTimes(1)
    expect(() => inclusionProof(storedChainTree(chain), 3, 8)).toThrow(/PROOF_NODE_MISSING|no node/)
    chain.close()
  })

  it('follows a reorg (truncate, then the new branch), survives reindex, and an old index gets its tree on open', async () => {
    const { a: chainA, b, dir } = await forkedPair(alice, 2, { maxReorgDepth: 10 })
    await extendChain(chainA, alice, 2, 2)
    await extendChain(b, alice, 4, 3)
    const before = storedChainTree(chainA)
    const oldRoot = toHex(treeRoot(before, before.size))
    let reorged = false
    for (let h = 3; h <= b.tip().height; h++) {
      const p = b.dir.blockPath(h)
      const r = await importBlock(chainA, p, readSeal(p))
      reorged ||= r.status === 'reorg'
    }
    expect(reorged).toBe(true)
    expect(chainA.tip().hash).toBe(b.tip().hash)
    expectTreeMatches(chainA)
    expect(toHex(treeRoot(storedChainTree(chainA), 5))).not.toBe(oldRoot)
    chainA.close()
    b.close()

    await reindexChain(dir)
    const again = Chain.open(dir)
    expectTreeMatches(again)
    again.close()

    // An index written before the chain tree existed (no rows): a writable open rebuilds it.
    const db = new Database(join(dir, 'chain.db'))
    db.exec('DELETE FROM chain_tree')
    db.close()
    const reopened = Chain.open(dir)
    expectTreeMatches(reopened)
    reopened.close()
  })
})

describe('signed checkpoints kept by the node', () => {
  it('signs the new tip in the import\'s own commit (signimportblock\'s afterAccept): one write transaction; a hook that throws leaves neither block nor note', async () => {
    const { chain } = await newTestChain({ key: alice, consensus: { maxReorgDepth: 2 } })
    await extendChain(chain, alice, 3, 3)
    const locks = vi.spyOn(chain.index, 'withWriteLock')
    let notes: string[] = []
    const r = await signImport(chain, makeSqlite(join(tmpDir(), 'a.db'), 5, 1), alice, { afterAccept: () => { notes = signTipCheckpointsLocked(chain, alice) } })
    expect(r.status).toBe('extended')
    expect(locks).toHaveBeenCalledTimes(1)
    expect(notes).toHaveLength(2)
    expect(findCheckpoint(chain, { height: 4 })).toMatchObject({ size: 5, tip: 4 })
    expect(findCheckpoint(chain, { height: 1, final: true })).toMatchObject({ size: 3, tip: 4 })

    await expect(signImport(chain, makeSqlite(join(tmpDir(), 'b.db'), 5, 2), alice, {
      afterAccept: () => { signTipCheckpointsLocked(chain, alice); throw new Error('refused after signing') }
    })).rejects.toThrow('refused after signing')
    expect(chain.tip().height).toBe(4)
    expect(chain.index.checkpoints.list({ minSize: 6, maxSize: 6 })).toEqual([])
    // The block file placed before the rollback is a crash leftover for the next writer to remove:
    // the next block at that height must be the file there, not the leftover under its name.
    expect(existsSync(chain.dir.blockPath(5))).toBe(true)
    await extendChain(chain, alice, 1, 4)
    expect(chain.tip().height).toBe(5)
    expect(sha256FileSync(chain.dir.blockPath(5))).toBe(chain.tip().hash)
    chain.close()
  })

  it('signs the latest and the final checkpoint of the tip; proofs against them verify, once each', async () => {
    const { chain } = await newTestChain({ key: alice, consensus: { maxReorgDepth: 2 } })
    await extendChain(chain, alice, 4, 3)
    const notes = await signTipCheckpoints(chain, alice)
    expect(notes).toHaveLength(2)
    expect(await signTipCheckpoints(chain, alice), 'the same tip is not signed twice').toEqual([])
    const latest = findCheckpoint(chain, { height: 4 })
    expect(latest?.size).toBe(5)
    expect(latest?.checkpoint.final).toBe(false)
    const final = findCheckpoint(chain, { height: 1, final: true })
    expect(final).toMatchObject({ size: 3, tip: 4 })
    expect(final?.checkpoint.final).toBe(true)
    expect(findCheckpoint(chain, { height: 3, final: true }), 'height 3 is not final yet').toBeUndefined()

    const trust = await trustOf(chain)
    const docs: string[] = []
    for (const c of [latest, final]) {
      if (c === undefined) throw new Error('no checkpoint')
      const doc = await buildProofBundle([{ path: chain.dir.blockPath(2), rows: [{ table: 't', rowid: 1n }] }], { chainId: chain.chainId, tree: storedChainTree(chain), checkpoint: c.note })
      const r = await verifyProof(JSON.stringify(doc), trust, { requireFinal: c === final })
      expect(r.ok, r.failure?.message).toBe(true)
      docs.push(JSON.stringify(doc))
    }
    // Across a restart and a reindex: the same checkpoints, the same proofs.
    const dir = chain.dir.root
    chain.close()
    await reindexChain(dir)
    const again = Chain.open(dir)
    for (const [i, wantFinal] of [false, true].entries()) {
      expect(findCheckpoint(again, { height: 2, final: wantFinal })?.note).toBe((wantFinal ? final : latest)?.note)
      const doc = await proveRows(again, { height: 2, table: 't', rows: [{ rowid: 1n }], final: wantFinal })
      expect(JSON.stringify(doc)).toBe(docs[i])
    }
    again.close()
  })

  it('one row a tree size once it is final: the note a signatory signed of it at the tip is dropped when its final one is kept', async () => {
    const { chain } = await newTestChain({ key: alice, consensus: { maxReorgDepth: 2 } })
    for (let t = 1; t <= 6; t++) {
      await extendChain(chain, alice, 1, 2)
      expect(await signTipCheckpoints(chain, alice)).toHaveLength(t >= 2 ? 2 : 1)
    }
    const rows = chain.index.checkpoints.list({ limit: 1000 }).map(r => [r.size, r.tip])
    // Final notes of sizes 1-5 (each signed at tip size + 1), the latest of sizes 6 and 7 (not final
    // yet); until session 52 the latest of sizes 2-5 stayed beside their final ones: 11 rows.
    expect(rows).toEqual([[7, 6], [6, 5], [5, 6], [4, 5], [3, 4], [2, 3], [1, 2]])
    // A peer behind gossips its tip's note of a tree final here: not kept again.
    const behind = signCheckpoint(checkpointText({ chainId: chain.chainId, size: 3, root: treeRoot(storedChainTree(chain), 3), tip: 2, maxReorgDepth: 2 }), [alice])
    expect(judgeCheckpoint(chain, behind)).toBe('accept')
    expect(await keepReceivedCheckpoint(chain, behind, 'behind')).toBe(false)
    expect(chain.index.checkpoints.list({ limit: 1000 })).toHaveLength(7)
    // What each size answers is what it answered (the higher tip was always preferred).
    expect(findCheckpoint(chain, { size: 3 })).toMatchObject({ size: 3, tip: 4 })
    expect(findCheckpoint(chain, { height: 6 })?.checkpoint.final).toBe(false)
    const r = await verifyProof(JSON.stringify(await proveRows(chain, { height: 2, table: 't', rows: [{ rowid: 1n }], final: true })), await trustOf(chain), { requireFinal: true })
    expect(r.ok, r.failure?.message).toBe(true)
    chain.close()
  })

  it('a key that is not a signatory signs nothing', async () => {
    const { chain } = await newTestChain({ key: alice })
    expect(await signTipCheckpoints(chain, fixtureKey('bob'))).toEqual([])
    expect(findCheckpoint(chain)).toBeUndefined()
    chain.close()
  })

  it('after a reorg, a checkpoint of the abandoned branch is kept but never used, and fails consistency with the new one', async () => {
    const { chain: a, dir } = await newTestChain({ key: alice, consensus: { maxReorgDepth: 10 } })
    await extendChain(a, alice, 1, 2)
    a.close()
    const dirB = join(tmpDir(), 'b')
    cpSync(dir, dirB, { recursive: true })
    const chainA = Chain.open(dir)
    const b = Chain.open(dirB)
    await signImport(chainA, makeSqlite(join(tmpDir(), 'x.db'), 3, 77), alice)
    await signTipCheckpoints(chainA, alice)
    const orphaned = findCheckpoint(chainA)
    expect(orphaned?.size).toBe(3)
    await extendChain(b, alice, 3, 2)
    for (let h = 2; h <= b.tip().height; h++) await importBlock(chainA, b.dir.blockPath(h), readSeal(b.dir.blockPath(h)))
    expect(findCheckpoint(chainA), 'no checkpoint of the new branch yet').toBeUndefined()
    expect(chainA.index.checkpoints.list()).toHaveLength(orphaned === undefined ? 0 : 1)
    await signTipCheckpoints(chainA, alice)
    const current = findCheckpoint(chainA)
    expect(current?.size).toBe(5)
    if (orphaned === undefined || current === undefined) throw new Error('no checkpoint')
    expect(() => buildConsistencyProof({ chainId: chainA.chainId, tree: storedChainTree(chainA), from: orphaned.note, to: current.note })).toThrow(/another branch/)
    // Reindex keeps checkpoints (signatures are not derived from block files).
    chainA.close()
    b.close()
    await reindexChain(dir)
    const again = Chain.open(dir)
    expect(findCheckpoint(again)?.note).toBe(current.note)
    again.close()
  })
})

describe('checkpoints from peers', () => {
  it('keeps one signed by an active signatory over its own tree; rejects forgeries, ignores what it cannot check yet', async () => {
    const { chain, dir } = await newTestChain({ key: alice })
    await extendChain(chain, alice, 2, 2)
    chain.close()
    const dirB = join(tmpDir(), 'b')
    cpSync(dir, dirB, { recursive: true })
    const a = Chain.open(dir)
    const b = Chain.open(dirB)
    await extendChain(a, alice, 1, 2)
    const [latest, final] = await signTipCheckpoints(a, alice)
    if (latest === undefined) throw new Error('no checkpoint')
    // b is one block behind a: a's latest is beyond b's tree, a checkpoint of b's own size is not.
    expect(judgeCheckpoint(b, latest)).toBe('ignore')
    const sized = signCheckpoint(checkpointText({ chainId: a.chainId, size: 3, root: treeRoot(storedChainTree(a), 3), tip: 3, maxReorgDepth: 100 }), [alice])
    expect(judgeCheckpoint(b, sized)).toBe('accept')
    expect(await keepReceivedCheckpoint(b, sized, 'peerX')).toBe(true)
    expect(await keepReceivedCheckpoint(b, sized, 'peerX'), 'kept once').toBe(false)
    expect(findCheckpoint(b)).toMatchObject({ size: 3, source: 'peer peerX' })
    if (final !== undefined) expect(judgeCheckpoint(b, final)).not.toBe('reject')

    // A bad signature by the signatory: reject (the sender is blamed).
    const lines = sized.split('\n')
    const sig = lines.at(-2) ?? ''
    const flipped = sig.slice(0, -6) + (sig.at(-6) === 'A' ? 'B' : 'A') + sig.slice(-5)
    expect(judgeCheckpoint(b, [...lines.slice(0, -2), flipped, ''].join('\n'))).toBe('reject')
    // Signed by a key that is not a signatory: nothing to check it with.
    const bob = fixtureKey('bob')
    expect(judgeCheckpoint(b, signCheckpoint(checkpointText({ chainId: a.chainId, size: 3, root: treeRoot(storedChainTree(a), 3), tip: 3, maxReorgDepth: 100 }), [bob]))).toBe('ignore')
    // Another root at a size b has (another branch): ignore; another chain: reject; garbage: reject.
    expect(judgeCheckpoint(b, signCheckpoint(checkpointText({ chainId: a.chainId, size: 3, root: new Uint8Array(32), tip: 3, maxReorgDepth: 100 }), [alice]))).toBe('ignore')
    expect(judgeCheckpoint(b, signCheckpoint(checkpointText({ chainId: 'f'.repeat(64), size: 3, root: new Uint8Array(32), tip: 3, maxReorgDepth: 100 }), [alice]))).toBe('reject')
    expect(judgeCheckpoint(b, 'hello\n')).toBe('reject')
    a.close()
    b.close()
  })
})

describe('witness cosignatures', () => {
  it('cosigns final checkpoints that extend the last one it cosigned; never a non-final, older or other-history one', async () => {
    const { chain: a0, dir } = await newTestChain({ key: alice, consensus: { maxReorgDepth: 1 } })
    await extendChain(a0, alice, 1, 2)
    a0.close()
    const a = Chain.open(dir)
    const w = { name: 'witness.example/w', key: fixtureKey('carol') }
    // What a signatory signs as final: its tip line puts the last block max_reorg_depth below it.
    const finalOf = (size: number): string => signCheckpoint(checkpointText({ chainId: a.chainId, size, root: treeRoot(storedChainTree(a), size), tip: size, maxReorgDepth: 1 }), [alice])
    const [latest, final] = await signTipCheckpoints(a, alice)
    if (latest === undefined || final === undefined) throw new Error('no checkpoints')
    expect(await cosignCheckpoint(a, latest, w), 'not final').toBeUndefined()
    const cosigned = await cosignCheckpoint(a, final, w)
    expect(cosigned).toContain('— witness.example/w ')
    expect(await cosignCheckpoint(a, final, w), 'not twice').toBeUndefined()
    await signImport(a, makeSqlite(join(tmpDir(), 'x.db'), 3, 77), alice)
    // A note that says its signer's tip is 3 calls height 2 final; at the witness's own tip, 2, it
    // is not: not cosigned until the witness's chain holds it final (until session 54 it was
    // cosigned on the signer's word, and a reorg of the witness's chain then stopped it for good).
    const third = finalOf(3)
    expect(await cosignCheckpoint(a, third, w), 'not final at the witness\'s tip').toBeUndefined()
    await signImport(a, makeSqlite(join(tmpDir(), 'y.db'), 3, 78), alice)
    expect(await cosignCheckpoint(a, third, w)).toBeDefined()
    expect(await cosignCheckpoint(a, finalOf(2), w), 'older than the last cosigned').toBeUndefined()
    // What it cosigned last is no longer in its chain (a witness of an earlier Petal that cosigned
    // on a signer's word, then reorganised): it refuses, rather than vouch for two histories.
    await extendChain(a, alice, 1, 2)
    expect(judgeCheckpoint(a, finalOf(4))).toBe('accept')
    await a.index.withWriteLock(async () => { a.index.setMeta(WITNESS_KEY_LAST_META + w.key.publicKey.hex, `3 ${'0'.repeat(64)}`) })
    expect(await cosignCheckpoint(a, finalOf(4), w)).toBeUndefined()
    a.close()
  })
})
