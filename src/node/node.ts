import { dirname } from 'node:path'
import { TableRootPool } from '../block/index.js'
import { PetalMetrics, startApiServer, tokensPath, type ApiServer, type NodeFacts } from '../api/index.js'
import { Chain, signImport, type ImportResult } from '../chain/index.js'
import type { SigningKey } from '../crypto/index.js'
import { DEFAULT_SEAL_EVERY_MS, Ingest, orphanJudging, ResealRecord, SealLoop, type SealPolicy } from '../ingest/index.js'
import { chainSource, headerOf, loadOrCreateNodeKey, Network, parseMultiaddr, type PeerSummary } from '../network/index.js'
import { ChunkPool, knownWitnesses } from '../proof/index.js'
import { cleanTmp, DataDir, indexFiles, refuseUnwritable, type NodeLock } from '../storage/index.js'
import { Sync, type SyncProgress } from '../sync/index.js'
import { errorMessage, nullLogger, runLoop, runStopSteps, type Logger, type StopStep } from '../util/index.js'
import { QueryError, type MirrorStop } from '../query/index.js'
import { checkpointsToServe } from './checkpoint-ask.js'
import { chainKeyOf, statusSigner } from './peer-key.js'
import { CheckpointDuty } from './checkpoint-duty.js'
import { MirrorKeeper } from './mirror-keeper.js'
import { NodeError } from './errors.js'
import { DEFAULT_MIRROR_EVERY_MS, DEFAULT_STATE_EVERY_MS, DEFAULT_WATCH_MS, type NodeOptions, type NodeRole } from './options.js'
import { peersFilePath, removeNodeState, removeStaleTempFiles, sealState, type NodeState } from './state-file.js'
import { takeNodeLock } from './take-lock.js'
import { StatePublisher } from './state-publisher.js'

export interface PeerView extends PeerSummary { tipHeight?: number, tipHash?: string }

/**
 * A running Petal node: the composition root. Opens the chain, builds the network and the
 * syncer and wires them together, watches the data directory for blocks imported by other
 * processes and announces them, and publishes its state for the CLI. start() brings the parts
 * up in dependency order; stop() takes them down in reverse.
 */
export class PetalNode {
  readonly chain: Chain
  readonly network: Network
  readonly sync: Sync
  /** The record ingestion service (pending.db, receipts, sealing); undefined with `ingest: false`. */
  readonly ingest: Ingest | undefined
  private readonly sealLoop: SealLoop | undefined
  private readonly logger: Logger
  private readonly controller = new AbortController()
  private readonly loops: Array<Promise<void>> = []
  private lastTip = ''
  private lastRole: NodeRole = 'follower'
  private readonly stateFile: StatePublisher
  private readonly checkpoints: CheckpointDuty
  private startedAt = new Date()
  private running = false
  private lock: NodeLock | undefined
  private api: ApiServer | undefined
  /** The thread the API's row proofs hash large tables' chunk roots in (started on first use). */
  private readonly chunkPool = new ChunkPool()
  /** Metrics the node feeds (imports) and the API serves (GET /metrics). */
  readonly metrics = new PetalMetrics()
  private readonly mirror: MirrorKeeper

  /**
   * `owned`: the chain this node opened, with the table-hashing pool it opened first; stop() closes
   * them in reverse order. Undefined when the caller passed its own chain (and owns both).
   */
  private constructor (chain: Chain, network: Network, sync: Sync, ingest: Ingest | undefined, private readonly owned: { hashPool: TableRootPool } | undefined, private readonly options: NodeOptions, logger: Logger) {
    this.chain = chain
    this.network = network
    this.sync = sync
    this.ingest = ingest
    this.logger = logger
    this.checkpoints = new CheckpointDuty(chain, network, options, logger, () => this.running)
    this.mirror = new MirrorKeeper(chain, logger)
    this.stateFile = new StatePublisher(chain.dir.root, () => this.state(), logger)
    if (ingest !== undefined && options.ingest !== false) {
      this.sealLoop = new SealLoop(ingest, {
        ...options.ingest,
        everyMs: options.ingest?.everyMs ?? DEFAULT_SEAL_EVERY_MS,
        // Not while catching up: a block sealed on a stale tip would only be orphaned.
        ready: () => this.sync.state().state === 'idle'
      }, logger.child('seal'))
      ingest.on('sealed', () => {
        this.lastTip = this.chain.tip().hash
        this.imported()
        this.sync.localChanged()
        void this.announceTip()
        this.signCheckpoints().catch((err: unknown) => { if (!this.controller.signal.aborted) this.logger.warn('signing checkpoints failed; will retry', { error: errorMessage(err) }) })
      })
    }
  }

