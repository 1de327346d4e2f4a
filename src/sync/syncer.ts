import { IMPORT_PASSES, isBetterTip, LoadPool, refuseIndexBehindFiles, type Chain, type ImportResult } from '../chain/index.js'
import type { SigningKey } from '../crypto/index.js'
// Only libp2p-free parts of network are imported at run time (errors, wire format).
import { headerOf, NetworkError } from '../network/core.js'
import type { AnnouncementSource, Verdict, WireHeader } from '../network/index.js'
import { refuseUnplaceableRange, StorageError, systemFailure } from '../storage/index.js'
import { AbortError, errorMessage, isPetalError, nullLogger, runLoop, type Logger, type WorkProgress } from '../util/index.js'
import { SyncError } from './errors.js'
import { DownloadScheduler } from './download.js'
import { chainImporter } from './importer.js'
import { findAncestor, HeaderFeed, verifiedClaim } from './header-feed.js'
import { judgeHeader } from './judge.js'
import { Notifier } from './notifier.js'
import { DEFAULT_SYNC_OPTIONS, type SyncOptions } from './options.js'
import type { ResealRecorder } from '../chain/index.js'
import { resealPass } from './reseal-pass.js'
import type { SyncNetwork, SyncProgress } from './types.js'

export interface SyncComponents {
  chain: Chain
  network: SyncNetwork
  logger?: Logger
  /** This node's signing key: orphaned blocks it signed are re-sealed on the new tip. */
  signingKey?: SigningKey
  /** Orphans the ingest service re-seals itself (it re-queues its blocks' rows): skipped here, so nothing is sealed twice. */
  ownsOrphan?: (hash: string) => boolean
  /** The node's record of which orphan each of its re-seals copies (pending.db): written before the re-seal commits. */
  reseals?: ResealRecorder
}

export interface SyncEvents {
  /** A block was stored (from a peer or re-sealed here). */
  onImported?: (r: ImportResult, from: string | 'self') => void
  onProgress?: (p: SyncProgress) => void
}

interface Target { peer: string, tip: WireHeader }

// Blocks whose progress is tracked at once (far more than a download window holds).
const MAX_TRANSFERS = 100_000

/**
 * Catching up with peers. It keeps the best tip each peer claims (from status replies and
 * announcements), and one loop at a time syncs towards the best claim that beats the local tip:
 * find the common ancestor, stream the peer's headers, download the blocks from every peer that
 * may have them, import them in order (the chain does fork choice and reorgs). When nothing is
 * better, it re-seals this signatory's orphaned blocks and waits for news.
 */
export class Sync {
  /** Claims this node has checked (the seal verifies with a key it knows): sync targets. */
  private readonly tips = new Map<string, WireHeader>()
  /**
   * Claims signed by a key this node does not know (judged `ignore`): never a target themselves,
   * since anyone can make one up. `resolveClaims` asks the peer for the headers leading to them
   * and takes the highest one it can check as the peer's claim. `resolvedAt`: the local tip at
   * the last try (tried again when it moves, as the key set may have grown).
   */
  private readonly unverified = new Map<string, { tip: WireHeader, resolvedAt?: string, probing?: boolean }>()
  /** Branches (`hash`) or one peer's claims (`peer:hash`) not to try again until the given time. */
  private readonly failed = new Map<string, number>()
  private readonly gaveUp = new Set<string>()
  private readonly wake = new Notifier()
  private readonly importWaiters = new Map<string, Set<() => void>>()
  /** Announced blocks not yet imported, with when to forget them (for relaying, see awaitBlock). */
  private readonly wanted = new Map<string, number>()
  /** Some peer has answered a status request (until then "synced" means nothing). */
  private statusAnswered = false
  /** This node's own disk failed the last sync attempt (DISK_FULL…); cleared by one that succeeds. */
  private diskFailure: StorageError | undefined
  private diskFailureSaid: string | undefined // the refusal last logged as a warning (PERMISSION_DENIED)
  private readonly controller = new AbortController()
  /** Threads that check downloaded blocks ahead of the import point (started at the first download). */
  private readonly loadPool = new LoadPool()
  private loop?: Promise<void>
  private readonly probes = new Set<Promise<void>>()
  private readonly options: SyncOptions
  private readonly components: SyncComponents
  private readonly logger: Logger
  private progress: SyncProgress
  private lastProgressLog = 0
  private progressDue = false // setProgress({}) queued for the end of the pass (imported: a group's blocks come in one loop; the tip's query per block cost more than the rest)
  /** Blocks queued for download and not imported yet: what of each was received and checked. */
  private readonly transfers = new Map<string, { got: number, checked: number }>()

