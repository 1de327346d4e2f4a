import { BlockError, isInvalidBlock } from '../block/index.js'
import type { ImportResult, LoadedBlock } from '../chain/index.js'
// At run time only network/core (errors, wire format, limits) is loaded: never libp2p.
import { LIMITS, NetworkError } from '../network/core.js'
import type { FetchedBlock } from '../network/index.js'
import { StorageError } from '../storage/index.js'
import { AbortError, errorMessage, isPetalError, systemClock, throwIfAborted, type Clock } from '../util/index.js'
import { SyncError } from './errors.js'
import { Notifier } from './notifier.js'
import { rangeRun, Slot, WaitingCount, type FetchRequest, type SlotState } from './slot.js'
import { CheckAhead, discard } from './check-ahead.js'
import { GroupGate } from './group-gate.js'
import { RangeFiles } from './range-files.js'
import type { DownloadOptions } from './options.js'
import { MAX_GROUP, MAX_GROUP_BYTES, MAX_IDLE_MS } from './window-limits.js'
import type { DownloadComponents, HeaderSource } from './types.js'

/**
 * Downloads the blocks of one branch from several peers at once, in a moving window, and imports
 * them in height order through the importer. Each height is a `Slot` whose state only changes
 * through checked transitions; this class decides which: which peer to ask (least busy candidate
 * not failed this round), when to hedge the block the import waits for, when to start a new
 * round, when to give up (UNAVAILABLE). Memory is bounded by the window (files wait on disk).
 * Throws SyncError/BlockError when the branch cannot be completed; what was imported stays
 * imported. One instance runs once.
 */
export class DownloadScheduler {
  private readonly slots: Slot[] = []
  private readonly load = new Map<string, number>()
  private readonly inflight = new Set<Promise<void>>()
  private readonly received = new WeakMap<Slot, number>()
  private readonly checks: CheckAhead
  private readonly wake = new Notifier()
  private readonly gate: GroupGate
  private readonly clock: Clock
  private last: { height: number, hash: string } | undefined
  private feedDone = false
  private closed = false
  private imported = 0
  private fault: unknown
  /** The group being placed (at most one: each group extends the one before). */
  private placing: Promise<void> | undefined
  /** Bytes of the blocks in the window (by their headers), and of the group being placed among them. */
  private windowBytes = 0
  private placingBytes = 0
  /** A slot may wait for a later round (nextRound): idleMs looks for the earliest (else no slot has a due time). */
  private delayed = false
  /** Slots waiting for a peer (dispatch looks past the head only while there are). */
  private readonly waiting = new WaitingCount()
  private readonly files: RangeFiles

  constructor (private readonly components: DownloadComponents, private readonly options: DownloadOptions, private readonly feed: HeaderSource) {
    this.clock = components.clock ?? systemClock
    this.gate = new GroupGate(options.groupHoldMs)
    // A block a range left unhashed whose checks found other bytes: scored and fetched again, as a transfer refused for them is.
    this.checks = new CheckAhead(components.importer, () => { this.wake.notify() }, components.onImportProgress, (from, height, err) => { components.network.report(from, 'hash-mismatch', err.message); this.logFailure('block download failed', err, { peer: from, height }) })
    this.files = new RangeFiles(components.importer, options.perPeer)
  }

  /** Download and import the whole branch; resolves to the number of blocks imported. */
  async run (signal: AbortSignal): Promise<number> {
    try {
      for (;;) {
        if (this.fault !== undefined) throw this.fault
        await this.fill(signal)
        if (this.fault !== undefined) throw this.fault
        this.dispatch()
        this.startLoads(signal)
        // Placement runs beside the loop: while one group is placed, the next blocks arrive and are
        // checked (hasRoom); the next group is what is ready when it ends, or soon after (GroupGate:
        // at once when heights remain that the window has no room for, and it holds fewer than the target).
        if (this.placing === undefined && this.headReady() && this.gate.due(this.slots, this.checks, !this.feedDone && !this.hasRoom())) this.startPlacement(signal)
        if (this.slots.length === 0 && this.feedDone) return this.imported
        throwIfAborted(signal)
        if (!this.feedDone && this.hasRoom()) continue // imports made room
        await this.wake.wait(this.idleMs(), signal)
      }
    } catch (err) {
      if (signal.aborted && !(isPetalError(err) && err.code !== 'ABORTED')) throw new AbortError()
      throw err
    } finally {
      await this.close()
    }
  }

