import { rm } from 'node:fs/promises'
import { BlockError, isInvalidBlock } from '../block/index.js'
import { importBlock, type Chain, type ImportResult } from '../chain/index.js'
// Only libp2p-free parts of network are imported at run time (errors, wire format).
import { NetworkError } from '../network/errors.js'
import type { WireHeader } from '../network/index.js'
import { tmpBlockPath } from '../storage/index.js'
import { AbortError, errorMessage, isPetalError, type Logger, type WorkProgress } from '../util/index.js'
import { SyncError } from './errors.js'
import type { HeaderFeed } from './header-feed.js'
import { Notifier } from './notifier.js'
import type { SyncNetwork } from './types.js'

export interface DownloadOptions {
  /** Blocks downloaded ahead of the import point (each on disk in tmp/, not in memory). */
  window: number
  /** Block requests in flight to one peer. */
  perPeer: number
  /** Rounds of asking every candidate peer before giving up on a block. */
  maxAttempts: number
  /** Delay before a new round; doubles per round. */
  retryDelayMs: number
  /** Ask a second peer for the next block to import when the first takes longer than this. */
  hedgeAfterMs: number
}

export interface DownloadContext {
  chain: Chain
  net: SyncNetwork
  logger: Logger
  o: DownloadOptions
  /** Peers that may have a block at this height (their claimed tip is at least that high). */
  candidates: (height: number) => string[]
  onImported: (r: ImportResult, from: string) => void
  /** A header entered the download window. */
  onQueued?: (h: WireHeader) => void
  /** The most of block `h` any one transfer has received so far (for progress). */
  onReceived?: (h: WireHeader, bytes: number) => void
  /** Progress of importing block `h` (hashing, checking, storing), in bytes of work. */
  onImportProgress?: (h: WireHeader, p: WorkProgress) => void
}

interface Slot {
  header: WireHeader
  state: 'queued' | 'active' | 'done'
  file?: string
  seal?: string
  from?: string
  tried: Set<string>
  active: Map<string, AbortController>
  rounds: number
  notBefore: number
  startedAt: number
  /** The most of this block any transfer has received so far. */
  received: number
}

/**
 * Download the blocks of `feed` from several peers at once, in a moving window, and import them
 * strictly in height order through the chain's full validation. Memory is bounded by the window
 * (files wait on disk) and the header feed. Throws SyncError/BlockError when the branch cannot
 * be completed; what was imported stays imported.
 */
