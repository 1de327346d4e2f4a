import { afterEach, describe, expect, it } from 'vitest'
import { cpSync } from 'node:fs'
import { join } from 'node:path'
import { Chain, importBlock, listOrphans, parseResealMark, resealDescription, resealMarkOf, resealOrphan, signImport, type OrphanEntry } from '../../../src/chain/index.js'
import type { SigningKey } from '../../../src/crypto/index.js'
import { readSeal, type BlockRecord } from '../../../src/storage/index.js'
import { fixtureKey, keyOpBlock, makeSqlite, newTestChain } from '../../helpers/chain.js'
import { tmpDir } from '../../helpers/tmp.js'

// `petal orphans`' list (listOrphans): every side-branch block with the node's own verdict on it
// (judgeOrphans, the rule of the re-seal pass), and the re-seal mark it reads (reseal-mark.ts).

const alice = fixtureKey('alice')
const bob = fixtureKey('bob')
const carol = fixtureKey('carol')

const open: Chain[] = []
afterEach(() => { for (const c of open.splice(0)) c.close() })

function track (c: Chain): Chain { open.push(c); return c }

/** A chain where alice added bob at height 1 (`a`), and `copy()`: another node at that point. */
async function forkPoint (consensus?: { maxReorgDepth: number }): Promise<{ a: Chain, copy: () => Chain }> {
  const { chain, dir } = await newTestChain({ key: alice, consensus })
  await keyOpBlock(chain, alice, 'A', bob)
  chain.close()
  const base = join(tmpDir(), 'base')
  cpSync(dir, base, { recursive: true })
  return { a: track(Chain.open(dir)), copy: () => { const to = join(tmpDir(), 'copy'); cpSync(base, to, { recursive: true }); return track(Chain.open(to)) } }
}

async function feed (into: Chain, from: Chain, above: number): Promise<void> {
  for (const b of from.index.range(above + 1, from.tip().height)) {
    const p = from.pathOf(b)
    await importBlock(into, p, readSeal(p), { expectedHash: b.hash })
  }
}

async function data (c: Chain, by: SigningKey, rows: number, seed: number): Promise<BlockRecord> {
  return (await signImport(c, makeSqlite(join(tmpDir(), `d${seed}-${Math.random()}.db`), rows, seed), by)).block
}

const states = (l: OrphanEntry[]): Array<[string, string, string | undefined]> => l.map(e => [e.block.hash, e.state, e.reason ?? e.by])

describe('listOrphans', () => {
  it('names each side block\'s state: awaiting re-seal, its signer not active, and back once re-sealed (marked on the chain)', async () => {
    const { a, copy } = await forkPoint()
    const b = copy()
    const m = await data(a, alice, 3, 1)
    const k = (await keyOpBlock(a, alice, 'A', carol)).block
    const c = await data(a, carol, 2, 2)
    for (let i = 0; i < 4; i++) await data(b, bob, 1, 10 + i)
    await feed(a, b, 1)
    expect(a.tip().height).toBe(5)

    expect(states(listOrphans(a))).toEqual([[m.hash, 'pending', undefined], [k.hash, 'pending', undefined], [c.hash, 'not-resealable', 'signer-not-active']])
    // Only the given signers' (petal orphans without --all: this directory's keys).
    expect(listOrphans(a, { signers: new Set([alice.id]) }).map(e => e.block.hash)).toEqual([m.hash, k.hash])
    const [first] = listOrphans(a)
    expect(first).toMatchObject({ tables: [{ name: 't', rows: 3 }], rows: 3 })
    // A block whose rows the ingest service sealed is its to re-seal, row by row.
    expect(listOrphans(a, { ingestOwned: h => h === m.hash })[0]).toMatchObject({ state: 'not-resealable', reason: 'ingest-rows' })

    const r = (await resealOrphan(a, m.hash, alice)).block
    expect(resealMarkOf(a, r)).toBe(m.hash)
    expect(listOrphans(a)[0]).toMatchObject({ state: 'back', by: 'marked-copy', copy: { hash: r.hash } })
  })

  it('an orphan whose key operation no longer applies has nothing to carry', async () => {
    const { a, copy } = await forkPoint()
    const b = copy()
    const k = (await keyOpBlock(a, alice, 'A', carol)).block
    await keyOpBlock(b, bob, 'A', carol)
    await data(b, bob, 1, 3)
    await feed(a, b, 1)
    expect(states(listOrphans(a))).toEqual([[k.hash, 'not-resealable', 'nothing-to-carry']])
  })

  it('a re-seal of a re-seal names the first publication as its origin; the first one canonical again brings both back', async () => {
    const { a, copy } = await forkPoint()
    const b = copy()
    const withM = copy()
    const m = await data(withM, alice, 3, 1)
    await feed(a, withM, 1)
    for (let i = 0; i < 2; i++) await data(b, bob, 1, 10 + i)
    await feed(a, b, 1)
    const r = (await resealOrphan(a, m.hash, alice)).block
    // A third branch orphans r too: its re-seal names m, not r.
    const third = copy()
    await feed(third, b, 1)
    for (let i = 0; i < 3; i++) await data(third, bob, 1, 30 + i)
    await feed(a, third, 3)
    expect(a.index.byHash(r.hash)?.canonical).toBe(false)
    expect(listOrphans(a).find(e => e.block.hash === r.hash)).toMatchObject({ state: 'pending', origin: m.hash })
    const s = (await resealOrphan(a, r.hash, alice)).block
    expect(resealMarkOf(a, s)).toBe(m.hash)
    expect(states(listOrphans(a)).filter(([h]) => h === m.hash || h === r.hash)).toEqual([[m.hash, 'back', 'marked-copy'], [r.hash, 'back', 'marked-copy']])
    // m's branch wins back: m is canonical, and both re-seals are back by their origin.
    for (let i = 0; i < 7; i++) await data(withM, bob, 1, 50 + i)
    await feed(a, withM, 1)
    expect(a.index.byHash(m.hash)?.canonical).toBe(true)
    expect(states(listOrphans(a)).filter(([h]) => h === r.hash || h === s.hash)).toEqual([[r.hash, 'back', 'origin'], [s.hash, 'back', 'origin']])
  })

  it('an orphan deeper than max_reorg_depth is listed, not judged', async () => {
    const { a, copy } = await forkPoint({ maxReorgDepth: 2 })
    const b = copy()
    const m = await data(a, alice, 3, 1)
    for (let i = 0; i < 2; i++) await data(b, bob, 1, 10 + i)
    await feed(a, b, 1)
    expect(states(listOrphans(a))).toEqual([[m.hash, 'pending', undefined]])
    await data(a, bob, 1, 20)
    await data(a, bob, 1, 21)
    expect(states(listOrphans(a))).toEqual([[m.hash, 'unjudged', undefined]])
  })
})

describe('the re-seal mark', () => {
  it('is the Description\'s last line, and only a full hash', () => {
    const h = 'ab'.repeat(32)
    expect(parseResealMark(resealDescription(h))).toBe(h)
    expect(parseResealMark(`notes\n${resealDescription(h)}`)).toBe(h)
    expect(parseResealMark(`${resealDescription(h)}\nmore`)).toBeUndefined()
    expect(parseResealMark(resealDescription(h.slice(2)))).toBeUndefined()
    expect(parseResealMark(`x${resealDescription(h)}`)).toBeUndefined()
    expect(parseResealMark(undefined)).toBeUndefined()
  })
})