  constructor (c: SyncComponents, options: Partial<SyncOptions> = {}, private readonly events: SyncEvents = {}) {
    this.components = c
    this.options = { ...DEFAULT_SYNC_OPTIONS, ...options }
    this.logger = c.logger ?? nullLogger
    this.progress = { state: 'idle', height: c.chain.tip().height, bytes: 0, received: 0, checked: 0, phase: 'receiving', queued: { blocks: 0, bytes: 0 } }
  }

  start (): void {
    // An unexpected error must not silently end syncing while the node looks healthy.
    this.loop = runLoop('sync loop', { signal: this.controller.signal, logger: this.logger }, async signal => { await this.run(signal) })
  }

  async stop (): Promise<void> {
    this.controller.abort()
    await this.loop
    await Promise.allSettled([...this.probes])
    await this.loadPool.close()
    for (const ws of this.importWaiters.values()) for (const w of ws) w()
  }

  state (): SyncProgress { return { ...this.progress, queued: { ...this.progress.queued } } }

  /** Why syncing cannot go on whatever the peers do (a full or failing disk here), if it cannot. */
  localFailure (): StorageError | undefined { return this.diskFailure }

  /** Checked tips peers claim, by peer id. */
  peerTips (): Map<string, WireHeader> { return new Map(this.tips) }

  /** Whether `peer` has told this node its tip (checked or not). */
  claimed (peer: string): boolean { return this.tips.has(peer) || this.unverified.has(peer) }

  /**
   * True when no peer claims a better tip than the local one that this node can check, every
   * unchecked claim has been looked into at this tip, and at least one peer answered.
   */
  isSynced (): boolean {
    const tip = this.components.chain.tip().hash
    return this.statusAnswered && this.pickTarget() === undefined && this.progress.state === 'idle' &&
      [...this.unverified.values()].every(u => u.probing !== true && (u.resolvedAt === tip || !isBetterTip(u.tip, this.components.chain.tip())))
  }

  /** The local chain changed outside this loop (another process imported a block). */
  localChanged (): void { this.wake.notify() }

  // ---- events from the network ----

  peerConnected (peer: string): void {
    this.refreshStatus(peer)
  }

  peerDisconnected (peer: string): void {
    this.tips.delete(peer)
    this.unverified.delete(peer)
  }

  validateAnnouncement (h: WireHeader): Verdict {
    return judgeHeader(this.components.chain, h)
  }

  announcement (h: WireHeader, from: AnnouncementSource): void {
    this.claim(from.peer, h)
    if (from.origin !== undefined && from.origin !== from.peer && this.components.network.connectedPeers().includes(from.origin)) this.claim(from.origin, h)
    const now = Date.now()
    for (const [k, until] of this.wanted) if (until < now) this.wanted.delete(k)
    if (this.components.chain.index.byHash(h.hash) === undefined) this.wanted.set(h.hash, now + 30_000)
    this.wake.notify()
  }

  /** For the block server: wait up to `ms` for a block this node is about to import (relaying). */
  async awaitBlock (hash: string, ms: number, signal: AbortSignal): Promise<boolean> {
    if (this.components.chain.index.byHash(hash) !== undefined) return true
    if ((this.wanted.get(hash) ?? 0) < Date.now()) return false
    await new Promise<void>(resolve => {
      const set = this.importWaiters.get(hash) ?? new Set()
      const done = (): void => {
        clearTimeout(t)
        set.delete(done)
        if (set.size === 0 && this.importWaiters.get(hash) === set) this.importWaiters.delete(hash)
        signal.removeEventListener('abort', done)
        resolve()
      }
      const t = setTimeout(done, ms)
      signal.addEventListener('abort', done, { once: true })
      set.add(done)
      this.importWaiters.set(hash, set)
    })
    return this.components.chain.index.byHash(hash) !== undefined
  }