  /** Open (or take) the chain and build the node; nothing listens until start(). */
  static async create (options: NodeOptions): Promise<PetalNode> {
    const logger = options.logger ?? nullLogger
    const hashPool = options.chain === undefined ? new TableRootPool() : undefined
    let chain: Chain
    try {
      chain = options.chain ?? Chain.open(options.dir, { logger: logger.child('chain'), hashPool })
    } catch (err) {
      await hashPool?.close()
      throw err
    }
    let ingest: Ingest | undefined
    try {
      // SQLite opened an index file this user may not write read-only, and a connection stays so: a
      // node could neither import nor seal until restarted, whatever was fixed meanwhile. Said now.
      if (options.chain === undefined) refuseUnwritable(indexFiles(chain.dir))
      for (const w of knownWitnesses(chain)) logger.info('keeping the cosignatures of witness', { witness: w.name }) // a bad `witnesses` file stops the start
      ingest = options.ingest === false ? undefined : Ingest.open({ chain, key: options.signingKey, logger: logger.child('ingest') })
      const dir = new DataDir(chain.dir.root)
      const privateKey = await loadOrCreateNodeKey(dir.nodeKey)
      const bootstrap = [...validBootstrap(chain.params.bootstrapPeers, logger), ...(options.network?.bootstrap ?? [])]
      let sync: Sync | undefined
      const network = await Network.create({
        privateKey,
        source: chainSource(chain, async (hash, ms, signal) => await (sync?.awaitBlock(hash, ms, signal) ?? false), async maxSize => await checkpointsToServe(chain, maxSize, options.signingKey), statusSigner(chain, options.signingKey)),
        logger: logger.child('network'), keyOf: chainKeyOf(chain),
        events: {
          onPeerConnected: p => { sync?.peerConnected(p); if (node !== undefined) node.checkpoints.askPeer(p, node.controller.signal) },
          onPeerDisconnected: p => { sync?.peerDisconnected(p) },
          validateAnnouncement: h => sync?.validateAnnouncement(h) ?? 'ignore',
          onAnnouncement: (h, from) => { sync?.announcement(h, from) },
          // Until the node is built (nothing is subscribed before start()), ignored.
          validateCheckpoint: (note, from) => node?.checkpoints.judgeGossiped(note, from) ?? 'ignore',
          onCheckpoint: (note, from) => { node?.checkpoints.gossiped(note, from) }
        }
      }, { peersFile: peersFilePath(chain.dir.root), ...options.network, bootstrap })
      let node: PetalNode | undefined
      const owner = ingest
      // Every block stored (from a peer, a reorg, a re-seal) may change this node's role.
      const events = {
        ...options.events,
        onImported: (r: ImportResult, from: string) => {
          node?.imported()
          options.events?.onImported?.(r, from)
          // A reorg may have orphaned sealed rows: the seal loop re-queues them at once.
          if (r.status === 'reorg') node?.sealLoop?.wake()
          node?.checkRole()
        },
        // Caught up: ask peers for the new tip's checkpoints (checkpoint-duty.ts).
        onProgress: (p: SyncProgress) => { options.events?.onProgress?.(p); if (p.state === 'idle' && node !== undefined) node.checkpoints.synced(node.controller.signal) }
      }
      const reseals = owner === undefined ? undefined : new ResealRecord(owner.store)
      sync = new Sync({ chain, network, logger: logger.child('sync'), signingKey: options.signingKey, ownsOrphan: h => owner?.ownsBlock(h) ?? false, reseals }, options.sync, events)
      node = new PetalNode(chain, network, sync, ingest, hashPool === undefined ? undefined : { hashPool }, options, logger.child('node'))
      return node
    } catch (err) {
      await ingest?.close()
      if (options.chain === undefined) chain.close()
      await hashPool?.close()
      throw err
    }
  }

