import { getEventListeners } from 'node:events'
import { describe, expect, it, vi } from 'vitest'
import { copyFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { BlockError, signSeal } from '../../../src/block/index.js'
import { discardLoaded, type SealVerdict } from '../../../src/chain/index.js'
import { sha256File } from '../../../src/crypto/index.js'
import { headerOf, type WireHeader } from '../../../src/network/index.js'
import { SyncError } from '../../../src/sync/index.js'
import { DownloadScheduler } from '../../../src/sync/download.js'
import { chainImporter, type BlockImporter } from '../../../src/sync/importer.js'
import { Notifier } from '../../../src/sync/notifier.js'
import { MAX_IDLE_MS } from '../../../src/sync/window-limits.js'
import { AbortError, nullLogger } from '../../../src/util/index.js'
import { tmpDir } from '../../helpers/tmp.js'
import { waitFor } from '../../helpers/wait.js'
import { FakeNetwork, N, NO_HEDGE, feedOf, headers, source, start, tmpFiles, freshChain, useSourceChain, FAST, fail, alice } from './download-harness.js'

useSourceChain()

/** The chain's importer, whose first group's placement waits for `release` (each batch's heights in `batches`). */
function holdingFirstGroup (chain: Awaited<ReturnType<typeof freshChain>>): { importer: BlockImporter, batches: number[][], release: () => void } {
  const inner = chainImporter(chain)
  let release!: () => void
  const held = new Promise<void>(resolve => { release = resolve })
  const batches: number[][] = []
  const importer: BlockImporter = {
    ...inner,
    importBatch: async (blocks, signal) => {
      batches.push(blocks.map(b => b.candidate.file.header.height))
      if (batches.length === 1) await held // the first group's placement takes its time
      return await inner.importBatch(blocks, signal)
    }
  }
  return { importer, batches, release }
}

describe('DownloadScheduler', () => {
  it('imports every block in height order, spreading requests over peers within the per-peer limit', async () => {
    // No hedging here (a serve slower than 20 ms on a loaded machine would be asked twice): the
    // hedge has its own test below.
    const r = await start({ behaviour: () => 'serve', options: NO_HEDGE })
    expect(await r.done).toBe(N)
    expect(r.imported.map(i => i.height)).toEqual(headers.map(h => h.height))
    expect(r.chain.tip().hash).toBe(headers[N - 1]?.hash)
    expect(new Set(r.net.asked.map(a => a.peer))).toEqual(new Set(['A', 'B']))
    for (const p of ['A', 'B']) expect(r.net.maxActive.get(p)).toBeLessThanOrEqual(FAST.perPeer)
    expect(r.net.asked).toHaveLength(N) // nothing fetched twice
    expect(tmpFiles(r.chain)).toEqual([])
    r.chain.close()
  })

  it('never asks for a block more than `window` heights above the import point', async () => {
    // Block 1 hangs (no second peer to hedge with): the window fills and stops there.
    const r = await start({ behaviour: (_p, h) => (h === 1 ? 'hang' : 'serve'), candidates: () => ['A'], options: { perPeer: 10 } })
    await waitFor(() => r.scheduler.window().filter(s => s.state === 'fetched').length === FAST.window - 1, { what: 'blocks 2..4 to arrive' })
    expect(Math.max(...r.net.asked.map(a => a.height))).toBe(FAST.window)
    expect(r.imported).toEqual([])
    r.net.release()
    expect(await r.done).toBe(N)
    // Whenever a height was asked, the blocks below the window had been imported.
    expect(r.net.asked.map(a => a.height)).toEqual(headers.map(h => h.height))
    r.chain.close()
  })

  it('never holds more than `windowBytes` of blocks ahead of the import point (at least one block)', async () => {
    const limit = (headers[0]?.size ?? 0) + (headers[1]?.size ?? 0)
    const r = await start({ behaviour: (_p, h) => (h === 1 ? 'hang' : 'serve'), candidates: () => ['A'], options: { perPeer: 10, window: N, windowBytes: limit } })
    await waitFor(() => r.scheduler.window().some(s => s.state === 'fetched'), { what: 'block 2 to arrive' })
    expect(r.scheduler.window().map(s => s.height)).toEqual([1, 2])
    r.net.release()
    expect(await r.done).toBe(N)
    r.chain.close()
  })

  it('goes on downloading while a group is placed, and places what arrived meanwhile as the next group', async () => {
    const chain = await freshChain()
    const net = new FakeNetwork(() => 'serve')
    const { importer, batches, release } = holdingFirstGroup(chain)
    const imported: number[] = []
    const scheduler = new DownloadScheduler({ network: net, importer, candidates: () => ['A', 'B'], onImported: r => { imported.push(r.block.height) }, logger: nullLogger },
      { ...FAST, ...NO_HEDGE, window: N }, feedOf(headers))
    const done = scheduler.run(new AbortController().signal)
    done.catch(() => {})
    await waitFor(() => batches.length === 1, { what: 'the first group to be placed' })
    // While it is held, the rest of the branch is fetched (the import point has not moved).
    await waitFor(() => net.asked.length === N, { what: 'every block to be asked for' })
    expect(imported).toEqual([])
    release()
    expect(await done).toBe(N)
    expect(imported).toEqual(headers.map(h => h.height))
    expect(batches.flat()).toEqual(headers.map(h => h.height))
    expect(batches.length).toBeLessThan(N) // the blocks that arrived meanwhile went as groups
    expect(tmpFiles(chain)).toEqual([])
    chain.close()
  })

  it('counts a group being placed outside `windowBytes`: the download goes on beside its placement, as far as `windowBytes` more', async () => {
    // A window of two blocks by bytes (each of this chain's blocks is about the same size): on the
    // old rule the group being placed filled it, and nothing was asked until its placement ended.
    const limit = (headers[0]?.size ?? 0) + (headers[1]?.size ?? 0)
    const chain = await freshChain()
    const net = new FakeNetwork(() => 'serve')
    const { importer, batches, release } = holdingFirstGroup(chain)
    const scheduler = new DownloadScheduler({ network: net, importer, candidates: () => ['A'], onImported: () => {}, logger: nullLogger },
      { ...FAST, ...NO_HEDGE, perPeer: 10, window: N, windowBytes: limit }, feedOf(headers))
    const done = scheduler.run(new AbortController().signal)
    done.catch(() => {})
    await waitFor(() => batches.length === 1, { what: 'the first group to be placed' })
    const top = Math.max(...(batches[0] as number[]))
    const above = (): number[] => scheduler.window().filter(s => s.height > top).map(s => s.height)
    await waitFor(() => above().length > 0 && scheduler.window().every(s => s.height <= top || s.state === 'fetched'), { what: 'blocks above the group to arrive while it is placed' })
    // Beyond the group, the window holds what `windowBytes` allows (at least one block), no more.
    const sizes = above().map(h => headers[h - 1]?.size ?? 0)
    expect(sizes.length === 1 || sizes.reduce((a, b) => a + b, 0) <= limit + Math.max(...sizes)).toBe(true)
    expect(Math.max(...net.asked.map(a => a.height))).toBeLessThanOrEqual(top + 2)
    expect(batches).toHaveLength(1)
    release()
    expect(await done).toBe(N)
    expect(batches.flat()).toEqual(headers.map(h => h.height))
    expect(tmpFiles(chain)).toEqual([])
    chain.close()
  })

  it('holds the first few checked blocks briefly while those above them are still being checked, and places them as one group', async () => {
    const chain = await freshChain()
    const net = new FakeNetwork(() => 'serve')
    const inner = chainImporter(chain)
    const batches: number[][] = []
    const importer: BlockImporter = {
      ...inner,
      // Blocks above 3 take a few milliseconds longer to check.
      load: async (file, seal, hash, signal, o) => {
        const b = await inner.load(file, seal, hash, signal, o)
        if (b.candidate.file.header.height > 3) await new Promise(resolve => setTimeout(resolve, 5))
        return b
      },
      importBatch: async (blocks, signal) => {
        batches.push(blocks.map(b => b.candidate.file.header.height))
        return await inner.importBatch(blocks, signal)
      }
    }
    const scheduler = new DownloadScheduler({ network: net, importer, candidates: () => ['A', 'B'], onImported: () => {}, logger: nullLogger },
      // A window of N + 1: the whole branch and the feed's end fit in it (a full window is never held).
      { ...FAST, ...NO_HEDGE, window: N + 1, perPeer: N, groupHoldMs: 60_000 }, feedOf(headers))
    expect(await scheduler.run(new AbortController().signal)).toBe(N)
    // Placed at once, the first group would hold the blocks checked before the rest (at most 3);
    // the N blocks are fewer than GROUP_TARGET, so the hold ends when nothing more is on its way.
    expect(batches).toEqual([headers.map(h => h.height)])
    expect(tmpFiles(chain)).toEqual([])
    chain.close()
  })

  it('places the checked head of a full window at once: no hold while nothing more can be asked for', async () => {
    // A window of two blocks by bytes throughout (the smallest two neighbours fill it), block 2
    // hangs: block 1 is checked and block 2 on its way, and no block above them can be asked for
    // until a group is placed. The old gate held block 1 for its whole groupHoldMs (a minute here).
    const limit = Math.min(...headers.slice(1).map((h, i) => h.size + (headers[i]?.size ?? 0)))
    const chain = await freshChain()
    const net = new FakeNetwork((_p, h) => (h === 2 ? 'hang' : 'serve'))
    const inner = chainImporter(chain)
    const batches: number[][] = []
    const importer: BlockImporter = { ...inner, importBatch: async (blocks, signal) => { batches.push(blocks.map(b => b.candidate.file.header.height)); return await inner.importBatch(blocks, signal) } }
    const scheduler = new DownloadScheduler({ network: net, importer, candidates: () => ['A'], onImported: () => {}, logger: nullLogger },
      { ...FAST, ...NO_HEDGE, perPeer: 10, window: N, windowBytes: limit, groupHoldMs: 60_000 }, feedOf(headers))
    const done = scheduler.run(new AbortController().signal)
    done.catch(() => {})
    await waitFor(() => batches.length === 1, { what: 'block 1 to be placed while block 2 is on its way', timeout: 5_000 })
    expect(batches).toEqual([[1]])
    net.release()
    expect(await done).toBe(N)
    expect(batches.flat()).toEqual(headers.map(h => h.height))
    expect(tmpFiles(chain)).toEqual([])
    chain.close()
  })

  it('hands each block\'s checks the seal verdict its header feed made (not verified twice)', async () => {
    const chain = await freshChain()
    const inner = chainImporter(chain)
    const given = new Map<string, SealVerdict | undefined>()
    const importer: BlockImporter = {
      ...inner,
      load: async (file, seal, expectedHash, signal, o) => { given.set(expectedHash, o.sealChecked); return await inner.load(file, seal, expectedHash, signal, o) }
    }
    const verdictOf = (h: WireHeader): SealVerdict | undefined => h.height % 2 === 0 ? undefined : { key: `key of ${h.height}`, seal: h.seal, fields: { version: 2, chainId: chain.chainId, height: h.height, rowsRoot: h.rowsRoot } }
    const scheduler = new DownloadScheduler({ network: new FakeNetwork(() => 'serve'), importer, candidates: () => ['A'], onImported: () => {}, logger: nullLogger },
      FAST, { ...feedOf(headers), sealChecked: verdictOf })
    expect(await scheduler.run(new AbortController().signal)).toBe(N)
    expect([...given.keys()].sort()).toEqual(headers.map(h => h.hash).sort())
    for (const h of headers) expect(given.get(h.hash)).toEqual(verdictOf(h))
    chain.close()
  })

  it('hedges the block the import waits for when its peer is slow; the first file wins', async () => {
    const r = await start({ behaviour: p => (p === 'A' ? 'hang' : 'serve') })
    expect(await r.done).toBe(N)
    expect(r.imported.every(i => i.from === 'B')).toBe(true)
    const fromA = r.net.asked.filter(a => a.peer === 'A')
    expect(fromA.length).toBeGreaterThan(0)
    expect(fromA.every(a => a.aborted)).toBe(true)
    expect(r.net.reports).toEqual([]) // slow is not a lie: the network scores slowness itself
    expect(tmpFiles(r.chain)).toEqual([])
    r.chain.close()
  })

  it('takes the block from another peer when one sends bytes that do not hash to it', async () => {
    const r = await start({ behaviour: p => (p === 'A' ? 'bad-hash' : 'serve') })
    expect(await r.done).toBe(N)
    expect(r.imported.every(i => i.from === 'B')).toBe(true)
    // A liar is not asked twice for one height in a round.
    const perHeight = new Map<number, number>()
    for (const a of r.net.asked.filter(x => x.peer === 'A')) perHeight.set(a.height, (perHeight.get(a.height) ?? 0) + 1)
    expect([...perHeight.values()].every(n => n === 1)).toBe(true)
    expect(tmpFiles(r.chain)).toEqual([])
    r.chain.close()
  })

  it('does not hold the checked blocks below a block whose checks failed: they are placed and the download fails at once', async () => {
    const chain = await freshChain()
    const net = new FakeNetwork(() => 'serve')
    const inner = chainImporter(chain)
    const importer: BlockImporter = {
      ...inner,
      // Block 4's checks fail a little after 1-3 passed; those above it take a little longer.
      load: async (file, seal, hash, signal, o) => {
        const b = await inner.load(file, seal, hash, signal, o)
        const h = b.candidate.file.header.height
        if (h === 4) {
          await new Promise(resolve => setTimeout(resolve, 20))
          await discardLoaded(b)
          throw new BlockError('BAD_META', 'block 4 refused (test)')
        }
        if (h > 4) await new Promise(resolve => setTimeout(resolve, 5))
        return b
      }
    }
    const scheduler = new DownloadScheduler({ network: net, importer, candidates: () => ['A', 'B'], onImported: () => {}, logger: nullLogger },
      { ...FAST, ...NO_HEDGE, window: N, perPeer: N, groupHoldMs: 60_000 }, feedOf(headers))
    const started = performance.now()
    // Held for groupHoldMs, blocks 1-3 would wait a minute for a block 4 that can never join them.
    await expect(scheduler.run(new AbortController().signal)).rejects.toMatchObject({ code: 'BAD_META' })
    expect(performance.now() - started).toBeLessThan(10_000)
    expect(chain.tip().height).toBe(3)
    expect(tmpFiles(chain)).toEqual([])
    chain.close()
  }, 30_000)

  it('stops at an invalid block under a valid seal and blames its server and the header peer', async () => {
    // A real block 3, altered after sealing and re-sealed over its new hash: the seal verifies,
    // the content does not.
    const real = source.index.byHeight(3) ?? fail()
    const bad = join(tmpDir(), 'bad.db')
    copyFileSync(source.pathOf(real), bad)
    const db = new Database(bad)
    db.prepare('UPDATE t SET v = v + 1').run()
    db.close()
    const hash = await sha256File(bad)
    const forged: WireHeader = { ...headerOf(real), hash, size: statSync(bad).size, seal: signSeal(alice, { chainId: source.chainId, height: 3, rowsRoot: real.rowsRoot }, hash) }
    const net = new FakeNetwork(() => 'serve')
    net.files.set(hash, { path: bad, seal: forged.seal, height: 3 })
    const r = await start({ behaviour: () => 'serve', net, candidates: () => ['B'], feed: feedOf([...headers.slice(0, 2), forged], 'H') })
    await expect(r.done).rejects.toMatchObject({ name: 'BlockError' })
    expect(r.chain.tip().height).toBe(2)
    expect(net.reports).toEqual([{ peer: 'B', offence: 'invalid-block' }, { peer: 'H', offence: 'invalid-block' }])
    expect(tmpFiles(r.chain)).toEqual([])
    r.chain.close()
  })

  it('carries on with the other peers when one leaves mid-download', async () => {
    let gone = false
    const r = await start({
      behaviour: (p, h) => { if (p === 'A' && h >= 3) { gone = true; return 'reset' } return 'serve' },
      candidates: () => (gone ? ['B'] : ['A', 'B'])
    })
    expect(await r.done).toBe(N)
    expect(r.net.asked.filter(a => a.peer === 'A' && a.height > 6)).toEqual([])
    r.chain.close()
  })

  it('refuses headers that skip a height, keeping the blocks below', async () => {
    const skipped = [headers[0], headers[1], headers[3]].filter(h => h !== undefined)
    const r = await start({ behaviour: () => 'serve', feed: feedOf(skipped) })
    await expect(r.done).rejects.toMatchObject({ code: 'HEADERS_INCONSISTENT', details: { height: 4 } })
    // Heights 1 and 2 may or may not have been imported before the gap was seen, never more.
    expect(r.chain.tip().height).toBeLessThanOrEqual(2)
    expect(tmpFiles(r.chain)).toEqual([])
    r.chain.close()
  })

  it('retries in rounds when every candidate fails, and succeeds when one finally serves', async () => {
    let misses = 0
    const r = await start({
      behaviour: (_p, h) => (h === 2 && misses++ < 2 ? 'not-found' : 'serve'),
      candidates: () => ['A'],
      options: { maxAttempts: 3 }
    })
    expect(await r.done).toBe(N)
    expect(r.net.asked.filter(a => a.height === 2)).toHaveLength(3)
  })

  it('sleeps until a retry round is due, not for the idle cap', async () => {
    // The clock moves only while the loop sleeps, by what it asked to sleep (the real sleep is 1 ms),
    // so the sleep after the round is put off is exactly the retry delay. Were the scheduler to forget
    // that a slot waits for a later round, it would sleep MAX_IDLE_MS instead and only be slower.
    let t = 1_000_000
    const sleeps: number[] = []
    const original = Notifier.prototype.wait
    const spy = vi.spyOn(Notifier.prototype, 'wait').mockImplementation(async function (this: Notifier, ms: number, signal?: AbortSignal) {
      sleeps.push(ms)
      t += ms
      return await original.call(this, 1, signal)
    })
    try {
      let misses = 0
      const r = await start({
        behaviour: (_p, h) => (h === 2 && misses++ < 1 ? 'not-found' : 'serve'),
        candidates: () => ['A'],
        options: { ...NO_HEDGE, retryDelayMs: 300 },
        clock: { now: () => t }
      })
      expect(await r.done).toBe(N)
      expect(r.net.asked.filter(a => a.height === 2)).toHaveLength(2)
      expect(300).toBeLessThan(MAX_IDLE_MS)
      expect(sleeps).toContain(300)
      r.chain.close()
    } finally {
      spy.mockRestore()
    }
  })

  it('leaves no abort listener on the signal it ran with (the sync loop signal outlives every download)', async () => {
    const c = new AbortController()
    for (let i = 0; i < 3; i++) {
      const r = await start({ behaviour: () => 'serve', signal: c.signal })
      expect(await r.done).toBe(N)
      r.chain.close()
    }
    expect(getEventListeners(c.signal, 'abort')).toHaveLength(0)
  })

  it('gives up with UNAVAILABLE after maxAttempts rounds', async () => {
    const r = await start({ behaviour: (_p, h) => (h === 2 ? 'not-found' : 'serve'), options: { maxAttempts: 2 } })
    const err = await r.done.then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(SyncError)
    expect(err).toMatchObject({ code: 'UNAVAILABLE', details: { height: 2, hash: headers[1]?.hash } })
    // Two rounds, each asking both peers once.
    expect(r.net.asked.filter(a => a.height === 2).map(a => a.peer).sort()).toEqual(['A', 'A', 'B', 'B'])
    expect(r.chain.tip().height).toBe(1)
    expect(tmpFiles(r.chain)).toEqual([])
    r.chain.close()
  })

  it('gives up with UNAVAILABLE at once when no peer claims the height', async () => {
    const r = await start({ behaviour: () => 'serve', candidates: h => (h <= 5 ? ['A'] : []) })
    await expect(r.done).rejects.toMatchObject({ code: 'UNAVAILABLE', details: { height: 6 } })
    expect(r.net.asked.every(a => a.height <= 5)).toBe(true)
    r.chain.close()
  })

  it('stops on abort, cancels its requests and leaves no file behind', async () => {
    const ac = new AbortController()
    const r = await start({ behaviour: (_p, h) => (h === 1 ? 'hang' : 'serve'), signal: ac.signal })
    await waitFor(() => r.scheduler.window().filter(s => s.state === 'fetched').length >= 2, { what: 'downloads to arrive' })
    ac.abort()
    await expect(r.done).rejects.toBeInstanceOf(AbortError)
    expect(r.net.asked.filter(a => a.height === 1).every(a => a.aborted)).toBe(true)
    expect(tmpFiles(r.chain)).toEqual([])
    r.chain.close()
  })
})
