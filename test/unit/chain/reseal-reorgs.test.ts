import { afterEach, describe, expect, it } from 'vitest'
import { cpSync } from 'node:fs'
import { join } from 'node:path'
import { Chain, createEndorsement, importBlock, parseEndorsement, pendingOrphans, resealEach, resealOrphan, signImport } from '../../../src/chain/index.js'
import type { SigningKey } from '../../../src/crypto/index.js'
import { readSeal, type BlockRecord } from '../../../src/storage/index.js'
import { fixtureKey, keyOpBlock, makeSqlite, newTestChain } from '../../helpers/chain.js'
import { tmpDir } from '../../helpers/tmp.js'
import { chainCopy } from '../../helpers/orphan.js'

const alice = fixtureKey('alice')
const bob = fixtureKey('bob')
const carol = fixtureKey('carol')

const open: Chain[] = []
afterEach(() => { for (const c of open.splice(0)) c.close() })

/** A chain where alice added bob at height 1, and a copy of it: two nodes about to fork. */
async function forkPoint (consensus?: { maxReorgDepth: number }): Promise<{ a: Chain, copy: () => Chain }> {
  const { chain: a, dir } = await newTestChain({ key: alice, consensus })
  await keyOpBlock(a, alice, 'A', bob)
  open.push(a)
  const base = join(tmpDir(), 'base')
  a.close()
  cpSync(dir, base, { recursive: true })
  open.splice(open.indexOf(a), 1)
  const reopened = Chain.open(dir)
  open.push(reopened)
  return { a: reopened, copy: () => copyOf(base) }
}

const copyOf = (dir: string): Chain => chainCopy(dir, open)

/** Import `from`'s canonical blocks above `above` into `into`. */
async function feed (into: Chain, from: Chain, above: number): Promise<void> {
  for (const b of from.index.range(above + 1, from.tip().height)) {
    const p = from.pathOf(b)
    await importBlock(into, p, readSeal(p), { expectedHash: b.hash })
  }
}

async function data (c: Chain, by: SigningKey, rows: number, seed: number): Promise<BlockRecord> {
  return (await signImport(c, makeSqlite(join(tmpDir(), `d${seed}.db`), rows, seed), by)).block
}

describe('re-sealing orphans across reorgs (review45)', () => {
  it('a reorg back to the original branch: the re-seal, orphaned in turn, is not re-sealed again (its content is canonical at a lower height)', async () => {
    const { a, copy } = await forkPoint()
    const b = copy()
    const m = await data(a, alice, 4, 1)
    const withM = copyOf(a.dir.root)
    await data(b, bob, 1, 2)
    await data(b, bob, 1, 3)
    await feed(a, b, 1)
    expect(pendingOrphans(a, alice.id).map(x => x.hash)).toEqual([m.hash])
    const s = (await resealOrphan(a, m.hash, alice)).block
    expect(s.height).toBe(4)
    expect(pendingOrphans(a, alice.id)).toEqual([])

    // The branch of m grows longer elsewhere: m is canonical again, its re-seal s a side block.
    for (let i = 0; i < 3; i++) await data(withM, bob, 1, 10 + i)
    await feed(a, withM, 2)
    expect(a.tip().height).toBe(5)
    expect(a.index.byHash(m.hash)?.canonical).toBe(true)
    expect(a.index.byHash(s.hash)?.canonical).toBe(false)
    // m's rows are on the chain once: s must not be re-sealed (it would put them there twice).
    expect(pendingOrphans(a, alice.id)).toEqual([])
  })

  it('a block whose only content is a key operation is re-sealed even when an empty block of the same signer won above the fork', async () => {
    const { a, copy } = await forkPoint()
    const b = copy()
    const k = (await keyOpBlock(a, alice, 'A', carol)).block
    await data(b, bob, 1, 2)
    await signImport(b, undefined, alice) // an empty block: the same (empty) rows root as k
    await data(b, bob, 1, 3)
    await feed(a, b, 1)
    expect(a.keysAt(a.tip()).get(carol.id)).toBeUndefined()
    // carol's addition is in no canonical block: k still has to be re-sealed.
    expect(pendingOrphans(a, alice.id).map(x => x.hash)).toEqual([k.hash])
    const r = await resealOrphan(a, k.hash, alice)
    expect(a.keysAt(a.tip()).get(carol.id)?.addedAt).toBe(r.block.height)
    expect(pendingOrphans(a, alice.id)).toEqual([])
  })

  it('an orphan that only creates an empty table is re-sealed: its rows root is its own, not an empty block\'s', async () => {
    const { a, copy } = await forkPoint()
    const b = copy()
    const m = await data(a, alice, 0, 1)
    expect(a.index.tablesOf(m.hash).map(t => t.rows)).toEqual([0])
    await data(b, bob, 1, 2)
    await signImport(b, undefined, alice) // an empty block of the same signer above the fork
    await data(b, bob, 1, 3)
    await feed(a, b, 1)
    expect(a.index.byHash(m.hash)?.canonical).toBe(false)
    expect(pendingOrphans(a, alice.id).map(x => x.hash)).toEqual([m.hash])
    const r = (await resealOrphan(a, m.hash, alice)).block
    expect(a.index.tablesOf(r.hash)).toEqual(a.index.tablesOf(m.hash))
    expect(pendingOrphans(a, alice.id)).toEqual([])
  })

  it('an empty orphan whose key operation no longer applies is not re-sealed: nothing would be carried', async () => {
    const { a, copy } = await forkPoint()
    const b = copy()
    const k = (await keyOpBlock(a, alice, 'A', carol)).block
    await keyOpBlock(b, bob, 'A', carol) // the other branch adds carol too
    await data(b, bob, 1, 3)
    await feed(a, b, 1)
    expect(a.index.byHash(k.hash)?.canonical).toBe(false)
    expect(a.keysAt(a.tip()).get(carol.id)?.addedAt).toBe(2)
    expect(pendingOrphans(a, alice.id)).toEqual([])
  })
})