  /** The state of each height in the window, lowest first (for tests and diagnostics). */
  window (): Array<{ height: number, state: SlotState['kind'] }> {
    return this.slots.map(s => ({ height: s.height, state: s.state.kind }))
  }

  /** Room for another height: fewer than `window` blocks, and `windowBytes` bytes not being placed (at least one block): a group being placed does not stop the download (docs/performance/pull.md, "Session 49"). */
  private hasRoom (): boolean {
    const ahead = this.windowBytes - this.placingBytes
    return this.slots.length < this.options.window && (this.slots.length === 0 || ahead <= 0 || ahead < (this.options.windowBytes ?? Infinity))
  }

  private async fill (signal: AbortSignal): Promise<void> {
    while (!this.feedDone && this.hasRoom()) {
      const h = await this.feed.take(signal)
      if (h === undefined) { this.feedDone = true; return }
      const last = this.last
      if (last !== undefined && (h.height !== last.height + 1 || h.parent !== last.hash)) {
        throw new SyncError('HEADERS_INCONSISTENT', `headers skip from height ${last.height} to ${h.height}`, { details: { peer: this.feed.peer, height: h.height } })
      }
      this.last = { height: h.height, hash: h.hash }
      this.slots.push(new Slot(h, this.feed.sealChecked?.(h), this.waiting))
      this.windowBytes += h.size
      this.components.onQueued?.(h)
    }
  }

  /** Make every transition that is due: ask peers, hedge, start rounds, give up. */
  private dispatch (): void {
    const now = this.clock.now()
    const head = this.headIndex()
    // Nothing to assign nor hedge while every peer that could serve the head is at its limit.
    const first = head < this.slots.length ? this.slots[head] as Slot : undefined
    if (first === undefined || this.allBusy(first.height)) return
    // Past the head (a hedge), only waiting slots need anything: the window is not walked while none is.
    for (let i = head; i < this.slots.length && (i === head || this.waiting.n > 0); i++) {
      const slot = this.slots[i] as Slot
      const s = slot.state
      if (s.kind === 'waiting' && s.notBefore <= now) {
        // A higher height has no more candidates than a lower one (peers whose tip reaches it):
        // once every candidate is at its request limit, no later slot can be assigned either.
        if (this.allBusy(slot.height)) break
        this.assign(i, slot, s, now)
      }
      else if (s.kind === 'fetching' && i === head && s.requests.size === 1 && now - s.since >= this.options.hedgeAfterMs) {
        // The block everything waits for is slow: ask a second peer too; the first file wins.
        const peer = this.pickPeer(slot.height, p => !s.tried.has(p) && !s.requests.has(p))
        if (peer !== undefined) slot.hedge(this.request(slot, peer))
      }
    }
  }

  private assign (i: number, slot: Slot, s: Extract<SlotState, { kind: 'waiting' }>, now: number): void {
    const peer = this.pickPeer(slot.height, p => !s.tried.has(p))
    if (peer !== undefined) {
      const run = this.rangeFrom(i, peer, now)
      if (run.length > 1) this.requestRange(run, peer, now)
      else slot.start(this.request(slot, peer), now)
      return
    }
    const all = this.components.candidates(slot.height)
    if (all.some(p => !s.tried.has(p))) return // every untried candidate is busy: wait for one
    if (all.length === 0 || s.round + 1 >= this.options.maxAttempts) {
      slot.giveUp()
      throw new SyncError('UNAVAILABLE', `no peer could provide block ${slot.height}`, { details: { height: slot.height, hash: slot.header.hash } })
    }
    slot.nextRound(now, this.options.retryDelayMs * 2 ** s.round)
    this.delayed = true
  }