  // ---- internals ----

  private claim (peer: string, h: WireHeader): void {
    const prev = this.tips.get(peer)
    if (prev === undefined || isBetterTip(h, prev)) this.tips.set(peer, h)
  }

  private refreshStatus (peer: string): void {
    this.components.network.status(peer, this.controller.signal).then(s => {
      if (!this.components.network.connectedPeers().includes(peer)) return
      this.statusAnswered = true
      const v = judgeHeader(this.components.chain, s.tip)
      if (v === 'reject') { this.components.network.report(peer, 'bad-seal', 'status'); return }
      if (v === 'accept') {
        this.tips.set(peer, s.tip)
        this.unverified.delete(peer)
      } else if (this.unverified.get(peer)?.tip.hash !== s.tip.hash) {
        this.unverified.set(peer, { tip: s.tip })
      }
      this.wake.notify()
    }, (err: unknown) => {
      if (!(err instanceof AbortError)) this.logger.debug('status request failed', { peer, error: errorMessage(err) })
    })
  }

  private pickTarget (): Target | undefined {
    const local = this.components.chain.tip()
    const now = Date.now()
    for (const [hash, until] of this.failed) if (until <= now) this.failed.delete(hash)
    let best: Target | undefined
    for (const [peer, tip] of this.tips) {
      if (!isBetterTip(tip, best?.tip ?? local)) continue
      if (this.failed.has(tip.hash) || this.failed.has(`${peer}:${tip.hash}`)) continue
      if (this.components.chain.index.byHash(tip.hash) !== undefined) continue
      best = { peer, tip }
    }
    return best
  }

  /** Connected peers that claim a tip at least this high (they may serve the block), `first` first. */
  private candidates (height: number, first: string): string[] {
    const out = this.tips.has(first) ? [first] : []
    for (const [p, t] of this.tips) if (p !== first && t.height >= height) out.push(p)
    return out
  }

  private async run (signal: AbortSignal): Promise<void> {
    for (const p of this.components.network.connectedPeers()) this.refreshStatus(p)
    while (!signal.aborted) {
      this.resolveClaims(signal)
      const target = this.pickTarget()
      if (target === undefined) {
        this.setProgress({ state: 'idle' })
        await this.resealOrphans(signal)
        if (!await this.wake.wait(this.options.statusIntervalMs, signal) && !signal.aborted) {
          for (const p of this.components.network.connectedPeers()) this.refreshStatus(p)
        }
        continue
      }
      try {
        await this.syncTo(target, signal)
        this.diskFailure = this.diskFailureSaid = undefined
      } catch (err) {
        if (signal.aborted) return
        // This machine failing (its disk, typed or raw): reported by a pull, never the branch's fault; a peer's failure rules out its claim, the branch's (invalid block) the branch.
        const local = err instanceof StorageError ? err : systemFailure(err)
        if (local !== undefined) this.diskFailure = local
        const code = isPetalError(err) ? err.code : local?.code ?? 'ERROR'
        const peerFault = err instanceof NetworkError || code === 'UNAVAILABLE' || code === 'HEADERS_INCONSISTENT'
        const notTheBranch = peerFault || local !== undefined
        // A refusal of this node's own directory (permissions, an index older than its files), met every few seconds until fixed: said once.
        const standing = local?.code === 'PERMISSION_DENIED' || local?.code === 'INDEX_CORRUPT' ? local.message : undefined
        this.logger[peerFault || (standing !== undefined && standing === this.diskFailureSaid) ? 'debug' : 'warn']('could not sync from peer', { peer: target.peer, height: target.tip.height, code, error: errorMessage(err), hint: isPetalError(err) ? err.hint : local?.hint })
        this.diskFailureSaid = standing
        this.failed.set(notTheBranch ? `${target.peer}:${target.tip.hash}` : target.tip.hash, Date.now() + (notTheBranch || code === 'TIMESTAMP_IN_FUTURE' ? Math.min(5_000, this.options.failedTtlMs) : this.options.failedTtlMs))
        if (code === 'HEADERS_INCONSISTENT' || code === 'UNAVAILABLE') {
          // A claim the peer cannot back: a small penalty (it may have reorganised), and forget it.
          this.components.network.report(target.peer, 'unavailable', code)
          this.tips.delete(target.peer)
        }
        if (err instanceof NetworkError && (err.code === 'TIMEOUT' || err.code === 'DIAL_FAILED' || err.code === 'WRONG_CHAIN')) this.tips.delete(target.peer)
      }
    }
  }

