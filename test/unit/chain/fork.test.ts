import { describe, expect, it } from 'vitest'
import { cpSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { Chain, createEndorsement, importBlock, parseEndorsement, resealOrphan, signImport, verifyChain, type ImportResult } from '../../../src/chain/index.js'
import type { SigningKey } from '../../../src/crypto/index.js'
import { readSeal } from '../../../src/storage/index.js'
import { filesMatchIndex, fixtureKey, makeSqlite, newTestChain } from '../../helpers/chain.js'
import { tmpDir } from '../../helpers/tmp.js'

const alice = fixtureKey('alice')
const bob = fixtureKey('bob')
const carol = fixtureKey('carol')

function endorse (chain: Chain, by: SigningKey, op: 'A' | 'R', target: SigningKey): ReturnType<typeof parseEndorsement> {
  return parseEndorsement(JSON.stringify(createEndorsement(by, chain.chainId, op, target.publicKey)), chain.chainId)
}

/** Two data directories of one chain: `a` and a copy `b` taken after `shared` blocks. */
async function twoBranches (o: { shared: number, maxReorgDepth?: number }): Promise<{ a: Chain, b: Chain }> {
  const { chain: a, dir } = await newTestChain({ key: alice, consensus: { maxReorgDepth: o.maxReorgDepth ?? 100 } })
  for (let i = 0; i < o.shared; i++) await signImport(a, makeSqlite(join(tmpDir(), 's.db'), 3, 100 + i), alice)
  a.close()
  const dirB = join(tmpDir(), 'b')
  cpSync(dir, dirB, { recursive: true })
  return { a: Chain.open(dir), b: Chain.open(dirB) }
}

/** Import b's canonical blocks from height `from` into a. */
async function feed (a: Chain, b: Chain, from: number): Promise<ImportResult[]> {
  const out: ImportResult[] = []
  for (let h = from; h <= b.tip().height; h++) {
    const p = b.dir.blockPath(h)
    out.push(await importBlock(a, p, readSeal(p)))
  }
  return out
}

async function assertFilesMatchIndex (c: Chain): Promise<void> {
  expect(await filesMatchIndex(c)).toEqual([])
}

describe('fork choice and reorg', () => {
  it('switches to a longer branch, moves files, undoes and redoes key state, and verify passes', async () => {
    const { a, b } = await twoBranches({ shared: 1 })
    // Branch A adds bob; branch B adds carol and is longer.
    await signImport(a, undefined, alice, { keyOps: [endorse(a, alice, 'A', bob)] })
    await signImport(a, makeSqlite(join(tmpDir(), 'a3.db'), 4, 3), bob)
    await signImport(b, undefined, alice, { keyOps: [endorse(b, alice, 'A', carol)] })
    await signImport(b, undefined, carol)
    await signImport(b, makeSqlite(join(tmpDir(), 'b4.db'), 4, 4), carol)
    const oldTip = a.tip()
    expect(a.keysAt(oldTip).isActive(bob.id)).toBe(true)
    // A snapshot of branch A, to grow it later and switch back.
    const snapDir = join(tmpDir(), 'a0')
    cpSync(a.dir.root, snapDir, { recursive: true })

    const results = await feed(a, b, 2)
    const reorg = results.find(r => r.status === 'reorg')
    expect(reorg).toBeDefined()
    expect(a.tip().hash).toBe(b.tip().hash)
    expect(reorg?.reorg?.forkHeight).toBe(1)
    expect(reorg?.reorg?.orphaned.map(x => x.hash)).toContain(oldTip.hash)
    // Key state follows the canonical branch.
    expect(a.keysAt(a.tip()).get(bob.id)).toBeUndefined()
    expect(a.keysAt(a.tip()).isActive(carol.id)).toBe(true)
    // The orphaned blocks are kept on a side branch, with their files.
    expect(a.index.sideBlocks().map(s => s.hash)).toContain(oldTip.hash)
    expect(existsSync(a.dir.forkPath(oldTip.hash))).toBe(true)
    await assertFilesMatchIndex(a)
    expect((await verifyChain(a, { workers: 1 })).ok).toBe(true)
    // The side branch still knows its own key state (bob signed its tip).
    expect(a.keysAt(a.get(oldTip.hash) as never).isActive(bob.id)).toBe(true)

    // Branch A grows past B again: switch back; files and key state follow.
    const a0 = Chain.open(snapDir)
    for (let i = 0; i < 3; i++) await signImport(a0, undefined, bob)
    const back = await feed(a, a0, 2)
    expect(back.some(r => r.status === 'reorg')).toBe(true)
    expect(a.tip().hash).toBe(a0.tip().hash)
    expect(a.keysAt(a.tip()).isActive(bob.id)).toBe(true)
    expect(a.keysAt(a.tip()).get(carol.id)).toBeUndefined()
    await assertFilesMatchIndex(a)
    expect((await verifyChain(a, { workers: 1 })).ok).toBe(true)
    a.close(); b.close(); a0.close()
  })

  it('at equal height the lower hash wins, whatever the arrival order', async () => {
    const { a, b } = await twoBranches({ shared: 1 })
    await signImport(a, makeSqlite(join(tmpDir(), 'x.db'), 2, 1), alice)
    await signImport(b, makeSqlite(join(tmpDir(), 'y.db'), 2, 2), alice)
    const [ha, hb] = [a.tip().hash, b.tip().hash]
    const r = (await feed(a, b, 2))[0] as ImportResult
    const winner = ha < hb ? ha : hb
    expect(a.tip().hash).toBe(winner)
    expect(r.status).toBe(hb < ha ? 'reorg' : 'side')
    const r2 = (await feed(b, a, 2))
    expect(r2.length).toBeGreaterThan(0)
    expect(b.tip().hash).toBe(winner)
    await assertFilesMatchIndex(a)
    await assertFilesMatchIndex(b)
    a.close(); b.close()
  })

  it('refuses a reorg deeper than max_reorg_depth and keeps the branch on the side', async () => {
    const { a, b } = await twoBranches({ shared: 1, maxReorgDepth: 1 })
    for (let i = 0; i < 2; i++) await signImport(a, undefined, alice)
    for (let i = 0; i < 4; i++) await signImport(b, makeSqlite(join(tmpDir(), `d${i}.db`), 1, i), alice)
    const before = a.tip()
    const results = await feed(a, b, 2)
    expect(results.some(r => r.reorgRefused !== undefined)).toBe(true)
    expect(results.find(r => r.reorgRefused !== undefined)?.reorgRefused).toEqual({ depth: 2, maxDepth: 1 })
    expect(a.tip()).toEqual(before)
    expect(a.index.sideBlocks()).toHaveLength(4)
    a.close(); b.close()
  })

  it('re-seals an orphaned block\'s content on the new tip: nothing is lost', async () => {
    const { a, b } = await twoBranches({ shared: 1 })
    const data = makeSqlite(join(tmpDir(), 'precious.db'), 25, 7, 'precious')
    await signImport(a, data, alice)
    const orphan = a.tip()
    for (let i = 0; i < 2; i++) await signImport(b, undefined, alice)
    await feed(a, b, 2)
    expect(a.tip().hash).toBe(b.tip().hash)
    const r = await resealOrphan(a, orphan.hash, alice)
    expect(r.status).toBe('extended')
    expect(r.block.height).toBe(4)
    // Same table, same rows (same Merkle root), now on the canonical chain.
    const before = a.index.tablesOf(orphan.hash)
    const after = a.index.tablesOf(r.block.hash)
    expect(after).toEqual(before)
    expect(after[0]?.rows).toBe(25)
    expect((await verifyChain(a, { workers: 1 })).ok).toBe(true)
    a.close(); b.close()
  })
})