  /** The waiting slots from index `i` on that `peer` can serve in one range request: consecutive, due, not failed by it this round, small, within the byte budget, and no more than the window shared among the peer's request slots (so several ranges run side by side). */
  private rangeFrom (i: number, peer: string, now: number): Slot[] {
    const net = this.components.network
    if (net.fetchBlocks === undefined || net.servesRanges?.(peer) !== true) return []
    const max = Math.min(LIMITS.maxRangeBlocks, Math.max(1, Math.ceil(this.options.window / this.options.perPeer)))
    return rangeRun(this.slots, i, peer, now, max, height => this.components.candidates(height).includes(peer))
  }

  /** The least busy allowed candidate with a free request slot (candidates' order breaks ties). */
  private pickPeer (height: number, allowed: (peer: string) => boolean): string | undefined {
    let best: string | undefined
    for (const p of this.components.candidates(height)) {
      if (!allowed(p) || this.loadOf(p) >= this.options.perPeer) continue
      if (best === undefined || this.loadOf(p) < this.loadOf(best)) best = p
    }
    return best
  }

  private loadOf (peer: string): number { return this.load.get(peer) ?? 0 }

  /** Every candidate for `height` is at its request limit (and there is at least one). */
  private allBusy (height: number): boolean {
    const all = this.components.candidates(height)
    return all.length > 0 && all.every(p => this.loadOf(p) >= this.options.perPeer)
  }

  /** Start fetching the slot's block from `peer`; the outcome is a transition of the slot. */
  private request (slot: Slot, peer: string): FetchRequest {
    const req = { peer, file: this.components.importer.tmpPath(), controller: new AbortController() }
    this.load.set(peer, this.loadOf(peer) + 1)
    let got = 0
    const onBytes = (n: number): void => { got += n; if (slot.isFetchingFrom(peer)) this.noteReceived(slot, got) }
    const p = this.components.network.fetchBlock(peer, slot.header.hash, req.file, { maxBytes: this.components.importer.maxBlockBytes, signal: req.controller.signal, onBytes }).then(
      async r => { await this.delivered(slot, req, r) },
      async (err: unknown) => {
        await discard(req.file)
        if (this.closed || !slot.isFetchingFrom(peer)) return
        slot.failed(peer)
        this.logFailure('block download failed', err, { peer, height: slot.height })
      }
    )
    this.track(peer, p)
    return req
  }

  /** A block arrived: the slot has it, or, when the slot no longer wants it from this peer, the file goes. */
  private async delivered (slot: Slot, req: FetchRequest, r: FetchedBlock, hashed?: boolean): Promise<void> {
    if (this.closed || !slot.isFetchingFrom(req.peer)) { await discard(req.file); return }
    this.noteReceived(slot, r.size)
    for (const loser of slot.succeeded(req.peer, r.seal, r.size, r.head, hashed)) loser.controller.abort()
    this.checks.add(slot)
  }