  /**
   * Look into the unchecked claims that beat the local tip, in the background: ask each peer for
   * the headers above the common ancestor and take the highest one whose seal checks out (with a
   * key known at the ancestor) as its claim, then wake the loop. A peer that answers slowly, or
   * never, delays nothing else.
   */
  private resolveClaims (signal: AbortSignal): void {
    const { chain, network } = this.components
    const local = chain.tip()
    for (const [peer, u] of this.unverified) {
      if (u.probing === true || u.resolvedAt === local.hash || !isBetterTip(u.tip, local)) continue
      u.resolvedAt = local.hash
      const v = judgeHeader(chain, u.tip)
      if (v !== 'ignore') {
        this.unverified.delete(peer)
        if (v === 'reject') network.report(peer, 'bad-seal', 'status')
        else this.claim(peer, u.tip)
        continue
      }
      u.probing = true
      const probe = verifiedClaim(chain, network, peer, u.tip, signal).then(h => {
        this.logger.debug('looked into a claim signed by an unknown key', { peer, height: u.tip.height, checked: h?.height })
        if (h !== undefined && this.unverified.get(peer) === u && isBetterTip(h, chain.tip())) this.claim(peer, h)
      }, (err: unknown) => {
        if (!signal.aborted) this.logger.debug('cannot check a peer\'s claim', { peer, height: u.tip.height, error: errorMessage(err) })
      }).finally(() => {
        u.probing = false
        this.probes.delete(probe)
        this.wake.notify()
      })
      this.probes.add(probe)
    }
  }

  private async syncTo (t: Target, signal: AbortSignal): Promise<void> {
    const { chain, network } = this.components
    refuseIndexBehindFiles(chain) // refused at the import, after the download, every few seconds (review57)
    const parent = chain.index.byHash(t.tip.parent)
    let feed: HeaderFeed
    if (parent !== undefined) {
      refuseUnplaceableRange(chain.dir, parent.height + 1, t.tip.height) // before any download
      feed = new HeaderFeed(chain, network, t.peer, { height: parent.height, hash: parent.hash }, t.tip.height, [t.tip])
    } else {
      const { anchor, above } = await findAncestor(chain, network, t.peer, t.tip, signal)
      refuseUnplaceableRange(chain.dir, anchor.height + 1, t.tip.height)
      feed = new HeaderFeed(chain, network, t.peer, anchor, t.tip.height, above)
      if (t.tip.height - anchor.height > 1) this.logger.info('syncing', { peer: t.peer, from: anchor.height, to: t.tip.height })
    }
    this.setProgress({ state: 'syncing', target: t.tip.height, peer: t.peer })
    await new DownloadScheduler({
      network,
      importer: chainImporter(chain, this.loadPool),
      logger: this.logger,
      candidates: h => this.candidates(h, t.peer),
      onImported: (r, from) => { this.imported(r, from) },
      onQueued: h => { this.queued(h) },
      onReceived: (h, got) => { this.received(h, got) },
      onImportProgress: (h, p) => { this.importing(h, p) }
    }, this.options, feed).run(signal)
    if (chain.index.byHash(t.tip.hash) === undefined) {
      // The peer claimed this tip but served no branch reaching it (its headers ran out, or it
      // reorganised meanwhile): drop the claim, or it would be chosen again at once, forever.
      throw new SyncError('HEADERS_INCONSISTENT', `peer claimed tip ${t.tip.height} ${t.tip.hash.slice(0, 12)}… but served no branch to it`, { details: { peer: t.peer, height: t.tip.height } })
    }
  }

