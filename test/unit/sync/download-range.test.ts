import { describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { discardLoaded, loadBlock, LoadPool } from '../../../src/chain/index.js'
import { StorageError } from '../../../src/storage/index.js'
import { DownloadScheduler } from '../../../src/sync/download.js'
import { chainImporter, type BlockImporter } from '../../../src/sync/importer.js'
import { nullLogger } from '../../../src/util/index.js'
import { waitFor } from '../../helpers/wait.js'
import { RangeNetwork, N, NO_HEDGE, feedOf, headers, source, start, tmpFiles, freshChain, useSourceChain, FAST, fail } from './download-harness.js'

useSourceChain()

describe('DownloadScheduler with range requests', () => {
  it('asks a peer that serves ranges for runs of consecutive blocks, and one that does not for single blocks', async () => {
    const net = new RangeNetwork(() => 'serve', new Set(['A']))
    const r = await start({ behaviour: () => 'serve', net, options: NO_HEDGE })
    expect(await r.done).toBe(N)
    expect(r.imported.map(i => i.height)).toEqual(headers.map(h => h.height))
    expect(net.ranges.length).toBeGreaterThan(0)
    expect(net.ranges.every(x => x.peer === 'A')).toBe(true)
    // Consecutive heights, at most the window shared among the peer's request slots.
    for (const x of net.ranges) {
      expect(x.heights.length).toBeGreaterThan(1)
      expect(x.heights.length).toBeLessThanOrEqual(Math.ceil(FAST.window / FAST.perPeer))
      expect(x.heights).toEqual(x.heights.map((_, i) => (x.heights[0] ?? 0) + i))
    }
    expect(net.asked.some(a => a.peer === 'B')).toBe(true)
    expect(net.asked).toHaveLength(N) // nothing fetched twice
    expect(tmpFiles(r.chain)).toEqual([])
    r.chain.close()
  })

  it('aborts a range once every block of it came from elsewhere (hedges won), and ends', async () => {
    // A serves ranges and never sends; B serves single blocks. Each block of A's ranges is hedged
    // from B in turn; once the last one arrives, the range itself must be aborted, or the download
    // would wait for it forever.
    const net = new RangeNetwork(p => (p === 'A' ? 'hang' : 'serve'), new Set(['A']))
    const r = await start({ behaviour: () => 'serve', net })
    expect(await r.done).toBe(N)
    expect(net.ranges.length).toBeGreaterThan(0)
    expect(r.imported.every(i => i.from === 'B')).toBe(true)
    const fromA = net.asked.filter(a => a.peer === 'A')
    expect(fromA.length).toBeGreaterThan(0)
    expect(fromA.every(a => a.aborted)).toBe(true)
    expect(tmpFiles(r.chain)).toEqual([])
    r.chain.close()
  })

  it('keeps the blocks of a range received before it broke off, and gets the rest from another peer', async () => {
    const net = new RangeNetwork((p, h) => (p === 'A' && h === 2 ? 'reset' : 'serve'), new Set(['A', 'B']))
    const r = await start({ behaviour: () => 'serve', net, candidates: h => (h <= 2 ? ['A', 'B'] : ['A']), options: NO_HEDGE })
    expect(await r.done).toBe(N)
    expect(r.imported.map(i => i.height)).toEqual(headers.map(h => h.height))
    expect(net.ranges[0]).toEqual({ peer: 'A', heights: [1, 2] })
    expect(r.imported.find(i => i.height === 1)?.from).toBe('A')
    expect(r.imported.find(i => i.height === 2)?.from).toBe('B')
    expect(net.asked.filter(a => a.height === 1)).toHaveLength(1)
    expect(tmpFiles(r.chain)).toEqual([])
    r.chain.close()
  })

  it('hands each block\'s checks the first bytes its range brought, which the load threads check as its header', async () => {
    const chain = await freshChain()
    const pool = new LoadPool(2)
    try {
      const inner = chainImporter(chain, pool)
      const heads = new Map<string, Uint8Array | undefined>()
      const importer: BlockImporter = {
        ...inner,
        load: async (file, seal, expectedHash, signal, o) => { heads.set(expectedHash, o.head); return await inner.load(file, seal, expectedHash, signal, o) }
      }
      // The threads up first, so that the heads go to them (before, blocks are checked on this thread, which takes them too).
      await discardLoaded(await loadBlock(chain, source.pathOf(source.get(1) ?? fail()), headers[0]?.seal ?? fail(), { loadPool: pool }))
      await waitFor(() => pool.ready, { what: 'the load threads to start' })
      const net = new RangeNetwork(() => 'serve', new Set(['A']))
      const scheduler = new DownloadScheduler({ network: net, importer, candidates: () => ['A'], onImported: () => {}, logger: nullLogger }, FAST, feedOf(headers))
      expect(await scheduler.run(new AbortController().signal)).toBe(N)
      // Every block of a range came with its head (a single request's reply has none here).
      const ranged = new Set(net.ranges.flatMap(x => x.heights))
      expect(ranged.size).toBeGreaterThan(N / 2)
      for (const h of headers) {
        const path = source.pathOf(source.index.byHash(h.hash) ?? fail())
        const head = heads.get(h.hash)
        if (!ranged.has(h.height)) { expect(head).toBeUndefined(); continue }
        expect(Buffer.from(head ?? fail()).equals(readFileSync(path).subarray(0, 100))).toBe(true)
      }
      expect(chain.tip().height).toBe(N)
      expect(tmpFiles(chain)).toEqual([])
    } finally {
      await pool.close()
      chain.close()
    }
  })

  it('ends with DISK_FULL and its hint when its own disk fails a range, blames no peer, asks no other peer, and keeps the blocks placed', async () => {
    const net = new RangeNetwork((p, h) => (p === 'A' && h === 3 ? 'disk-full' : 'serve'), new Set(['A']))
    const r = await start({ behaviour: () => 'serve', net, options: { perPeer: 1 } })
    const err = await r.done.then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(StorageError)
    expect((err as StorageError).code).toBe('DISK_FULL')
    expect((err as StorageError).hint).toMatch(/free space/)
    expect(net.reports).toEqual([])
    expect(r.chain.tip().height).toBe(r.imported.length)
    expect(tmpFiles(r.chain)).toEqual([])
    r.chain.close()
  })

  it('takes a block whose range brought bytes that do not hash to it from another peer', async () => {
    const net = new RangeNetwork((p, h) => (p === 'A' && h === 3 ? 'bad-hash' : 'serve'), new Set(['A']))
    const r = await start({ behaviour: () => 'serve', net, options: { perPeer: 1 } })
    expect(await r.done).toBe(N)
    expect(r.imported.map(i => i.height)).toEqual(headers.map(h => h.height))
    expect(r.imported.find(i => i.height === 3)?.from).toBe('B')
    expect(net.reports).toContainEqual({ peer: 'A', offence: 'hash-mismatch' })
    expect(tmpFiles(r.chain)).toEqual([])
    r.chain.close()
  })

  // A range receive takes its blocks' files from TmpFilePool once it has some ready (the first
  // ranges find none and create their own): each is opened empty, written once, and what the
  // pool made ahead and nobody took is gone when the download ends.
  it('receives ranges into empty files created ahead, each given once, and leaves none of them in tmp/', async () => {
    const net = new RangeNetwork(() => 'serve', new Set(['A']))
    const r = await start({ behaviour: () => 'serve', net, candidates: () => ['A'], options: { ...NO_HEDGE, perPeer: 1 } })
    expect(await r.done).toBe(N)
    expect(r.imported.map(i => i.height)).toEqual(headers.map(h => h.height))
    expect(net.made.length).toBeGreaterThan(0)
    expect(new Set(net.made.map(m => m.dest)).size).toBe(net.made.length)
    expect(tmpFiles(r.chain)).toEqual([])
    r.chain.close()
  })

  it('creates no file ahead for a download of single requests (a node following the tip)', async () => {
    const chain = await freshChain()
    const inner = chainImporter(chain)
    let pools = 0
    const importer: BlockImporter = { ...inner, tmpFiles: () => { pools++; return inner.tmpFiles?.() ?? fail() } }
    const net = new RangeNetwork(() => 'serve', new Set())
    const scheduler = new DownloadScheduler({ network: net, importer, candidates: () => ['A'], onImported: () => {}, logger: nullLogger }, FAST, feedOf(headers))
    expect(await scheduler.run(new AbortController().signal)).toBe(N)
    expect(net.ranges).toEqual([])
    expect(pools).toBe(0)
    expect(tmpFiles(chain)).toEqual([])
    chain.close()
  })

  it('a range that breaks off leaves none of its files created ahead in tmp/; its blocks not received are fetched again and imported', async () => {
    const net = new RangeNetwork((p, h) => (p === 'A' && h >= 7 && h <= 9 ? 'reset' : 'serve'), new Set(['A', 'B']))
    const r = await start({ behaviour: () => 'serve', net, candidates: h => (h >= 7 && h <= 9 ? ['A', 'B'] : ['A']), options: { ...NO_HEDGE, perPeer: 1 } })
    expect(await r.done).toBe(N)
    expect(r.imported.map(i => i.height)).toEqual(headers.map(h => h.height))
    expect(r.imported.filter(i => i.height >= 7 && i.height <= 9).every(i => i.from === 'B')).toBe(true)
    // A's range broke off at a block whose file was made ahead (then removed, as the rest of its range's).
    expect(net.made.some(m => m.peer === 'A' && m.height >= 7 && m.height <= 9)).toBe(true)
    expect(tmpFiles(r.chain)).toEqual([])
    r.chain.close()
  })
})
