import { getEventListeners } from 'node:events'
import { beforeAll, describe, expect, it, vi } from 'vitest'
import { copyFileSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { copyFile, writeFile } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { BlockError, signSeal } from '../../../src/block/index.js'
import { Chain, discardLoaded, loadBlock, LoadPool, type ImportResult, type SealVerdict } from '../../../src/chain/index.js'
import { sha256File } from '../../../src/crypto/index.js'
import { headerOf, NetworkError, type FetchedBlock, type Offence, type RangeItem, type WireHeader } from '../../../src/network/index.js'
import { StorageError, systemFailure } from '../../../src/storage/index.js'
import { SyncError } from '../../../src/sync/index.js'
import { DownloadScheduler } from '../../../src/sync/download.js'
import type { DownloadOptions } from '../../../src/sync/options.js'
import type { HeaderSource } from '../../../src/sync/types.js'
import { chainImporter, type BlockImporter } from '../../../src/sync/importer.js'
import { Notifier } from '../../../src/sync/notifier.js'
import { Slot, WaitingCount } from '../../../src/sync/slot.js'
import { MAX_IDLE_MS } from '../../../src/sync/window-limits.js'
import { AbortError, createLogger, nullLogger, type Clock, type LogRecord } from '../../../src/util/index.js'
import { extendChain, fixtureKey, newTestChain } from '../../helpers/chain.js'
import { cloneGenesis } from '../../helpers/network.js'
import { tmpDir } from '../../helpers/tmp.js'
import { waitFor } from '../../helpers/wait.js'

const alice = fixtureKey('alice')
const N = 12

/** A real chain of N blocks whose files the fake peers serve. */
let source: Chain
let headers: WireHeader[]
let genesis: { params: Chain['params'], genesisFile: string }

beforeAll(async () => {
  const t = await newTestChain({ key: alice })
  await extendChain(t.chain, alice, N, 3)
  source = t.chain
  headers = source.index.range(1, N).map(headerOf)
  genesis = { params: source.params, genesisFile: join(t.dir, '0000', 'block_00000000.db') }
  return () => { source.close() }
})

/** What a fake peer does with a block request. */
type Behaviour = 'serve' | 'hang' | 'not-found' | 'bad-hash' | 'reset' | 'disk-full'

interface Asked { peer: string, height: number, aborted: boolean }

/**
 * The network as sync sees it, in memory: each peer answers block requests by its behaviour
 * (per peer, or per peer and height), serving real block files from `files`. Everything it was
 * asked is recorded, with the concurrency per peer.
 */
class FakeNetwork {
  readonly asked: Asked[] = []
  readonly reports: Array<{ peer: string, offence: Offence }> = []
  readonly maxActive = new Map<string, number>()
  private readonly active = new Map<string, number>()
  private readonly gates = new Set<() => void>()
  readonly files = new Map<string, { path: string, seal: string, height: number }>()

  constructor (private readonly behaviour: (peer: string, height: number) => Behaviour) {
    for (const h of headers) this.files.set(h.hash, { path: source.pathOf(source.index.byHash(h.hash) ?? fail()), seal: h.seal, height: h.height })
  }

  /** Let every hanging request proceed as `serve`. */
  release (): void { for (const g of [...this.gates]) g() }

  fetchBlock = async (peer: string, hash: string, dest: string, o: { maxBytes: number, signal?: AbortSignal }): Promise<FetchedBlock> => {
    const f = this.files.get(hash)
    if (f === undefined) throw new NetworkError('PEER_LACKS_BLOCK', 'no such block')
    const asked: Asked = { peer, height: f.height, aborted: false }
    this.asked.push(asked)
    const n = (this.active.get(peer) ?? 0) + 1
    this.active.set(peer, n)
    this.maxActive.set(peer, Math.max(n, this.maxActive.get(peer) ?? 0))
    try {
      let b = this.behaviour(peer, f.height)
      if (b === 'hang') {
        await new Promise<void>((resolve, reject) => {
          const go = (): void => { this.gates.delete(go); resolve() }
          this.gates.add(go)
          o.signal?.addEventListener('abort', () => { this.gates.delete(go); asked.aborted = true; reject(new AbortError()) }, { once: true })
        })
        b = 'serve'
      }
      if (o.signal?.aborted === true) { asked.aborted = true; throw new AbortError() }
      if (b === 'not-found') throw new NetworkError('PEER_LACKS_BLOCK', 'peer does not have the block')
      if (b === 'reset') throw new NetworkError('STREAM_ERROR', 'connection closed')
      // What the real receive makes of this node's disk failing under it (network/rpc.ts): a real ENOSPC.
      if (b === 'disk-full') { try { writeFileSync('/dev/full', 'x') } catch (err) { throw systemFailure(err) ?? err } }
      if (b === 'bad-hash') {
        // The real network hashes the bytes as they arrive and scores the peer itself.
        await writeFile(dest, randomBytes(1000))
        this.reports.push({ peer, offence: 'hash-mismatch' })
        throw new NetworkError('TRANSFER_HASH_MISMATCH', 'block bytes do not match the requested hash', { details: { peer, hash } })
      }
      await copyFile(f.path, dest)
      return { seal: f.seal, size: statSync(dest).size }
    } finally {
      this.active.set(peer, (this.active.get(peer) ?? 1) - 1)
    }
  }

  report = (peer: string, offence: Offence): void => { this.reports.push({ peer, offence }) }
}

/**
 * The same peers, some of which also serve range requests (`blocks`): a range is served block by
 * block with each block's behaviour, and ends at the first block that fails.
 */
class RangeNetwork extends FakeNetwork {
  /** The heights of each range request, by peer. */
  readonly ranges: Array<{ peer: string, heights: number[] }> = []

  constructor (behaviour: (peer: string, height: number) => Behaviour, private readonly rangePeers: ReadonlySet<string>) { super(behaviour) }

  servesRanges = (peer: string): boolean => this.rangePeers.has(peer)

  fetchBlocks = async (peer: string, items: readonly RangeItem[], o: { maxBytes: number, signal?: AbortSignal, onBlock: (i: number, b: FetchedBlock) => void }): Promise<void> => {
    if (!this.rangePeers.has(peer)) throw new Error(`range request to ${peer}, which does not serve them`)
    this.ranges.push({ peer, heights: items.map(i => this.files.get(i.hash)?.height ?? -1) })
    // Each block with its first bytes, as the real receive reports a small block of a range.
    for (const [k, item] of items.entries()) {
      const b = await this.fetchBlock(peer, item.hash, item.dest, o)
      o.onBlock(k, { ...b, head: new Uint8Array(readFileSync(item.dest).subarray(0, 100)) })
    }
  }
}

function fail (): never { throw new Error('unreachable') }

function feedOf (hs: WireHeader[], peer = 'A'): HeaderSource {
  const queue = [...hs]
  return { peer, take: async () => queue.shift() }
}

const FAST: DownloadOptions = { window: 4, perPeer: 2, maxAttempts: 3, retryDelayMs: 5, hedgeAfterMs: 20 }
/** For tests that count requests: a hedge would ask again for a block that is merely slow. */
const NO_HEDGE = { hedgeAfterMs: 3_600_000 }

async function freshChain (): Promise<Chain> {
  return Chain.open(await cloneGenesis(genesis))
}

interface Run { chain: Chain, net: FakeNetwork, imported: Array<{ height: number, from: string }>, scheduler: DownloadScheduler, done: Promise<number> }

async function start (o: {
  behaviour: (peer: string, height: number) => Behaviour
  candidates?: (height: number) => string[]
  options?: Partial<DownloadOptions>
  feed?: HeaderSource
  signal?: AbortSignal
  net?: FakeNetwork
  clock?: Clock
  logs?: LogRecord[]
}): Promise<Run> {
  const chain = await freshChain()
  const net = o.net ?? new FakeNetwork(o.behaviour)
  const imported: Run['imported'] = []
  const scheduler = new DownloadScheduler({
    network: net,
    importer: chainImporter(chain),
    candidates: o.candidates ?? (() => ['A', 'B']),
    onImported: (r: ImportResult, from: string) => { imported.push({ height: r.block.height, from }) },
    logger: o.logs === undefined ? nullLogger : createLogger(r => { o.logs?.push(r) }, 'debug'),
    clock: o.clock
  }, { ...FAST, ...o.options }, o.feed ?? feedOf(headers))
  const done = scheduler.run(o.signal ?? new AbortController().signal)
  done.catch(() => {})
  return { chain, net, imported, scheduler, done }
}

function tmpFiles (chain: Chain): string[] {
  try { return readdirSync(chain.dir.tmpDir) } catch { return [] }
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
      { ...FAST, ...NO_HEDGE, window: N, perPeer: N, groupHoldMs: 60_000 }, feedOf(headers))
    expect(await scheduler.run(new AbortController().signal)).toBe(N)
    // Placed at once, the first group would hold the blocks checked before the rest (at most 3);
    // the N blocks are fewer than GROUP_TARGET, so the hold ends when nothing more is on its way.
    expect(batches).toEqual([headers.map(h => h.height)])
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
})