describe('key state at a fork point (review45)', () => {
  it('a key added on the losing branch is not authorised after the reorg; its block there is not re-sealed under its name until the key is added again', async () => {
    const { a, copy } = await forkPoint()
    const b = copy()
    const k = (await keyOpBlock(a, alice, 'A', carol)).block
    const c3 = await data(a, carol, 3, 5)
    expect(a.keysAt(a.tip()).isActive(carol.id)).toBe(true)
    for (let i = 0; i < 3; i++) await data(b, bob, 1, 20 + i)
    await feed(a, b, 1)
    expect(a.tip().height).toBe(4)
    expect(a.index.byHash(c3.hash)?.canonical).toBe(false)
    // Undone with its branch: carol is no signatory at the new tip, nor at any canonical height.
    for (let h = 0; h <= 4; h++) expect(a.keysAt(a.index.byHeight(h) as BlockRecord).get(carol.id)).toBeUndefined()
    expect(a.index.signers().map(s => s.keyId)).not.toContain(carol.id)
    // Still so after a restart (the index as written, not a cache).
    const dir = a.dir.root
    a.close(); open.splice(open.indexOf(a), 1)
    const again = Chain.open(dir)
    open.push(again)
    expect(again.keysAt(again.tip()).get(carol.id)).toBeUndefined()
    // Its block on the losing branch cannot be re-sealed under its name.
    await expect(resealOrphan(again, c3.hash, carol)).rejects.toMatchObject({ code: 'SIGNER_NOT_AUTHORISED' })
    expect(again.tip().height).toBe(4)
    // A block carol signs on the new tip is refused by every node.
    const hostile = Chain.open((() => { const d = join(tmpDir(), 'hostile'); cpSync(dir, d, { recursive: true }); return d })())
    open.push(hostile)
    await expect(data(hostile, carol, 1, 40)).rejects.toMatchObject({ code: 'SIGNER_NOT_AUTHORISED' })
    // alice re-seals her key operation: carol is a signatory from that height on, and only then.
    const r = await resealOrphan(again, k.hash, alice)
    expect(again.keysAt(again.tip()).get(carol.id)).toMatchObject({ addedAt: r.block.height, revokedAt: null })
    expect(again.keysAt(again.index.byHeight(r.block.height - 1) as BlockRecord).get(carol.id)).toBeUndefined()
    const c = await resealOrphan(again, c3.hash, carol)
    expect(c.block.height).toBe(r.block.height + 1)
    expect(pendingOrphans(again, carol.id)).toEqual([])
  })

  it('a key revoked on the losing branch is a signatory again after the reorg, and the revocation is re-sealed on the new tip', async () => {
    const { a, copy } = await forkPoint()
    const b = copy()
    const rv = (await keyOpBlock(a, alice, 'R', bob)).block
    expect(a.keysAt(a.tip()).isActive(bob.id)).toBe(false)
    for (let i = 0; i < 2; i++) await data(b, bob, 1, 30 + i)
    await feed(a, b, 1)
    expect(a.index.byHash(rv.hash)?.canonical).toBe(false)
    expect(a.keysAt(a.tip()).isActive(bob.id)).toBe(true)
    expect(pendingOrphans(a, alice.id).map(x => x.hash)).toEqual([rv.hash])
    const r = await resealOrphan(a, rv.hash, alice)
    expect(a.keysAt(a.tip()).get(bob.id)?.revokedAt).toBe(r.block.height)
    expect(pendingOrphans(a, alice.id)).toEqual([])
  })
})

