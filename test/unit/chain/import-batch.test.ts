import { beforeAll, describe, expect, it } from 'vitest'
import { copyFileSync, cpSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { Chain, importBatch, importBlock, loadBlock, signImport, verifyChain, type LoadedBlock } from '../../../src/chain/index.js'
import { readSeal, sealPathOf } from '../../../src/storage/index.js'
import { filesMatchIndex, fixtureKey, keyOpBlock, makeSqlite, newTestChain } from '../../helpers/chain.js'
import { cloneGenesis } from '../../helpers/network.js'
import { tmpDir } from '../../helpers/tmp.js'

// Batched placement (docs/performance/sync.md, "What was built"): a run of blocks extending
// the tip is validated in order and stored as one group with one index transaction. It must
// leave exactly what importing the blocks one at a time leaves.

const alice = fixtureKey('alice')
const bob = fixtureKey('bob')

let source: Chain // genesis + 40 blocks; bob added at 3, signs from 4 on, PRUNE_EVERY (32) crossed
let genesis: { params: Chain['params'], genesisFile: string }

beforeAll(async () => {
  const t = await newTestChain({ key: alice, consensus: { maxReorgDepth: 4 } })
  const work = tmpDir()
  await signImport(t.chain, makeSqlite(join(work, '1.db'), 5, 1), alice)
  await signImport(t.chain, makeSqlite(join(work, '2.db'), 5, 2), alice)
  await keyOpBlock(t.chain, alice, 'A', bob)
  for (let h = 4; h <= 40; h++) await signImport(t.chain, makeSqlite(join(work, `${h}.db`), 3, h), h % 2 === 0 ? bob : alice)
  source = t.chain
  genesis = { params: t.chain.params, genesisFile: join(t.dir, '0000', 'block_00000000.db') }
  return () => { source.close() }
}, 120_000)

async function fresh (): Promise<Chain> {
  return Chain.open(await cloneGenesis(genesis))
}

async function loadAll (into: Chain, from: Chain, heights: number[], seal?: (h: number) => string): Promise<LoadedBlock[]> {
  return await Promise.all(heights.map(async h => {
    const p = from.dir.blockPath(h)
    return await loadBlock(into, p, seal?.(h) ?? readSeal(p))
  }))
}

const range = (a: number, b: number): number[] => Array.from({ length: b - a + 1 }, (_, i) => a + i)

/** Everything the index holds about the chain, without arrival times. */
function indexDump (c: Chain): Record<string, unknown[]> {
  const db = new Database(c.dir.chainDb, { readonly: true })
  try {
    return {
      // Without blocks.id, which may differ (the order the blocks were stored in).
      blocks: db.prepare('SELECT * FROM blocks ORDER BY hash').all().map(r => ({ ...(r as Record<string, unknown>), id: 0, received_at: 0 })),
      tables: db.prepare('SELECT b.hash, t.name, t.sql, t.rows, t.root FROM block_tables t JOIN blocks b ON b.id = t.block ORDER BY b.hash, t.name').all(),
      keyOps: db.prepare('SELECT * FROM key_ops ORDER BY hash, key_id').all(),
      signers: db.prepare('SELECT * FROM signers ORDER BY key_id').all(),
      tree: db.prepare('SELECT level, idx, hex(hash) FROM chain_tree ORDER BY level, idx').all()
    }
  } finally {
    db.close()
  }
}

function tmpLeft (c: Chain): string[] {
  try { return readdirSync(c.dir.tmpDir) } catch { return [] }
}

describe('importBatch', () => {
  it('leaves the same index, files and key state as importing the blocks one at a time', async () => {
    const one = await fresh()
    for (const h of range(1, 40)) {
      const p = source.dir.blockPath(h)
      await importBlock(one, p, readSeal(p))
    }
    const batched = await fresh()
    // Three batches (sizes 7, 30, 3): one crosses the key operation, one the pruning height.
    for (const [a, b] of [[1, 7], [8, 37], [38, 40]] as const) {
      const r = await importBatch(batched, await loadAll(batched, source, range(a, b)))
      expect(r.failure).toBeUndefined()
      expect(r.results.map(x => x.status)).toEqual(range(a, b).map(() => 'extended'))
      expect(r.results.map(x => x.block.height)).toEqual(range(a, b))
    }
    expect(indexDump(batched)).toEqual(indexDump(one))
    for (const h of range(0, 40)) expect(readFileSync(batched.dir.blockPath(h))).toEqual(readFileSync(one.dir.blockPath(h)))
    expect(batched.keysAt(batched.tip()).isActive(bob.id)).toBe(true)
    expect(await filesMatchIndex(batched)).toEqual([])
    expect((await verifyChain(batched, { workers: 1 })).ok).toBe(true)
    expect(tmpLeft(batched)).toEqual([])
    one.close()
    batched.close()
  }, 60_000)

  it('a bad block in the middle is refused with what follows; the blocks before it are kept', async () => {
    const c = await fresh()
    // Block 6 comes with block 7's seal: its file is sound (it loads), its seal does not verify.
    const blocks = await loadAll(c, source, range(1, 10), h => readSeal(source.dir.blockPath(h === 6 ? 7 : h)))
    const r = await importBatch(c, blocks)
    expect(r.results.map(x => x.block.height)).toEqual(range(1, 5))
    expect(r.failure?.index).toBe(5)
    expect(r.failure?.error).toMatchObject({ code: 'BAD_SEAL' })
    expect(c.tip().height).toBe(5)
    expect(c.tip().hash).toBe(source.get(5)?.hash)
    expect(await filesMatchIndex(c)).toEqual([])
    expect(readdirSync(join(c.dir.root, '0000')).filter(n => n.endsWith('.db'))).toHaveLength(6) // genesis + 5
    expect(tmpLeft(c)).toEqual([])
    // The good blocks go on top afterwards.
    const rest = await importBatch(c, await loadAll(c, source, range(6, 10)))
    expect(rest.failure).toBeUndefined()
    expect(c.tip().hash).toBe(source.get(10)?.hash)
    c.close()
  })

  // A group's renames skipped a destination already there and a source gone (renameBlock's rules, a
  // journal's replay's), where a lone block's placement replaces the one and refuses the other
  // (placeBlock): a file left in a slot above the tip + 1 (which recovery clears) stayed under
  // the new block's index row, and a tmp/ file removed under the writer left its block without a
  // file (review54).
  it('replaces a file left in a slot above the tip, as a lone block\'s placement does', async () => {
    const c = await fresh()
    for (const p of [source.dir.blockPath(9), sealPathOf(source.dir.blockPath(9))]) copyFileSync(p, p.replace(source.dir.root, c.dir.root).replace('block_00000009', 'block_00000003'))
    const r = await importBatch(c, await loadAll(c, source, range(1, 6)))
    expect(r.failure).toBeUndefined()
    expect(await filesMatchIndex(c)).toEqual([])
    expect(readFileSync(c.dir.blockPath(3))).toEqual(readFileSync(source.dir.blockPath(3)))
    c.close()
  })

  it('a block whose tmp/ file was removed before its placement is refused, and nothing of the group is stored', async () => {
    const c = await fresh()
    // As a load thread leaves a large block: flushed with its `.sig` already (prepared), so that
    // the group's placement only renames it.
    const blocks = (await loadAll(c, source, range(1, 4))).map((b, i) => i === 2 ? { ...b, prepared: true } : b)
    rmSync((blocks[2] as LoadedBlock).tmp)
    const r = await importBatch(c, blocks)
    expect(r.failure?.error).toMatchObject({ code: 'BLOCK_FILE_MISSING' })
    expect(c.tip().height).toBe(0)
    expect(await filesMatchIndex(c)).toEqual([])
    c.close()
  })

  it('a bad first block stores nothing', async () => {
    const c = await fresh()
    const r = await importBatch(c, await loadAll(c, source, range(2, 4)))
    expect(r.results).toEqual([])
    expect(r.failure).toMatchObject({ index: 0, error: { code: 'PARENT_UNKNOWN' } })
    expect(c.tip().height).toBe(0)
    expect(tmpLeft(c)).toEqual([])
    c.close()
  })

  it('a batch that reorganises the chain: side blocks, the switch, then a group on the new tip, as one at a time', async () => {
    // Local chain: blocks 1..5 of the source, then 6..7 of its own. The batch brings the
    // source's 6..12: stored on the side until longer, then a reorg, then extensions.
    const base = await fresh()
    expect((await importBatch(base, await loadAll(base, source, range(1, 5)))).failure).toBeUndefined()
    await signImport(base, makeSqlite(join(tmpDir(), 'x6.db'), 2, 600), alice)
    await signImport(base, makeSqlite(join(tmpDir(), 'x7.db'), 2, 700), alice)
    base.close()
    const copy = join(tmpDir(), 'copy')
    cpSync(base.dir.root, copy, { recursive: true })

    const batched = Chain.open(base.dir.root)
    const r = await importBatch(batched, await loadAll(batched, source, range(6, 12)))
    expect(r.failure).toBeUndefined()
    const statuses = r.results.map(x => x.status)
    expect(statuses.filter(s => s === 'reorg')).toHaveLength(1)
    expect(statuses.slice(statuses.indexOf('reorg') + 1).every(s => s === 'extended')).toBe(true)
    expect(batched.tip().hash).toBe(source.get(12)?.hash)

    const one = Chain.open(copy)
    for (const h of range(6, 12)) {
      const p = source.dir.blockPath(h)
      await importBlock(one, p, readSeal(p))
    }
    expect(indexDump(batched)).toEqual(indexDump(one))
    expect(await filesMatchIndex(batched)).toEqual([])
    expect(tmpLeft(batched)).toEqual([])
    one.close()
    batched.close()
  })
})