  // ---- progress in bytes: each block counts once, whatever the retries, hedges and sync attempts ----

  private queued (h: WireHeader): void {
    if (this.transfers.has(h.hash)) return
    // Blocks of branches given up on are never imported: keep the accounting bounded.
    if (this.transfers.size >= MAX_TRANSFERS) this.transfers.clear()
    this.transfers.set(h.hash, { got: 0, checked: 0 })
    const q = this.progress.queued
    q.blocks++
    q.bytes += h.size
    q.height = Math.max(q.height ?? h.height, h.height)
  }

  private received (h: WireHeader, got: number): void {
    const t = this.transfers.get(h.hash)
    if (t === undefined || got <= t.got) return
    this.progress.received += got - t.got
    t.got = got
  }

  private importing (h: WireHeader, p: WorkProgress): void {
    const t = this.transfers.get(h.hash)
    if (t === undefined || p.done <= t.checked) return
    this.progress.checked += p.done - t.checked
    t.checked = p.done
    this.progress.phase = p.done === p.total ? 'receiving' : p.phase
  }

  private imported (r: ImportResult, from: string | 'self'): void {
    // Imported (or found known, which skips storing): count all of its bytes, then forget it (a long-running node syncs for months).
    const t = this.transfers.get(r.block.hash)
    if (t !== undefined) {
      this.progress.received += Math.max(0, r.block.size - t.got)
      this.progress.checked += Math.max(0, r.block.size * (IMPORT_PASSES - 1) - t.checked)
      this.transfers.delete(r.block.hash)
      this.progress.phase = 'receiving'
    }
    this.progress.bytes += r.block.size
    if (!this.progressDue) queueMicrotask(() => { this.progressDue = false; this.setProgress({}) })
    this.progressDue = true
    this.wanted.delete(r.block.hash)
    const ws = this.importWaiters.get(r.block.hash)
    if (ws !== undefined) { this.importWaiters.delete(r.block.hash); for (const w of ws) w() }
    this.events.onImported?.(r, from)
    // Catching up: a progress line every few seconds; following the tip: a line per block (height: progress.height is set at the end of the pass).
    const height = r.status === 'extended' || r.status === 'reorg' ? r.block.height : this.progress.height
    const catchingUp = this.progress.state === 'syncing' && (this.progress.target ?? height) - height > 1
    if (!catchingUp && r.status !== 'known') {
      this.logger.info('imported block', { height: r.block.height, hash: r.block.hash, signer: r.block.signer, from, status: r.status })
    } else if (catchingUp && Date.now() - this.lastProgressLog > 5_000) {
      this.lastProgressLog = Date.now()
      this.logger.info('sync progress', { height: this.progress.height, target: this.progress.target })
    }
  }

  private setProgress (p: Partial<SyncProgress>): void {
    const next: SyncProgress = { ...this.progress, ...p, height: this.components.chain.tip().height }
    if (next.state === 'idle') { delete next.target; delete next.peer }
    const changed = next.state !== this.progress.state || next.height !== this.progress.height || next.target !== this.progress.target
    this.progress = next
    if (changed) this.events.onProgress?.(this.state())
  }

  /** Re-seal this signatory's orphaned blocks on the tip and announce them (only when idle). */
  private async resealOrphans (signal: AbortSignal): Promise<void> {
    const { chain, signingKey: key, reseals } = this.components
    if (key === undefined) return
    await resealPass(chain, key, reseals, {
      busy: () => this.pickTarget() !== undefined,
      skip: hash => this.gaveUp.has(hash) || this.components.ownsOrphan?.(hash) === true,
      gaveUp: hash => { this.gaveUp.add(hash) },
      imported: async r => { this.imported(r, 'self'); await this.components.network.announce(headerOf(r.block)).catch(() => 0) },
      logger: this.logger
    }, signal)
  }
}