  /**
   * Fetch consecutive slots' blocks from `peer` with one range request. Each block counts as soon
   * as it is complete (its checks start while the next one arrives); when the reply ends early,
   * the blocks not received go back to waiting, as after a failed single request. The transfer
   * goes on while any of its blocks is still wanted from this peer.
   */
  private requestRange (run: Slot[], peer: string, now: number): void {
    // One signal for the range, aborted once no block of it is wanted (an AbortController and a listener per block cost more than the rest of its request).
    const all = new AbortController()
    let wanted = run.length
    // Each block's file: an empty one created ahead, or a new name (RangeFiles).
    const files = this.files.take(run.length, this.feedDone ? this.waiting.n - run.length : Infinity)
    const reqs: FetchRequest[] = files.map(({ file }) => {
      let aborted = false
      return { peer, file, controller: { abort: () => { if (!aborted) { aborted = true; if (--wanted === 0) all.abort() } } } }
    })
    for (const [k, slot] of run.entries()) slot.start(reqs[k] as FetchRequest, now)
    const net = this.components.network
    if (net.fetchBlocks === undefined) throw new Error('range request without a range-capable network')
    this.load.set(peer, this.loadOf(peer) + 1)
    const got = run.map(() => 0)
    let done = 0
    const settling: Array<Promise<void>> = []
    const later = this.components.importer.hashLater
    const items = run.map((slot, k) => ({ hash: slot.header.hash, dest: (reqs[k] as FetchRequest).file, made: files[k]?.made, hashLater: later?.(slot.header.size) }))
    const p = net.fetchBlocks(peer, items, {
      maxBytes: this.components.importer.maxBlockBytes,
      signal: all.signal,
      onBytes: (k, n) => {
        const slot = run[k] as Slot
        got[k] = (got[k] ?? 0) + n
        if (slot.isFetchingFrom(peer)) this.noteReceived(slot, got[k] ?? 0)
      },
      onBlock: (k, b) => {
        done = k + 1
        settling.push(this.delivered(run[k] as Slot, reqs[k] as FetchRequest, b, items[k]?.hashLater === true ? false : undefined).catch((err: unknown) => { this.fault ??= err }))
        this.wake.notify()
      }
    }).then(
      () => {},
      async (err: unknown) => {
        for (let k = done; k < run.length; k++) {
          const slot = run[k] as Slot
          await discard((reqs[k] as FetchRequest).file)
          if (!this.closed && slot.isFetchingFrom(peer)) slot.failed(peer)
        }
        this.logFailure('range download failed', err, { peer, from: run[done]?.height })
      }
    ).then(async () => { await Promise.all(settling) })
    this.track(peer, p)
  }

  /** A transfer to `peer` (counted in its load) runs until `transfer` settles; a transition a slot refuses (a bug) ends the download rather than being lost. */
  private track (peer: string, transfer: Promise<void>): void {
    const p: Promise<void> = transfer.catch((err: unknown) => { this.fault ??= err }).finally(() => {
      this.load.set(peer, this.loadOf(peer) - 1)
      this.inflight.delete(p)
      this.wake.notify()
    })
    this.inflight.add(p)
  }

  /** A failed transfer is worth a debug line unless it was aborted or the peer said it lacks the block; this node's own disk's failure (StorageError: DISK_FULL…) ends the download. */
  private logFailure (what: string, err: unknown, where: Record<string, unknown>): void {
    if (err instanceof AbortError || (err instanceof NetworkError && err.code === 'PEER_LACKS_BLOCK')) return
    if (err instanceof StorageError) { this.fault ??= err; return } // no peer can help; never retried from each in turn
    this.components.logger.debug(what, { ...where, code: isPetalError(err) ? err.code : undefined, error: errorMessage(err) })
  }

  /** Progress: the most of the slot's block any one transfer has received (hedges count once). */
  private noteReceived (slot: Slot, bytes: number): void {
    if (bytes <= (this.received.get(slot) ?? 0)) return
    this.received.set(slot, bytes)
    this.components.onReceived?.(slot.header, bytes)
  }

  /** Start the stateless checks of fetched blocks (CheckAhead); `ahead` while more blocks follow. */
  private startLoads (signal: AbortSignal): void { this.checks.start(this.slots.length > 1 || !this.feedDone, signal) }

  /** The lowest block is here and checked (or its check failed): its import can go. */
  private headReady (): boolean {
    const head = this.slots[0]
    return head?.state.kind === 'fetched' && this.checks.settled(head)
  }

  /** Place the checked blocks at the head of the window in the background (see importRun). */
  private startPlacement (signal: AbortSignal): void {
    const p = this.importRun(signal).catch((err: unknown) => { this.fault ??= err }).finally(() => {
      this.placing = undefined
      this.wake.notify()
    })
    this.placing = p
  }