  get peerId (): string { return this.network.peerId }

  /** Signatory when the signing key is active at the tip, follower otherwise: read live from the chain. */
  get role (): NodeRole {
    const k = this.options.signingKey
    return k !== undefined && this.chain.keysAt(this.chain.tip()).isActive(k.id) ? 'signatory' : 'follower'
  }

  /**
   * Say when the role changes: the signing key was added or revoked by a block this node stored
   * (from a peer, a reorganisation, this process or another one on the directory). Sealing and
   * re-sealing read the role live, so nothing waits for a restart.
   */
  private checkRole (): void {
    const role = this.role
    if (role === this.lastRole) return
    const was = this.lastRole
    this.lastRole = role
    const key = this.options.signingKey?.id
    const tip = this.chain.tip()
    const revoked = key !== undefined && (this.chain.keysAt(tip).get(key)?.revokedAt ?? null) !== null
    this.logger.info(role === 'signatory' ? 'this node is now a signatory' : `this node is no longer a signatory${revoked ? ' (its key was revoked)' : ''}`, { key, height: tip.height, was })
    // Pending records wait for a signatory: seal them now rather than at the next tick.
    if (role === 'signatory') this.sealLoop?.wake()
    // `petal append` reads the role in node-state.json: say it now, not at the next rewrite.
    if (this.running && this.options.stateFile !== false) this.stateFile.write().catch(this.stateFile.failed)
    this.options.events?.onRoleChanged?.(role)
  }

  async start (): Promise<void> {
    if (this.options.stateFile !== false) {
      this.lock = this.options.lock ?? takeNodeLock(this.chain.dir.root)
      removeStaleTempFiles(this.chain.dir.root, [this.chain.dir.keystore, dirname(tokensPath(this.chain.dir.root))])
      // tmp/ files of killed processes (a seal's input, a block being built): otherwise only a
      // write's recovery removes them, and a node that seals nothing before it stops never writes.
      try { cleanTmp(this.chain.dir) } catch (err) { this.logger.warn('could not remove temporary files of stopped processes (the next write will)', { error: errorMessage(err) }) }
      // A killed node's file would give its role for this node's (runningNodeRole) until this one writes its own
      // (a pull's node: the pull, holding the lock, has written its own already).
      if (this.options.pull !== true) removeNodeState(this.chain.dir.root)
    }
    try {
      await this.network.start()
    } catch (err) {
      this.releaseLock()
      throw err
    }
    this.running = true
    this.startedAt = new Date()
    this.sync.start()
    this.lastTip = this.chain.tip().hash
    this.lastRole = this.role
    const signal = this.controller.signal
    this.loops.push(this.watch(signal))
    if (this.options.signingKey !== undefined) this.loops.push(this.every('signing checkpoints', () => this.options.watchMs ?? DEFAULT_WATCH_MS, signal, async () => { await this.signCheckpoints() }))
    if (this.options.queryMirror !== false) this.loops.push(this.keepMirror(signal))
    if (this.options.http !== undefined) {
      try {
        this.api = await startApiServer({ dir: this.chain.dir.root, ...this.options.http, node: this.facts(), ingest: this.ingest, orphans: this.ingest === undefined ? undefined : orphanJudging(this.ingest, this.options.signingKey === undefined ? [] : [this.options.signingKey.id]), metrics: this.metrics, chunkPool: this.chunkPool, checkpointAudience: () => this.checkpoints.audience(), knownPeers: () => this.network.knownPeers(), logger: this.logger.child('api') })
      } catch (err) {
        await this.stop()
        throw err
      }
    }
    if (this.options.stateFile !== false) {
      // Written before start returns (and the CLI prints the node's addresses): a command that finds
      // node.lock held reads the node's role there (`petal append` says who seals). A failed write is
      // retried by the loop.
      await this.stateFile.write().catch(this.stateFile.failed)
      this.loops.push(this.stateFile.loop(signal, () => this.options.stateEveryMs ?? DEFAULT_STATE_EVERY_MS))
    }
    // Sealing starts last: the node first serves what it has (a seal holds the chain's write lock).
    this.sealLoop?.start()
    this.logger.info('node started', { peer: this.peerId, role: this.role, height: this.chain.tip().height })
  }

