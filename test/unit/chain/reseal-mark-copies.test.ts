import { afterEach, describe, expect, it } from 'vitest'
import { cpSync } from 'node:fs'
import { join } from 'node:path'
import { Chain, contentIsBack, judgeOrphans, listOrphans, pendingOrphans, resealEach, resealMarkOf, resealOrphan, signImport } from '../../../src/chain/index.js'
import type { BlockRecord } from '../../../src/storage/index.js'
import { fixtureKey, keyOpBlock, makeSqlite, newTestChain } from '../../helpers/chain.js'
import { chainCopy, feed } from '../../helpers/orphan.js'
import { tmpDir } from '../../helpers/tmp.js'

// Session 49 (reseal49): the rule by rows root (for content without a record of its re-seals:
// `petal serve`, `petal orphans --all` for another signer, content published before the record)
// counted a block of the orphan's signer and rows root as its copy even when the block's re-seal
// mark names ANOTHER origin: a re-seal of a different publication of the same file stood for it,
// and that publication was lost.

const alice = fixtureKey('alice')
const bob = fixtureKey('bob')

const open: Chain[] = []
afterEach(() => { for (const c of open.splice(0)) c.close() })

const copyOf = (dir: string): Chain => chainCopy(dir, open)

async function data (c: Chain, by = alice, rows = 3, seed = 7): Promise<BlockRecord> {
  return (await signImport(c, makeSqlite(join(tmpDir(), `d${seed}-${Math.random()}.db`), rows, seed), by)).block
}

const onChain = (c: Chain, root: string): number => c.index.range(0, c.tip().height).filter(b => b.rowsRoot === root).length

/**
 * alice publishes file F as y; a reorg orphans y; on the winning branch she publishes F again as x
 * (a publication of its own) and y is re-sealed as s (marked: re-seal of y); a third branch
 * orphans x and s. Two publications of F, none canonical.
 */
async function twoPublications (): Promise<{ a: Chain, y: BlockRecord, x: BlockRecord, s: BlockRecord }> {
  const { chain: a, dir } = await newTestChain({ key: alice })
  open.push(a)
  await keyOpBlock(a, alice, 'A', bob)
  const base = join(tmpDir(), 'base')
  cpSync(dir, base, { recursive: true })
  const b = copyOf(base)
  const c = copyOf(base)
  const y = await data(a)
  for (let i = 0; i < 2; i++) await data(b, bob, 1, 20 + i)
  await feed(a, b, 1)
  const x = await data(a)
  const s = (await resealOrphan(a, y.hash, alice)).block
  expect(x.rowsRoot).toBe(y.rowsRoot)
  expect(resealMarkOf(a, s)).toBe(y.hash)
  for (let i = 0; i < 5; i++) await data(c, bob, 1, 40 + i)
  await feed(a, c, 1)
  expect([y, x, s].map(h => a.index.byHash(h.hash)?.canonical)).toEqual([false, false, false])
  return { a, y, x, s }
}

describe('the rule by rows root counts only copies of the orphan\'s own origin (reseal49)', () => {
  it('a re-seal marked as another publication\'s copy does not stand for the orphan: both publications end on the chain (old code: x taken as back, lost)', async () => {
    const { a, y, x, s } = await twoPublications()
    expect(pendingOrphans(a, alice.id).map(o => o.hash)).toEqual([y.hash, x.hash, s.hash])
    const done: string[] = []
    await resealEach(a, alice.id, async o => { done.push(o.hash); await resealOrphan(a, o.hash, alice); return true })
    // y re-sealed (marked y), then x (marked x); s is y's copy, back by y's new re-seal.
    expect(done).toEqual([y.hash, x.hash])
    expect(onChain(a, y.rowsRoot)).toBe(2)
    const verdicts = new Map(judgeOrphans(a, alice.id).map(j => [j.block.hash, j.verdict]))
    expect(verdicts.get(x.hash)).toMatchObject({ state: 'back', by: 'marked-copy' })
    expect(verdicts.get(s.hash)).toMatchObject({ state: 'back', by: 'marked-copy' })
  })

  it('what `petal orphans --all` says of x once only y is re-sealed: pending, not back by y\'s copy', async () => {
    const { a, y, x } = await twoPublications()
    const r = (await resealOrphan(a, y.hash, alice)).block
    const verdicts = new Map(judgeOrphans(a, alice.id).map(j => [j.block.hash, j.verdict]))
    expect(verdicts.get(y.hash)).toEqual({ state: 'back', by: 'marked-copy', block: r.hash })
    expect(verdicts.get(x.hash)).toEqual({ state: 'pending' })
  })

  it('an unmarked block (an older Petal\'s re-seal, or the same file imported again) still counts by rows root', async () => {
    const { a, y } = await twoPublications()
    // --force's kind of block: no mark. By rows root it stands for the lowest orphan with those rows.
    const u = (await resealOrphan(a, y.hash, alice, { origin: false })).block
    expect(resealMarkOf(a, u)).toBeUndefined()
    const verdicts = new Map(judgeOrphans(a, alice.id).map(j => [j.block.hash, j.verdict]))
    expect(verdicts.get(y.hash)).toEqual({ state: 'back', by: 'rows-root', block: u.hash })
  })
})

// `petal reseal` of an orphan deeper than max_reorg_depth (where the node's rule no longer looks)
// went ahead without asking anything: a marked copy already canonical was sealed again (reseal49).
describe('an orphan deeper than max_reorg_depth', () => {
  async function deep (): Promise<{ a: Chain, m: BlockRecord }> {
    const { chain: a, dir } = await newTestChain({ key: alice, consensus: { maxReorgDepth: 2 } })
    open.push(a)
    await keyOpBlock(a, alice, 'A', bob)
    const b = copyOf(dir)
    const m = await data(a)
    for (let i = 0; i < 2; i++) await data(b, bob, 1, 20 + i)
    await feed(a, b, 1)
    return { a, m }
  }
  const isDeep = (a: Chain, m: BlockRecord): boolean => m.height <= a.tip().height - a.params.maxReorgDepth

  it('is back when a copy marked as its re-seal is canonical: a re-seal by hand is refused (old code: sealed again, its rows twice)', async () => {
    const { a, m } = await deep()
    const s = (await resealOrphan(a, m.hash, alice)).block
    expect(isDeep(a, m)).toBe(true)
    expect(judgeOrphans(a, alice.id)).toEqual([])
    expect(resealMarkOf(a, s)).toBe(m.hash)
    expect(contentIsBack(a, m.hash, alice.id)).toBe(true)
    // `petal orphans` says so (it said `unjudged`, though `petal reseal` refuses it).
    expect(listOrphans(a).map(e => [e.block.hash, e.state, e.by, e.copy?.hash])).toEqual([[m.hash, 'back', 'marked-copy', s.hash]])
  })

  it('is not back by a publication of its own with the same rows (the rule by rows root does not reach that deep): a re-seal goes ahead', async () => {
    const { a, m } = await deep()
    const x = await data(a)
    await data(a, bob, 1, 30)
    expect(x.rowsRoot).toBe(m.rowsRoot)
    expect(isDeep(a, m)).toBe(true)
    expect(contentIsBack(a, m.hash, alice.id)).toBe(false)
    expect(listOrphans(a).map(e => [e.block.hash, e.state])).toEqual([[m.hash, 'unjudged']])
  })
})