  /** Import the checked blocks at the head of the window as one batch (the chain places consecutive ones as a group). A block that fails ends the download; those below it stay. */
  private async importRun (signal: AbortSignal): Promise<void> {
    const group: Array<{ slot: Slot, from: string }> = []
    const blocks: LoadedBlock[] = []
    let bytes = 0
    for (const slot of this.slots) {
      if (slot.state.kind !== 'fetched' || group.length >= MAX_GROUP || bytes >= MAX_GROUP_BYTES) break
      const block = this.checks.take(slot) // the batch owns its file now
      if (block === undefined) break
      group.push({ slot, from: slot.importing().from })
      blocks.push(block)
      bytes += block.candidate.file.size
    }
    if (group.length === 0) {
      // The head's own checks failed.
      const head = this.slots[0] as Slot
      const error = this.checks.takeError(head)
      const { file, from } = head.importing()
      head.importDone()
      await discard(file)
      this.blame(from, error)
      throw error
    }
    const placing = group.reduce((n, g) => n + g.slot.header.size, 0)
    this.placingBytes += placing
    const r = await this.components.importer.importBatch(blocks, signal).finally(() => { this.placingBytes -= placing })
    let refused: ImportResult['reorgRefused']
    for (const [i, res] of r.results.entries()) {
      const g = group[i] as { slot: Slot, from: string }
      g.slot.importDone()
      this.slots.shift()
      this.windowBytes -= g.slot.header.size
      this.imported++
      this.components.onImported(res, g.from)
      refused ??= res.reorgRefused
    }
    for (const g of group.slice(r.results.length)) g.slot.importDone()
    if (r.failure !== undefined) {
      this.blame(group[r.failure.index]?.from, r.failure.error)
      throw r.failure.error
    }
    if (refused !== undefined) {
      throw new SyncError('REORG_REFUSED', `peer's branch would reorganise ${refused.depth} blocks (max_reorg_depth ${refused.maxDepth})`, { details: { peer: this.feed.peer } })
    }
  }

  /** An invalid block: its server and the peer whose headers led here are scored down. */
  private blame (from: string | undefined, err: unknown): void {
    if (from === undefined || !(err instanceof BlockError && isInvalidBlock(err.code))) return
    this.components.network.report(from, 'invalid-block', err.code)
    if (this.feed.peer !== from) this.components.network.report(this.feed.peer, 'invalid-block', err.code)
  }

  /** The lowest height not being placed: the block the next group waits for. */
  private headIndex (): number {
    let i = 0 // within the list: a read past its end deoptimised this code and dispatch (catchup.md, "Session 50")
    while (i < this.slots.length && (this.slots[i] as Slot).state.kind === 'importing') i++
    return i
  }

  /** Until the next retry round or hedge is due, at most MAX_IDLE_MS. */
  private idleMs (): number {
    const now = this.clock.now()
    let next = now + MAX_IDLE_MS
    // Only a slot put into a later round waits for a time: the window (512 slots) is scanned only
    // while one may (it was scanned at every wake-up, ~1.5 per block of a catch-up).
    if (this.delayed) {
      let any = false
      for (const { state: s } of this.slots) {
        if (s.kind === 'waiting' && s.notBefore > now) { next = Math.min(next, s.notBefore); any = true }
      }
      this.delayed = any
    }
    // A hedge that is due but found no free peer is retried when a download ends (which wakes the loop).
    const head = this.headIndex()
    const s = head < this.slots.length ? (this.slots[head] as Slot).state : undefined
    if (s?.kind === 'fetching' && s.requests.size === 1 && s.since + this.options.hedgeAfterMs > now) next = Math.min(next, s.since + this.options.hedgeAfterMs)
    return Math.max(1, Math.min(next - now, this.gate.msLeft() ?? Infinity))
  }

  /** Abort what is in flight, wait for it to settle, and delete every file this download holds. */
  private async close (): Promise<void> {
    this.closed = true
    this.wake.dispose()
    // The group being placed owns its files (placed or deleted); let it finish first.
    await this.placing
    const files: string[] = []
    for (const slot of this.slots) {
      const { requests, file } = slot.leftovers()
      for (const r of requests) r.controller.abort()
      if (file !== undefined) files.push(file)
    }
    await Promise.allSettled([...this.inflight])
    await this.checks.close()
    await Promise.all(files.map(discard))
    await this.files.close() // every range has settled
  }
}
