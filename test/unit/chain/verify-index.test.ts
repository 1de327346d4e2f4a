import Database from 'better-sqlite3'
import { statSync, truncateSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { Chain, signImport, verifyChain, type VerifyReport } from '../../../src/chain/index.js'
import { RecordWindow } from '../../../src/chain/verify.js'
import { newTestChain } from '../../helpers/chain.js'

// verify reads the index's records a range at a time (not one query per block): the comparison
// of each file with its record must still name the height where they differ.
describe('verify against the index', () => {
  it('names the height whose indexed seal or hash differs from the files, and passes an untouched chain', async () => {
    const t = await newTestChain()
    for (let i = 0; i < 6; i++) await signImport(t.chain, undefined, t.key)
    t.chain.close()
    const indexed = (sql: string): void => { const db = new Database(join(t.dir, 'chain.db')); db.exec(sql); db.close() }
    const run = async (): Promise<VerifyReport> => {
      const chain = Chain.open(t.dir)
      try {
        return await verifyChain(chain, { workers: 1 })
      } finally {
        chain.close()
      }
    }
    expect(await run()).toMatchObject({ ok: true, blocks: 7 })
    indexed("UPDATE blocks SET seal = 'ab' || substr(seal, 3) WHERE height = 4 AND canonical = 1")
    const seal = await run()
    expect(seal.failure).toMatchObject({ height: 4, code: 'VERIFY_FAILED' })
    expect(seal.failure?.message).toContain('seal file at height 4 differs from the index')
    // (A hash that starts with 00 gets ff: 00 would leave it as it was, one run in 256.)
    indexed("UPDATE blocks SET hash = (CASE WHEN substr(hash, 1, 2) = '00' THEN 'ff' ELSE '00' END) || substr(hash, 3) WHERE height = 2 AND canonical = 1")
    const hash = await run()
    expect(hash.failure).toMatchObject({ height: 2, code: 'VERIFY_FAILED' })
    expect(hash.failure?.message).toContain('block file at height 2 is not the block the index records')
    // A height the index has no canonical record of (the records read by ranges shift past it).
    indexed('UPDATE blocks SET canonical = 0 WHERE height = 1 AND canonical = 1')
    const gap = await run()
    expect(gap.failure).toMatchObject({ height: 1, code: 'VERIFY_FAILED' })
    expect(gap.failure?.message).toContain('block file at height 1 is not the block the index records')
  })

  it("gives each canonical block's height, hash, seal and size as the index records them, in height order", async () => {
    // canonicalFiles's rows are arrays (better-sqlite3's raw mode): the same values range() reads.
    const t = await newTestChain()
    try {
      for (let i = 0; i < 4; i++) await signImport(t.chain, undefined, t.key)
      const rows = t.chain.index.canonicalFiles(1, 3)
      expect(rows).toEqual(t.chain.index.range(1, 3).map(r => [r.height, r.hash, r.seal, r.size]))
      expect(rows.map(r => r[0])).toEqual([1, 2, 3])
      expect(rows[0]?.[3]).toBe(statSync(t.chain.dir.blockPath(1)).size)
      expect(t.chain.index.canonicalFiles(5, 9)).toEqual([])
    } finally {
      t.chain.close()
    }
  })

  it("sums the files' bytes up to the tip from the windows fetched and the index past them, wherever the replay is", async () => {
    // Progress's total: the windows already fetched are summed as they come, the index is asked
    // only for the heights after them (near the end of a run, a window's worth instead of all).
    const t = await newTestChain()
    try {
      for (let i = 0; i < 10; i++) await signImport(t.chain, undefined, t.key)
      const tip = t.chain.tip().height
      const all = t.chain.index.canonicalBytes(tip)
      expect(all).toBe(Array.from({ length: tip + 1 }, (_, h) => statSync(t.chain.dir.blockPath(h)).size).reduce((a, b) => a + b, 0))
      // Windows of 3 heights; the total asked before any fetch, after each height, and past the tip.
      const w = new RecordWindow(t.chain.index, tip, 3)
      expect(w.bytes()).toBe(all)
      for (let h = 0; h <= tip; h++) {
        expect(w.get(h)?.[0]).toBe(h)
        expect(w.bytes()).toBe(all)
      }
      // Up to a height below the tip: the records above it are not counted.
      const part = t.chain.index.canonicalBytes(6)
      const w6 = new RecordWindow(t.chain.index, 6, 4)
      for (let h = 0; h <= tip; h++) w6.get(h)
      expect(w6.bytes()).toBe(part)
      expect(part).toBeLessThan(all)
      // A window skipped (heights asked out of order) is asked of the index, not counted twice.
      const skip = new RecordWindow(t.chain.index, tip, 3)
      skip.get(7)
      skip.get(0)
      expect(skip.bytes()).toBe(all)
    } finally {
      t.chain.close()
    }
  })

  it('reads the records through a small page cache, and gives the connection its own back after a run that passes or fails', async () => {
    // IndexDb.smallPageCache: 64 pages while a pass runs; with passes overlapping, the size comes
    // back when the last ends, and a restore called twice counts once.
    const t = await newTestChain()
    try {
      for (let i = 0; i < 3; i++) await signImport(t.chain, undefined, t.key)
      const index = t.chain.index
      const own = index.pageCacheSize()
      expect(own).not.toBe(64)
      const a = index.smallPageCache()
      const b = index.smallPageCache()
      expect(index.pageCacheSize()).toBe(64)
      a()
      a()
      expect(index.pageCacheSize()).toBe(64)
      b()
      expect(index.pageCacheSize()).toBe(own)
      const during: number[] = []
      const run = async (): Promise<VerifyReport> => await verifyChain(t.chain, { workers: 1, onProgress: () => { during.push(index.pageCacheSize()) } })
      expect(await run()).toMatchObject({ ok: true, blocks: 4 })
      expect(during.length).toBeGreaterThan(0)
      expect(new Set(during)).toEqual(new Set([64]))
      expect(index.pageCacheSize()).toBe(own)
      // A failing run (a block file cut short) restores it too.
      const path = t.chain.dir.blockPath(2)
      truncateSync(path, statSync(path).size - 1)
      expect((await run()).failure).toMatchObject({ height: 2 })
      expect(index.pageCacheSize()).toBe(own)
    } finally {
      t.chain.close()
    }
  })
})