// pendingOrphans takes a canonical block of the orphan's signer and rows root above the fork as
// its content back. Two blocks of one signer may hold the same rows on purpose (the same file
// imported twice): each is content of its own, and one canonical copy stands for one of them only.
describe('orphans with equal rows roots (review46)', () => {
  /** alice's two blocks with the same rows, orphaned by bob's longer branch; `withTwins`: a copy of a before the reorg. */
  async function twinsOrphaned (): Promise<{ a: Chain, twins: BlockRecord[], withTwins: Chain }> {
    const { a, copy } = await forkPoint()
    const b = copy()
    const twins = [await data(a, alice, 3, 7), await data(a, alice, 3, 7)]
    expect(twins[0]?.rowsRoot).toBe(twins[1]?.rowsRoot)
    const withTwins = copyOf(a.dir.root)
    for (let i = 0; i < 3; i++) await data(b, bob, 1, 50 + i)
    await feed(a, b, 1)
    expect(twins.map(t => a.index.byHash(t.hash)?.canonical)).toEqual([false, false])
    return { a, twins, withTwins }
  }

  it('the second of two orphans with the same rows is still pending after the first is re-sealed, also across a restart', async () => {
    const { a, twins } = await twinsOrphaned()
    const [t1, t2] = twins as [BlockRecord, BlockRecord]
    expect(pendingOrphans(a, alice.id).map(x => x.hash)).toEqual([t1.hash, t2.hash])
    // A pass stopped after its first re-seal (the node restarted, or a peer's branch came first).
    await resealEach(a, alice.id, async o => { await resealOrphan(a, o.hash, alice); return false })
    // The re-seal of t1 is one copy of those rows: t2's is still to come (it was dropped: lost).
    expect(pendingOrphans(a, alice.id).map(x => x.hash)).toEqual([t2.hash])
    // Derived from the index alone: a node restarted between the two re-seals sees the same.
    const dir = a.dir.root
    a.close(); open.splice(open.indexOf(a), 1)
    const again = Chain.open(dir)
    open.push(again)
    expect(pendingOrphans(again, alice.id).map(x => x.hash)).toEqual([t2.hash])
    await resealOrphan(again, t2.hash, alice)
    expect(pendingOrphans(again, alice.id)).toEqual([])
    const copies = again.index.range(0, again.tip().height).filter(c => c.signer === alice.id && c.rowsRoot === t1.rowsRoot)
    expect(copies).toHaveLength(2)
  })

  it('two such orphans re-sealed, then their branch wins back: neither re-seal is re-sealed (the rows are there twice, as published)', async () => {
    const { a, twins, withTwins } = await twinsOrphaned()
    for (const t of twins) await resealOrphan(a, t.hash, alice)
    expect(pendingOrphans(a, alice.id)).toEqual([])
    // The twins' branch grows past bob's and the re-seals: a is back on it, the re-seals side blocks.
    for (let i = 0; i < 4; i++) await data(withTwins, bob, 1, 70 + i)
    await feed(a, withTwins, 1)
    expect(twins.map(t => a.index.byHash(t.hash)?.canonical)).toEqual([true, true])
    expect(a.index.sideBlocks().filter(x => x.signer === alice.id && x.rowsRoot === twins[0]?.rowsRoot)).toHaveLength(2)
    expect(pendingOrphans(a, alice.id)).toEqual([])
  })

  it('an orphan and its own re-seal, both orphaned by a third branch: re-sealed once', async () => {
    const { a, copy } = await forkPoint()
    const b = copy()
    const c = copy()
    const m = await data(a, alice, 4, 1)
    for (let i = 0; i < 2; i++) await data(b, bob, 1, 60 + i)
    await feed(a, b, 1)
    const s = (await resealOrphan(a, m.hash, alice)).block
    for (let i = 0; i < 4; i++) await data(c, bob, 1, 80 + i)
    await feed(a, c, 1)
    expect([m, s].map(x => a.index.byHash(x.hash)?.canonical)).toEqual([false, false])
    expect(pendingOrphans(a, alice.id).map(x => x.hash)).toEqual([m.hash, s.hash])
    // The node's pass: s is m's content, back once m is re-sealed; one copy of m's rows, not two
    // (the pass re-sealed every block of the list it took first: s as well).
    const done: string[] = []
    await resealEach(a, alice.id, async o => { done.push(o.hash); await resealOrphan(a, o.hash, alice); return true })
    expect(done).toEqual([m.hash])
    expect(pendingOrphans(a, alice.id)).toEqual([])
    expect(a.index.range(0, a.tip().height).filter(x => x.rowsRoot === m.rowsRoot)).toHaveLength(1)
  })

  it('a block with rows and a key addition: re-sealed with both, and after a reorg back to it neither is carried twice', async () => {
    const { a, copy } = await forkPoint()
    const b = copy()
    const withBoth = copyOf(a.dir.root)
    const keyOps = [parseEndorsement(JSON.stringify(createEndorsement(alice, a.chainId, 'A', carol.publicKey)), a.chainId)]
    const m = (await signImport(withBoth, makeSqlite(join(tmpDir(), 'both.db'), 3, 11), alice, { keyOps })).block
    await feed(a, withBoth, 1)
    for (let i = 0; i < 3; i++) await data(b, bob, 1, 90 + i)
    await feed(a, b, 1)
    expect(a.keysAt(a.tip()).get(carol.id)).toBeUndefined()
    expect(pendingOrphans(a, alice.id).map(x => x.hash)).toEqual([m.hash])
    const s = (await resealOrphan(a, m.hash, alice)).block
    expect(a.keysAt(a.tip()).get(carol.id)?.addedAt).toBe(s.height)
    expect(a.index.tablesOf(s.hash)).toEqual(a.index.tablesOf(m.hash))
    expect(pendingOrphans(a, alice.id)).toEqual([])
    // m's branch wins back: m holds the rows and the addition again, its re-seal is a side block.
    for (let i = 0; i < 4; i++) await data(withBoth, bob, 1, 95 + i)
    await feed(a, withBoth, 2)
    expect([m, s].map(x => a.index.byHash(x.hash)?.canonical)).toEqual([true, false])
    expect(a.keysAt(a.tip()).get(carol.id)?.addedAt).toBe(m.height)
    expect(pendingOrphans(a, alice.id)).toEqual([])
  })

  it('an orphan whose branch is partly pruned is not taken as back by an older block with the same rows far below its fork', async () => {
    const depth = 8
    const { a } = await forkPoint({ maxReorgDepth: depth })
    // The same rows once already, at height 2, long canonical.
    const old = await data(a, alice, 3, 9)
    for (let h = 3; h <= 20; h++) await data(a, bob, 1, 100 + h)
    const base = copyOf(a.dir.root)
    // a's branch above 20: bob's blocks, then alice's block with the rows of height 2 again at 25.
    for (let h = 21; h <= 24; h++) await data(a, bob, 1, 200 + h)
    const m = await data(a, alice, 3, 9)
    expect([m.height, m.rowsRoot]).toEqual([25, old.rowsRoot])
    for (let h = 26; h <= 28; h++) await data(a, bob, 1, 300 + h)
    // The other branch from 20 reaches 29: a reorg of depth 8; at 32 the side blocks below 24 are pruned.
    for (let h = 21; h <= 32; h++) await data(base, bob, 1, 400 + h)
    await feed(a, base, 20)
    expect(a.tip().height).toBe(32)
    expect(a.index.byHash(m.hash)?.canonical).toBe(false)
    // m's parent at 24 is there, its grandparent at 23 pruned: the fork is not known, but lies no
    // lower than m.height - max_reorg_depth (the reorg's depth), far above height 2.
    expect(a.index.byHash(m.parent)?.canonical).toBe(false)
    expect(a.index.byHash(a.index.byHash(m.parent)?.parent as string)).toBeUndefined()
    expect(pendingOrphans(a, alice.id).map(x => x.hash)).toEqual([m.hash])
  })
})