  /** The HTTP API's URL, when it is served. */
  get httpUrl (): string | undefined { return this.api?.url }

  /** A block was stored (from a peer or re-sealed here). */
  private imported (): void {
    this.metrics.blocksImported.inc()
    this.api?.poke()
  }

  /** Sign the tip's checkpoints (a signatory) and gossip them (checkpoint-duty.ts). */
  private async signCheckpoints (): Promise<void> { await this.checkpoints.signTip(this.controller.signal) }

  /** What the HTTP API may know of this node (it never touches the network itself). */
  private facts (): NodeFacts {
    return {
      peerId: this.peerId,
      role: () => this.role,
      signingKey: () => this.options.signingKey?.id,
      peers: () => this.peers().map(p => ({ id: p.id, addr: p.addr, direction: p.direction, tip_height: p.tipHeight })),
      sync: () => { const s = this.sync.state(); return { state: s.state, height: s.height, target: s.target } },
      listen: () => this.listenAddrs(),
      syncMirror: async () => await this.syncMirror(),
      sealPolicy: () => this.sealPolicy
    }
  }

  /** The policy this node seals pending rows by; undefined when it does not seal (no key loaded). */
  get sealPolicy (): SealPolicy | undefined { return this.role === 'signatory' ? this.sealLoop?.policy : undefined }

  /**
   * Bring query.db up to the chain's tip now, in the mirror's worker thread; resolves after a sync
   * that started after this call (so a query sees every block committed before it asked), with
   * where it stopped below the tip (a missing or damaged block file), if it did.
   */
  async syncMirror (): Promise<MirrorStop | undefined> {
    await this.mirror.sync()
    return this.mirror.stoppedAt
  }

  /**
   * Stop in reverse order of start. Every step runs even if an earlier one fails (the lock is
   * released and the index closed whatever happens); the first failure is thrown at the end.
   */
  async stop (): Promise<void> {
    const close: StopStep = ['closing the chain index', () => { if (this.owned !== undefined) this.chain.close() }]
    // Opened before the chain, closed after it.
    const closePool: StopStep = ['stopping the table-hashing workers', async () => { await this.owned?.hashPool.close() }]
    const closeIngest: StopStep = ['closing the pending store', async () => { await this.ingest?.close() }]
    if (!this.running) { await runStopSteps([['stopping the network', async () => { await this.network.stop() }], closeIngest, close, closePool], this.logger); return }
    this.running = false
    this.controller.abort()
    // No seal starts from here on, and one under way stops at its next check (sealer.ts) while the
    // steps before the seal loop's run: its files removed, its rows pending again, or, once its
    // block is recorded, sealed; the seal loop's step waits for that.
    this.sealLoop?.abort()
    await runStopSteps([
      ['closing the HTTP API', async () => { await this.api?.close(); this.api = undefined }],
      ['stopping the proof chunk worker', async () => { await this.chunkPool.close() }],
      ['stopping background loops', async () => { await Promise.all([...this.loops.splice(0), this.stateFile.settled()]) }],
      ['stopping the query mirror worker', async () => { await this.mirror.close() }],
      ['removing node-state.json', () => { if (this.options.stateFile !== false && this.options.pull !== true) removeNodeState(this.chain.dir.root) }],
      ['stopping the seal loop', async () => { await this.sealLoop?.stop() }],
      ['stopping sync', async () => { await this.sync.stop() }],
      ['stopping the network', async () => { await this.network.stop() }],
      closeIngest,
      ['releasing the node lock', () => { this.releaseLock() }],
      close,
      closePool
    ], this.logger)
    this.logger.info('node stopped')
  }

  /** Release node.lock if this node took it (a pull's lock is the pull's to release). */
  private releaseLock (): void {
    if (this.lock !== this.options.lock) this.lock?.release()
    this.lock = undefined
  }

  listenAddrs (): string[] { return this.network.listenAddrs() }