export async function downloadBranch (ctx: DownloadContext, feed: HeaderFeed, signal: AbortSignal): Promise<number> {
  const { chain, net, o } = ctx
  const slots: Slot[] = []
  const inflight = new Map<string, number>()
  const wake = new Notifier()
  let feedDone = false
  let closed = false
  let imported = 0

  const start = (s: Slot, peer: string): void => {
    const ctl = new AbortController()
    const file = tmpBlockPath(chain.dir)
    s.state = 'active'
    s.active.set(peer, ctl)
    if (s.active.size === 1) s.startedAt = Date.now()
    inflight.set(peer, (inflight.get(peer) ?? 0) + 1)
    let got = 0
    const onBytes = (n: number): void => {
      got += n
      if (got > s.received && s.state !== 'done') { s.received = got; ctx.onReceived?.(s.header, got) }
    }
    net.fetchBlock(peer, s.header.hash, file, { maxBytes: chain.params.maxBlockBytes, signal: AbortSignal.any([signal, ctl.signal]), onBytes }).then(
      r => {
        if (s.state === 'done' || closed) { rm(file, { force: true }).catch(() => {}); return }
        if (r.size > s.received) { s.received = r.size; ctx.onReceived?.(s.header, r.size) }
        s.state = 'done'
        s.file = file
        s.seal = r.seal
        s.from = peer
        for (const [p, c] of s.active) if (p !== peer) c.abort()
      },
      (err: unknown) => {
        rm(file, { force: true }).catch(() => {})
        s.tried.add(peer)
        if (s.state === 'active' && s.active.size === 1) s.state = 'queued'
        if (!(err instanceof AbortError) && !(err instanceof NetworkError && err.code === 'PEER_LACKS_BLOCK')) {
          ctx.logger.debug('block download failed', { peer, height: s.header.height, error: errorMessage(err) })
        }
      }
    ).finally(() => {
      s.active.delete(peer)
      inflight.set(peer, (inflight.get(peer) ?? 1) - 1)
      wake.notify()
    })
  }

  const pickPeer = (s: Slot): string | undefined => {
    const free = ctx.candidates(s.header.height)
      .filter(p => !s.tried.has(p) && !s.active.has(p) && (inflight.get(p) ?? 0) < o.perPeer)
      .sort((a, b) => (inflight.get(a) ?? 0) - (inflight.get(b) ?? 0))
    return free[0]
  }

  const dispatch = (): void => {
    const now = Date.now()
    for (const [i, s] of slots.entries()) {
      if (s.state === 'queued' && s.notBefore <= now) {
        const p = pickPeer(s)
        if (p !== undefined) { start(s, p); continue }
        const all = ctx.candidates(s.header.height)
        if (all.some(c => !s.tried.has(c))) continue // every candidate is busy: wait for a free one
        if (all.length === 0 || ++s.rounds >= o.maxAttempts) {
          throw new SyncError('UNAVAILABLE', `no peer could provide block ${s.header.height}`, { details: { height: s.header.height, hash: s.header.hash } })
        }
        s.tried.clear()
        s.notBefore = now + o.retryDelayMs * 2 ** (s.rounds - 1)
      } else if (i === 0 && s.state === 'active' && s.active.size === 1 && now - s.startedAt > o.hedgeAfterMs) {
        // The block everything waits for is slow: ask a second peer too.
        const p = pickPeer(s)
        if (p !== undefined) start(s, p)
      }
    }
  }

  const importHead = async (s: Slot): Promise<void> => {
    const from = s.from as string
    try {
      const r = await importBlock(chain, s.file as string, s.seal as string, {
        expectedHash: s.header.hash, consume: true, signal, onProgress: ctx.onImportProgress === undefined ? undefined : p => { ctx.onImportProgress?.(s.header, p) }
      })
      imported++
      ctx.onImported(r, from)
      if (r.reorgRefused !== undefined) {
        throw new SyncError('REORG_REFUSED', `peer's branch would reorganise ${r.reorgRefused.depth} blocks (max_reorg_depth ${r.reorgRefused.maxDepth})`, { details: { peer: feed.peer } })
      }
    } catch (err) {
      await rm(s.file as string, { force: true })
      if (err instanceof BlockError && isInvalidBlock(err.code)) {
        net.report(from, 'invalid-block', err.code)
        if (feed.peer !== from) net.report(feed.peer, 'invalid-block', err.code)
      }
      throw err
    }
  }

  try {
    for (;;) {
      while (!feedDone && slots.length < o.window) {
        const h = await feed.take(signal)
        if (h === undefined) { feedDone = true; break }
        slots.push({ header: h, state: 'queued', tried: new Set(), active: new Map(), rounds: 0, notBefore: 0, startedAt: 0, received: 0 })
        ctx.onQueued?.(h)
      }
      // Keep downloads flowing while blocks are imported (imports are mostly synchronous work).
      dispatch()
      while (slots[0]?.state === 'done') {
        await importHead(slots.shift() as Slot)
        dispatch()
      }
      if (slots.length === 0 && feedDone) return imported
      if (signal.aborted) throw new AbortError()
      await wake.wait(100, signal)
    }
  } catch (err) {
    if (signal.aborted && !(isPetalError(err) && err.code !== 'ABORTED')) throw new AbortError()
    throw err
  } finally {
    closed = true
    for (const s of slots) {
      for (const c of s.active.values()) c.abort()
      if (s.file !== undefined) await rm(s.file, { force: true })
    }
  }
}