describe('Slot', () => {
  const h = (): WireHeader => ({ ...(headers[0] ?? fail()) })
  const req = (peer: string): { peer: string, file: string, controller: AbortController } => ({ peer, file: `/tmp/${peer}`, controller: new AbortController() })

  it('moves through its states by checked transitions only', () => {
    const s = new Slot(h())
    expect(() => { s.importing() }).toThrow(expect.objectContaining({ code: 'WRONG_SLOT_STATE' }))
    expect(() => { s.hedge(req('A')) }).toThrow(expect.objectContaining({ code: 'WRONG_SLOT_STATE' }))
    s.start(req('A'), 0)
    expect(() => { s.start(req('B'), 0) }).toThrow(expect.objectContaining({ code: 'WRONG_SLOT_STATE' }))
    expect(() => { s.hedge(req('A')) }).toThrow(expect.objectContaining({ code: 'WRONG_SLOT_STATE' }))
    s.hedge(req('B'))
    expect(() => { s.succeeded('C', 'ab') }).toThrow(expect.objectContaining({ code: 'WRONG_SLOT_STATE' }))
    s.failed('A')
    expect(s.state).toMatchObject({ kind: 'fetching', tried: new Set(['A']) })
    expect(s.isFetchingFrom('A')).toBe(false)
    const losers = s.succeeded('B', 'ab')
    expect(losers).toEqual([])
    expect(s.state).toEqual({ kind: 'fetched', file: '/tmp/B', seal: 'ab', from: 'B' })
    expect(() => { s.failed('B') }).toThrow(expect.objectContaining({ code: 'WRONG_SLOT_STATE' }))
    expect(s.importing()).toEqual({ file: '/tmp/B', seal: 'ab', from: 'B' })
    s.importDone()
    expect(s.state).toEqual({ kind: 'done' })
    expect(s.leftovers()).toEqual({ requests: [] })
  })

  it('returns to waiting when its last request fails, and counts rounds', () => {
    const s = new Slot(h())
    s.start(req('A'), 0)
    s.failed('A')
    expect(s.state).toMatchObject({ kind: 'waiting', round: 0, tried: new Set(['A']) })
    s.nextRound(100, 50)
    expect(s.state).toEqual({ kind: 'waiting', round: 1, tried: new Set(), notBefore: 150 })
    s.giveUp()
    expect(s.state).toEqual({ kind: 'unavailable' })
    expect(() => { s.nextRound(0, 0) }).toThrow(expect.objectContaining({ code: 'WRONG_SLOT_STATE' }))
  })

  it('counts the slots that wait for a peer, through every transition (the scheduler skips its window walk at 0)', () => {
    const waiting = new WaitingCount()
    const a = new Slot(h(), undefined, waiting)
    const b = new Slot(h(), undefined, waiting)
    expect(waiting.n).toBe(2)
    a.start(req('A'), 0)
    b.start(req('A'), 0)
    expect(waiting.n).toBe(0)
    a.hedge(req('B'))
    a.failed('A') // still fetching from B
    expect(waiting.n).toBe(0)
    a.failed('B')
    b.failed('A')
    expect(waiting.n).toBe(2)
    a.nextRound(0, 10) // waiting → waiting
    expect(waiting.n).toBe(2)
    b.giveUp()
    expect(waiting.n).toBe(1)
    a.start(req('C'), 0)
    a.succeeded('C', 'ab')
    a.importing()
    a.importDone()
    expect(waiting.n).toBe(0)
    // A failed transition changes nothing.
    expect(() => { a.failed('C') }).toThrow(expect.objectContaining({ code: 'WRONG_SLOT_STATE' }))
    expect(waiting.n).toBe(0)
  })
})
