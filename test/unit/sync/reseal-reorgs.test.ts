import { afterEach, describe, expect, it } from 'vitest'
import { cpSync } from 'node:fs'
import { join } from 'node:path'
import { Chain, importBlock, resealOrphan, signImport } from '../../../src/chain/index.js'
import type { SigningKey } from '../../../src/crypto/index.js'
import { readSeal, type BlockRecord } from '../../../src/storage/index.js'
import { pendingOrphans } from '../../../src/sync/index.js'
import { fixtureKey, keyOpBlock, makeSqlite, newTestChain } from '../../helpers/chain.js'
import { tmpDir } from '../../helpers/tmp.js'

const alice = fixtureKey('alice')
const bob = fixtureKey('bob')
const carol = fixtureKey('carol')

const open: Chain[] = []
afterEach(() => { for (const c of open.splice(0)) c.close() })

/** A chain where alice added bob at height 1, and a copy of it: two nodes about to fork. */
async function forkPoint (): Promise<{ a: Chain, copy: () => Chain }> {
  const { chain: a, dir } = await newTestChain({ key: alice })
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

function copyOf (dir: string): Chain {
  const to = join(tmpDir(), 'copy')
  cpSync(dir, to, { recursive: true })
  const c = Chain.open(to)
  open.push(c)
  return c
}

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