  peers (): PeerView[] {
    const tips = this.sync.peerTips()
    return this.network.peers().map(p => ({ ...p, tipHeight: tips.get(p.id)?.height, tipHash: tips.get(p.id)?.hash }))
  }

  syncState (): SyncProgress { return this.sync.state() }

  /** Seal `source` (an SQLite file) into the next block with the node's key and announce it. */
  async publish (source: string, key: SigningKey | undefined = this.options.signingKey): Promise<ImportResult> {
    if (key === undefined) throw new NodeError('NO_SIGNING_KEY', 'this node has no signing key', { hint: 'create one with `petal keygen` and select it with --key' })
    const r = await signImport(this.chain, source, key)
    this.lastTip = this.chain.tip().hash
    this.checkRole()
    await this.announceTip()
    return r
  }

  /** Announce the current tip to the network. */
  async announceTip (): Promise<number> {
    const tip = this.chain.tip()
    if (tip.height === 0) return 0
    return await this.network.announce(headerOf(tip)).catch((err: unknown) => {
      this.logger.debug('announcement not sent', { error: errorMessage(err) })
      return 0
    })
  }

  /** Notice blocks imported by another process on this data directory and announce the new tip. */
  private async watch (signal: AbortSignal): Promise<void> {
    let version = this.chain.index.dataVersion()
    await this.every('watching the data directory', () => this.options.watchMs ?? DEFAULT_WATCH_MS, signal, async () => {
      const v = this.chain.index.dataVersion()
      if (v === version) return
      version = v
      const tip = this.chain.tip()
      if (tip.hash === this.lastTip) return
      this.lastTip = tip.hash
      this.logger.info('new local block', { height: tip.height, hash: tip.hash })
      this.api?.poke()
      this.checkRole()
      this.sync.localChanged()
      await this.announceTip()
    })
  }

  /**
   * Keep query.db at the chain's tip: whenever the tip (from sync, publish, or another process)
   * differs from the mirror's, sync it — in a worker thread. The mirror reconciles by hash, so
   * reorgs roll it back.
   */
  private async keepMirror (signal: AbortSignal): Promise<void> {
    const every = this.options.mirrorEveryMs ?? DEFAULT_MIRROR_EVERY_MS
    await this.every('updating the query mirror', () => every, signal, async () => {
      if (this.mirror.current) return
      await this.mirror.sync()
      // Stopped below the tip at a damaged block: reported (with backoff) until it is repaired.
      const stop = this.mirror.stoppedAt
      if (stop !== undefined) throw new QueryError(stop.code, stop.message, { hint: stop.hint, details: { height: stop.height, hash: stop.hash } })
    }, { minMs: every, maxMs: 60_000 })
  }

  /** Run `body` every `ms()` until `signal` aborts; a failing pass is logged and retried (runLoop). */
  private async every (what: string, ms: () => number, signal: AbortSignal, body: () => Promise<void>, backoff?: { minMs: number, maxMs: number }): Promise<void> {
    await runLoop(what, { signal, logger: this.logger, everyMs: ms, backoff }, body)
  }

  state (): NodeState {
    const s = this.sync.state()
    return {
      pid: process.pid,
      peer_id: this.peerId,
      role: this.role,
      signing_key: this.options.signingKey?.id ?? null,
      ...(this.options.pull === true ? { pull: true as const } : {}),
      listen: this.listenAddrs(),
      ...(this.api === undefined ? {} : { http: this.api.url }),
      started_at: this.startedAt.toISOString(),
      updated_at: new Date().toISOString(),
      sync: { state: s.state, height: s.height, target: s.target },
      peers: this.peers().map(p => ({ id: p.id, addr: p.addr, direction: p.direction, score: p.score, tip_height: p.tipHeight, tip_hash: p.tipHash })),
      banned: this.network.scores.banned().length,
      ...sealState(this.sealPolicy),
      ...this.checkpoints.witnessesState()
    }
  }
}

function validBootstrap (list: string[], logger: Logger): string[] {
  return list.filter(a => {
    try {
      parseMultiaddr(a, true)
      return true
    } catch {
      logger.warn('ignoring a bootstrap peer in chainparams.json that is not a full multiaddr', { addr: a })
      return false
    }
  })
}
