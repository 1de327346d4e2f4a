import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { Chain, importBlock, reindexChain } from '../../../src/chain/index.js'
import { DataDir, readSeal, sealPathOf } from '../../../src/storage/index.js'
import { extendChain, fixtureKey, forkedPair, newTestChain } from '../../helpers/chain.js'
import { tmpDir } from '../../helpers/tmp.js'
import { buildDaisyDir, daisyBlockPath } from '../../helpers/daisy.js'
import { petalInProcess } from '../../helpers/cli.js'

const alice = fixtureKey('alice')

/** Move block `height`'s file and seal out of the data directory `root`. */
function moveOut (root: string, height: number): string {
  const path = new DataDir(root).blockPath(height)
  const away = join(tmpDir(), 'away')
  mkdirSync(away, { recursive: true })
  for (const p of [path, sealPathOf(path)]) renameSync(p, join(away, basename(p)))
  return away
}

// `petal reindex` replayed the canonical files from genesis up to the first one missing and
// committed that as the chain, saying nothing of the files above the gap (review54): the tip fell,
// blocks the index held (and a pending.db's batches in them) were dropped, and the files stayed in
// their slots, where the next import's grouped placement, which replaces no file already there
// (a journal's replay), left them under the new blocks' index rows: `petal verify` then failed at
// the first of them (its parent is not the block below). docs/cli.md says a block file that fails
// stops a reindex with the block's code, chain.db left as it was; a missing one in the middle now does.
describe('reindex with a block file missing below others', () => {
  it('stops with BLOCK_FILE_MISSING naming the missing file, and leaves chain.db as it was', async () => {
    const { chain, dir } = await newTestChain({ key: alice })
    await extendChain(chain, alice, 4, 2)
    const tip = chain.tip()
    const missing = chain.dir.blockPath(2)
    moveOut(dir, 2)
    chain.close()
    const err = await reindexChain(dir).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'BLOCK_FILE_MISSING', details: { height: 2 } })
    expect((err as Error).message).toContain(missing)
    expect((err as Error).message).toContain('chain.db is left as it was')
    const after = Chain.open(dir)
    try {
      expect(after.tip()).toMatchObject({ height: tip.height, hash: tip.hash })
    } finally {
      after.close()
    }
  })

  // The top file missing (nothing above it), chain.db kept: the reindex fell to the block below
  // without a word though the old index held the block, and a signatory then sealed another block
  // at that height, a fork of its own making (review55). Now refused unless --truncate accepts it.
  it('with the top block files missing and chain.db kept: refused, naming the block the index held; --truncate drops it, the hint\'s import puts it back', async () => {
    const { chain, dir } = await newTestChain({ key: alice })
    await extendChain(chain, alice, 4, 2)
    const [three, four] = [3, 4].map(h => chain.index.byHeight(h))
    const away4 = moveOut(dir, 4)
    const away3 = moveOut(dir, 3)
    chain.close()
    const err = await reindexChain(dir).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'BLOCK_FILE_MISSING', details: { height: 3, hash: three?.hash, indexTip: 4 } })
    expect((err as Error).message).toContain(`block 3 (${three?.hash ?? ''})`)
    expect((err as Error).message).toContain('chain.db is left as it was')
    expect((err as { hint: string }).hint).toContain('`petal verify --repair`')
    expect((err as { hint: string }).hint).toContain('`petal reindex --truncate` rebuilds the chain up to block 2')
    // The hint's way: copies imported (each `repaired`), then the reindex keeps all.
    const kept = Chain.open(dir)
    try {
      expect(kept.tip().hash).toBe(four?.hash)
      for (const h of [3, 4]) {
        const copy = join(h === 3 ? away3 : away4, basename(kept.dir.blockPath(h)))
        expect(await importBlock(kept, copy, readSeal(copy))).toMatchObject({ status: 'repaired' })
      }
    } finally {
      kept.close()
    }
    expect(await reindexChain(dir)).toMatchObject({ tipHeight: 4, tipHash: four?.hash })
    // Accepted: rebuilt to block 3, the dropped block named.
    moveOut(dir, 4)
    expect(await reindexChain(dir, { truncate: true })).toMatchObject({ tipHeight: 3, dropped: { height: 4, hash: four?.hash, toHeight: 4 } })
  })

  it('passes over a file in the data directory named as a shard directory would be', async () => {
    const { chain, dir } = await newTestChain({ key: alice })
    await extendChain(chain, alice, 2, 2)
    chain.close()
    writeFileSync(join(dir, 'beef'), 'notes\n')
    expect(await reindexChain(dir)).toMatchObject({ tipHeight: 2 })
  })

  it('of a chain.db replaced (unreadable), says how to go on without verify --repair, which needs the old index; its way works', async () => {
    const { chain, dir } = await newTestChain({ key: alice })
    await extendChain(chain, alice, 3, 2)
    const one = chain.index.byHeight(1)?.hash
    moveOut(dir, 2)
    chain.close()
    for (const f of ['chain.db-wal', 'chain.db-shm']) rmSync(join(dir, f), { force: true })
    writeFileSync(join(dir, 'chain.db'), Buffer.alloc(8192, 7))
    const err = await reindexChain(dir).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'BLOCK_FILE_MISSING', details: { height: 2 } })
    expect((err as { hint: string }).hint).toContain('to rebuild the chain up to block 1, move the block files above it out of the data directory and run `petal reindex` again')
    expect((err as { hint: string }).hint).not.toContain('verify --repair')
    // Run again, on the empty chain.db the first run left: the same (verify --repair refuses an empty index; review55).
    expect(await reindexChain(dir).catch((e: unknown) => e)).toMatchObject({ code: 'BLOCK_FILE_MISSING', details: { height: 2 }, hint: (err as { hint: string }).hint })
    // The hint's way: the files above the gap moved out, the chain is rebuilt up to block 1.
    moveOut(dir, 3)
    expect(await reindexChain(dir)).toMatchObject({ tipHeight: 1, tipHash: one })
  })

  // The genesis has no block below it: the hint said to rebuild "up to block -1" by moving every
  // file out, after which the reindex failed EMPTY_CHAIN with the hint to run it again, and status
  // and pull said INDEX_CORRUPT, run reindex: a loop (review55).
  it('of a chain.db replaced, with the genesis file missing: a hint that does not rebuild to an empty chain; with no block file at all, BLOCK_FILE_MISSING too', async () => {
    const { chain, dir } = await newTestChain({ key: alice })
    await extendChain(chain, alice, 2, 2)
    const genesis = chain.chainId
    moveOut(dir, 0)
    chain.close()
    for (const f of ['chain.db', 'chain.db-wal', 'chain.db-shm']) rmSync(join(dir, f), { force: true })
    const err = await reindexChain(dir).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'BLOCK_FILE_MISSING', details: { height: 0 } })
    const hint = (err as { hint: string }).hint
    expect(hint).not.toContain('block -1')
    expect(hint).toContain(genesis)
    expect(hint).toContain('`petal --dir NEW pull ADDR`')
    // Every block file out (what the old hint said to do): still the genesis missing, not EMPTY_CHAIN.
    for (const h of [1, 2]) moveOut(dir, h)
    expect(await reindexChain(dir).catch((e: unknown) => e)).toMatchObject({ code: 'BLOCK_FILE_MISSING', details: { height: 0 } })
  })

  // Petal's state of a Daisy directory, its chain.db gone and Daisy's genesis file missing: the hint
  // said to pull the chain too, which Petal cannot do for a Daisy chain (session 56). Its way, run.
  it('of a Daisy directory\'s state, with Daisy\'s genesis file missing: the hint restores the file and rebuilds the state by reading the Daisy directory', async () => {
    const f = buildDaisyDir(join(tmpDir(), 'daisy'))
    const state = join(tmpDir(), 'state')
    expect((await petalInProcess(['--dir', f.root, '--state', state, 'status'])).code).toBe(0)
    const away = join(tmpDir(), 'genesis.db')
    renameSync(daisyBlockPath(f.root, 0), away)
    for (const x of ['chain.db', 'chain.db-wal', 'chain.db-shm']) rmSync(join(state, x), { force: true })
    const err = await reindexChain(state).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'BLOCK_FILE_MISSING', details: { height: 0 } })
    const hint = (err as { hint: string }).hint
    expect(hint).not.toContain('pull ADDR')
    expect(hint).toContain(join(f.root, 'daisy.db'))
    renameSync(away, daisyBlockPath(f.root, 0))
    const command = /`petal (--dir \S+ --state \S+ status)`/.exec(hint)?.[1]
    expect(command, hint).toBe(`--dir ${f.root} --state ${state} status`)
    const status = await petalInProcess(command?.split(' ') ?? [])
    expect(status.code, status.stderr).toBe(0)
    expect(status.stdout).toContain('height 3')
  })

  // The same state, chain.db kept and Daisy's top file missing: refused (session 56), with a hint
  // for a Daisy directory (verify --repair, import and --truncate's reindex do not apply there). Run.
  it('of a Daisy directory\'s state, chain.db kept, with Daisy\'s top file missing: refused, the hint puts it back and rebuilds through the Daisy directory', async () => {
    const f = buildDaisyDir(join(tmpDir(), 'daisy'))
    const state = join(tmpDir(), 'state')
    expect((await petalInProcess(['--dir', f.root, '--state', state, 'status'])).code).toBe(0)
    const away = join(tmpDir(), 'top.db')
    renameSync(daisyBlockPath(f.root, 3), away)
    const err = await reindexChain(state).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'BLOCK_FILE_MISSING', details: { height: 3 } })
    const hint = (err as { hint: string }).hint
    expect(hint).not.toContain('verify --repair')
    renameSync(away, daisyBlockPath(f.root, 3))
    const command = /`petal (--dir \S+ --state \S+ status)`/.exec(hint)?.[1]
    expect(command, hint).toBe(`--dir ${f.root} --state ${state} status`)
    const status = await petalInProcess(command?.split(' ') ?? [])
    expect(status.code, status.stderr).toBe(0)
    expect(status.stdout).toContain('height 3')
  })

  it('of a chain.db whose tip is below the missing file: not verify --repair, which fetches only the blocks the index holds', async () => {
    const { chain, dir } = await newTestChain({ key: alice })
    await extendChain(chain, alice, 3, 2)
    chain.close()
    const three = moveOut(dir, 3)
    moveOut(dir, 2)
    expect(await reindexChain(dir, { truncate: true })).toMatchObject({ tipHeight: 1 })
    const path = new DataDir(dir).blockPath(3)
    for (const p of [path, sealPathOf(path)]) renameSync(join(three, basename(p)), p)
    const err = await reindexChain(dir).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'BLOCK_FILE_MISSING', details: { height: 2 } })
    expect((err as { hint: string }).hint).not.toContain('verify --repair')
    expect((err as { hint: string }).hint).toContain('to rebuild the chain up to block 1')
  })

  it('rebuilds up to the gap once the files above it are moved out, and a later import places its own files there', async () => {
    const { a, b, dir } = await forkedPair(alice, 0)
    await extendChain(a, alice, 3, 2)
    await extendChain(b, alice, 4, 3)
    for (const h of [3, 2, 1]) moveOut(dir, h)
    a.close()
    expect(await reindexChain(dir, { truncate: true })).toMatchObject({ tipHeight: 0 })
    const c = Chain.open(dir)
    try {
      for (const blk of b.index.range(1, b.tip().height)) await importBlock(c, b.pathOf(blk), readSeal(b.pathOf(blk)))
      expect(c.tip().hash).toBe(b.tip().hash)
      for (let h = 1; h <= 4; h++) expect(existsSync(c.dir.blockPath(h))).toBe(true)
    } finally {
      c.close()
      b.close()
    }
  })
})
