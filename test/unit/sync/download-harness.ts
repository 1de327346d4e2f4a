// The download scheduler's test harness: a real chain of N blocks whose files fake peers serve,
// the fake network (block and range requests, by behaviour per peer and height) and a runner.
// Shared by download.test.ts, download-range.test.ts and slot.test.ts; each calls useSourceChain() first.
import { beforeAll } from 'vitest'
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { copyFile, writeFile } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { Chain, type ImportResult } from '../../../src/chain/index.js'
import { headerOf, NetworkError, type FetchedBlock, type Offence, type RangeItem, type WireHeader } from '../../../src/network/index.js'
import { systemFailure } from '../../../src/storage/index.js'
import { writeSmallBlock } from '../../../src/network/protocols/range-writes.js'
import { DownloadScheduler } from '../../../src/sync/download.js'
import type { DownloadOptions } from '../../../src/sync/options.js'
import type { HeaderSource } from '../../../src/sync/types.js'
import { chainImporter } from '../../../src/sync/importer.js'
import { AbortError, createLogger, nullLogger, type Clock, type LogRecord } from '../../../src/util/index.js'
import { extendChain, fixtureKey, newTestChain } from '../../helpers/chain.js'
import { cloneGenesis } from '../../helpers/network.js'

export const alice = fixtureKey('alice')
export const N = 12

/** A real chain of N blocks whose files the fake peers serve. */
export let source: Chain
export let headers: WireHeader[]
let genesis: { params: Chain['params'], genesisFile: string }

/** Builds the source chain before the calling file's tests and closes it after them. */
export function useSourceChain (): void {
  beforeAll(async () => {
    const t = await newTestChain({ key: alice })
    await extendChain(t.chain, alice, N, 3)
    source = t.chain
    headers = source.index.range(1, N).map(headerOf)
    genesis = { params: source.params, genesisFile: join(t.dir, '0000', 'block_00000000.db') }
    return () => { source.close() }
  })
}

/** What a fake peer does with a block request. */
export type Behaviour = 'serve' | 'hang' | 'not-found' | 'bad-hash' | 'reset' | 'disk-full'

export interface Asked { peer: string, height: number, aborted: boolean }

/**
 * The network as sync sees it, in memory: each peer answers block requests by its behaviour
 * (per peer, or per peer and height), serving real block files from `files`. Everything it was
 * asked is recorded, with the concurrency per peer.
 */
export class FakeNetwork {
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

  fetchBlock = async (peer: string, hash: string, dest: string, o: { maxBytes: number, signal?: AbortSignal, made?: boolean }): Promise<FetchedBlock> => {
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
      // A file created ahead is written as the real receive writes it: opened, never created.
      if (o.made === true) writeSmallBlock(dest, [readFileSync(f.path)], statSync(f.path).size, true)
      else await copyFile(f.path, dest)
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
export class RangeNetwork extends FakeNetwork {
  /** The heights of each range request, by peer. */
  readonly ranges: Array<{ peer: string, heights: number[] }> = []
  /** The files created ahead that ranges were given, each found empty when its block arrived. */
  readonly made: Array<{ dest: string, height: number, peer: string }> = []

  constructor (behaviour: (peer: string, height: number) => Behaviour, private readonly rangePeers: ReadonlySet<string>) { super(behaviour) }

  servesRanges = (peer: string): boolean => this.rangePeers.has(peer)

  fetchBlocks = async (peer: string, items: readonly RangeItem[], o: { maxBytes: number, signal?: AbortSignal, onBlock: (i: number, b: FetchedBlock) => void }): Promise<void> => {
    if (!this.rangePeers.has(peer)) throw new Error(`range request to ${peer}, which does not serve them`)
    this.ranges.push({ peer, heights: items.map(i => this.files.get(i.hash)?.height ?? -1) })
    // Each block with its first bytes, as the real receive reports a small block of a range.
    for (const [k, item] of items.entries()) {
      if (item.made === true) {
        if (statSync(item.dest).size !== 0) throw new Error(`file created ahead is not empty: ${item.dest}`)
        this.made.push({ dest: item.dest, height: this.files.get(item.hash)?.height ?? -1, peer })
      }
      const b = await this.fetchBlock(peer, item.hash, item.dest, { ...o, made: item.made })
      o.onBlock(k, { ...b, head: new Uint8Array(readFileSync(item.dest).subarray(0, 100)) })
    }
  }
}

export function fail (): never { throw new Error('unreachable') }

export function feedOf (hs: WireHeader[], peer = 'A'): HeaderSource {
  const queue = [...hs]
  return { peer, take: async () => queue.shift() }
}

export const FAST: DownloadOptions = { window: 4, perPeer: 2, maxAttempts: 3, retryDelayMs: 5, hedgeAfterMs: 20 }
/** For tests that count requests: a hedge would ask again for a block that is merely slow. */
export const NO_HEDGE = { hedgeAfterMs: 3_600_000 }

export async function freshChain (): Promise<Chain> {
  return Chain.open(await cloneGenesis(genesis))
}

export interface Run { chain: Chain, net: FakeNetwork, imported: Array<{ height: number, from: string }>, scheduler: DownloadScheduler, done: Promise<number> }

export async function start (o: {
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

export function tmpFiles (chain: Chain): string[] {
  try { return readdirSync(chain.dir.tmpDir) } catch { return [] }
}
