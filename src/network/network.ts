import type { PeerId, PrivateKey } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { parseMultiaddr } from './addresses.js'
import { withDefaults } from './options.js'
import { peerIdFromString } from '@libp2p/peer-id'
import { errorMessage, nullLogger, runStopSteps, systemClock, type Clock, type Logger, type StopStep } from '../util/index.js'
import { protocolId } from './constants.js'
import { Discovery } from './discovery.js'
import { NetworkError, offenceOf } from './errors.js'
import { Gossip, type AnnouncementSource, type Verdict } from './gossip.js'
import { CheckpointGossip } from './checkpoint-gossip.js'
import { KnownPeers, type KnownPeer } from './known-peers.js'
import { createPetalLibp2p, type PetalLibp2p } from './libp2p.js'
import type { NetworkOptions } from './options.js'
import { fetchBlock, fetchBlocks, registerBlock, type FetchedBlock, type RangeItem } from './protocols/block.js'
import { registerChainParams } from './protocols/chainparams.js'
import { registerCheckpoints, requestCheckpoints } from './protocols/checkpoints.js'
import { registerHeaders, requestHeaders } from './protocols/headers.js'
import type { ServeContext } from './protocols/serve.js'
import { registerStatus, requestStatus } from './protocols/status.js'
import type { PublicKey } from '../crypto/index.js'
import { PeerSigners } from './peer-signer.js'
import { PeerScores, type Offence } from './scoring.js'
import type { BlockSource } from './source.js'
import type { CheckpointsReply, StatusMessage, WireHeader } from './wire.js'

/** What the network tells the layer above (sync). */
export interface NetworkEvents {
  onPeerConnected: (peer: string) => void
  onPeerDisconnected: (peer: string) => void
  validateAnnouncement: (h: WireHeader) => Verdict
  onAnnouncement: (h: WireHeader, from: AnnouncementSource) => void
  /** Signed checkpoints (absent: the node ignores them). */
  /** `from`: the peer that forwarded it. */
  validateCheckpoint?: (note: string, from: string) => Verdict
  onCheckpoint?: (note: string, from: string) => void
}

export interface PeerSummary {
  id: string
  /** Remote address of the first open connection. */
  addr: string
  direction: 'inbound' | 'outbound'
  score: number
  /** ms since epoch */
  connectedAt: number
}

export interface NetworkComponents {
  privateKey: PrivateKey
  source: BlockSource
  events: NetworkEvents
  logger?: Logger
  clock?: Clock
  /** A signatory key of the chain by key id, to check the key a peer's status shows (absent: not checked). */
  keyOf?: (keyId: string) => PublicKey | undefined
}

function listenReason (err: unknown): string {
  const text = errorMessage(err)
  if (text.includes('EADDRINUSE')) return 'address already in use'
  if (text.includes('EADDRNOTAVAIL')) return 'address not available on this machine'
  if (text.includes('EACCES')) return 'permission denied (ports below 1024 need privileges)'
  return text.split('\n')[0] ?? 'error'
}

/**
 * The libp2p node of one chain and everything spoken over it: the status, headers, block, checkpoints and
 * chainparams protocols (server and client side), announcement gossip, DHT discovery, known
 * peers with redial, and peer scoring with bans. The layer above sees peers as id strings.
 */
export class Network {
  readonly libp2p: PetalLibp2p
  readonly scores: PeerScores
  private readonly logger: Logger
  private readonly gossip: Gossip
  private readonly checkpoints: CheckpointGossip
  private readonly discovery?: Discovery
  private readonly known: KnownPeers
  private readonly signers: PeerSigners | undefined
  private readonly serve: ServeContext
  private readonly connectedAt = new Map<string, number>()
  /** Connected peers whose identify listed the `blocks` protocol (range requests). */
  private readonly rangePeers = new Set<string>()
  private started = false

  private readonly components: NetworkComponents
  private readonly options: NetworkOptions

  private constructor (libp2p: PetalLibp2p, scores: PeerScores, c: NetworkComponents, o: NetworkOptions) {
    this.components = c
    this.options = o
    this.libp2p = libp2p
    this.scores = scores
    this.logger = c.logger ?? nullLogger
    const report = (peer: string, offence: Offence, detail: string): void => { this.report(peer, offence, detail) }
    this.serve = { report, logger: this.logger }
    this.gossip = new Gossip(libp2p, c.source.chainId, { validate: h => c.events.validateAnnouncement(h), onAnnouncement: (h, f) => { c.events.onAnnouncement(h, f) } }, report, this.logger)
    this.checkpoints = new CheckpointGossip(libp2p, c.source.chainId, {
      validate: (note, from) => c.events.validateCheckpoint?.(note, from) ?? 'ignore',
      onCheckpoint: (note, from) => { c.events.onCheckpoint?.(note, from) }
    }, report, this.logger)
    const canDial = (p: string): boolean => !scores.isBanned(p)
    if (o.discovery !== false) this.discovery = new Discovery(libp2p, c.source.chainId, o.discovery, canDial, this.logger)
    this.known = new KnownPeers(libp2p, o.peersFile, o.redial, canDial, c.clock ?? systemClock, this.logger)
    this.signers = c.keyOf === undefined ? undefined : new PeerSigners(c.source.chainId, c.keyOf, this.logger)
  }

  /** Build the node (not yet listening). Throws BAD_MULTIADDR for bad addresses. */
  static async create (c: NetworkComponents, options: Partial<NetworkOptions> = {}): Promise<Network> {
    const o = withDefaults(options)
    for (const a of [...o.listen, ...o.announce]) parseMultiaddr(a)
    const bootstrap = o.bootstrap.map(a => parseMultiaddr(a, true))
    const scores = new PeerScores(c.clock ?? systemClock, { banMs: o.banMs })
    const banned = (p: PeerId): boolean => scores.isBanned(p.toString())
    const libp2p = await createPetalLibp2p({
      privateKey: c.privateKey,
      chainId: c.source.chainId,
      listen: o.listen,
      announce: o.announce,
      maxConnections: o.maxConnections,
      inboundPerSecond: o.inboundPerSecond,
      version: o.version,
      gater: { denyDialPeer: banned, denyInboundEncryptedConnection: banned, denyOutboundEncryptedConnection: banned },
      start: false
    })
    const n = new Network(libp2p, scores, c, o)
    n.known.load(bootstrap)
    return n
  }

  get peerId (): string { return this.libp2p.peerId.toString() }

  async start (): Promise<void> {
    const { source } = this.components
    await registerStatus(this.libp2p, source, this.serve)
    await registerHeaders(this.libp2p, source, this.serve)
    await registerBlock(this.libp2p, source, this.serve)
    await registerChainParams(this.libp2p, source, this.serve)
    await registerCheckpoints(this.libp2p, source, this.serve)
    this.libp2p.addEventListener('peer:connect', this.onConnect)
    this.libp2p.addEventListener('peer:disconnect', this.onDisconnect)
    this.libp2p.addEventListener('peer:identify', this.onIdentify)
    try {
      await this.libp2p.start()
    } catch (err) {
      throw new NetworkError('LISTEN_FAILED', `cannot listen on ${this.options.listen.join(', ')}: ${listenReason(err)}`, { hint: 'choose another --listen address or port (port 0 picks a free one)', cause: err })
    }
    this.gossip.start()
    this.checkpoints.start()
    this.known.start(this.options.redialTickMs)
    this.discovery?.start()
    this.started = true
  }

  /** Stop every part, in reverse order of start, even if one fails; the first failure is thrown. */
  async stop (): Promise<void> {
    const libp2p: StopStep = ['stopping libp2p', async () => { await this.libp2p.stop() }]
    if (!this.started) { await runStopSteps([libp2p], this.logger); return }
    this.started = false
    await runStopSteps([
      ['stopping discovery', async () => { await this.discovery?.stop() }],
      // Keys the chain did not know at a peer's status may be known now (a pull's): before the last save.
      ['judging the keys peers showed again', () => { this.judgeSignersAgain() }],
      ['stopping the known-peers loop', async () => { await this.known.stop() }],
      ['leaving the announcement topic', () => { this.gossip.stop() }],
      ['leaving the checkpoint topic', () => { this.checkpoints.stop() }],
      ['removing peer listeners', () => {
        this.libp2p.removeEventListener('peer:connect', this.onConnect)
        this.libp2p.removeEventListener('peer:disconnect', this.onDisconnect)
        this.libp2p.removeEventListener('peer:identify', this.onIdentify)
      }],
      libp2p
    ], this.logger)
  }

  /** Full listen addresses, `…/tcp/PORT/p2p/PEERID`. */
  listenAddrs (): string[] {
    return this.libp2p.getMultiaddrs().map(a => a.toString())
  }

  peers (): PeerSummary[] {
    const out: PeerSummary[] = []
    for (const p of this.libp2p.getPeers()) {
      const id = p.toString()
      const conn = this.libp2p.getConnections(p)[0]
      if (conn === undefined) continue
      out.push({ id, addr: conn.remoteAddr.toString(), direction: conn.direction, score: Math.round(this.scores.score(id)), connectedAt: this.connectedAt.get(id) ?? conn.timeline.open })
    }
    return out
  }

  connectedPeers (): string[] {
    return this.libp2p.getPeers().map(p => p.toString())
  }

  knownPeers (): KnownPeer[] {
    return this.known.list()
  }

  subscribers (): string[] {
    return this.gossip.subscribers()
  }

  // ---- requests to peers (the interface sync uses) ----

  private judgeSignersAgain (): void {
    try {
      for (const j of this.signers?.judgeAgain() ?? []) this.known.signer(j.peer, j.signer)
    } catch (err) {
      // What is remembered stays unknown: only peers.json's hint is less certain.
      this.logger.debug('the keys peers showed could not be judged again', { error: errorMessage(err) })
    }
  }

  async status (peer: string, signal?: AbortSignal): Promise<StatusMessage> {
    const s = await this.checked(peer, requestStatus(this.libp2p, peerIdFromString(peer), this.components.source.chainId, signal))
    if (s.genesis !== this.components.source.chainId) throw new NetworkError('WRONG_CHAIN', 'peer serves another chain', { details: { peer } })
    // What this status proves, and nothing older: a key no longer shown, or not checkable, is unknown.
    if (this.signers !== undefined) this.known.signer(peer, this.signers.judge(peer, s.signer))
    return s
  }

  async headers (peer: string, from: number, count: number, signal?: AbortSignal): Promise<WireHeader[]> {
    return await this.checked(peer, requestHeaders(this.libp2p, peerIdFromString(peer), this.components.source.chainId, from, count, signal))
  }

  /** `onBytes` counts the block's bytes as they arrive (for progress). */
  async fetchBlock (peer: string, hash: string, dest: string, o: { maxBytes: number, signal?: AbortSignal, onBytes?: (n: number) => void }): Promise<FetchedBlock> {
    return await this.checked(peer, fetchBlock(this.libp2p, peerIdFromString(peer), this.components.source.chainId, hash, dest, { ...o, minRate: this.options.blockRateFloor }))
  }

  /** Whether `peer` serves `blocks` range requests (older nodes serve single `block` requests only). */
  servesRanges (peer: string): boolean {
    return this.rangePeers.has(peer)
  }

  /** Several blocks on one stream; `onBlock` reports each as soon as it is complete (see fetchBlocks). */
  async fetchBlocks (peer: string, items: readonly RangeItem[], o: { maxBytes: number, signal?: AbortSignal, onBytes?: (i: number, n: number) => void, onBlock: (i: number, b: FetchedBlock) => void }): Promise<void> {
    await this.checked(peer, fetchBlocks(this.libp2p, peerIdFromString(peer), this.components.source.chainId, items, { ...o, minRate: this.options.blockRateFloor }))
  }

  /**
   * Ask a peer for its signed checkpoints of tree size at most `maxSize` (their shape checked, their
   * content not: the caller judges each, as gossip does). A peer that does not speak the protocol
   * (a Petal before session 48) fails with WRONG_CHAIN, unscored.
   */
  async askCheckpoints (peer: string, maxSize: number, signal?: AbortSignal): Promise<CheckpointsReply> {
    return await this.checked(peer, requestCheckpoints(this.libp2p, peerIdFromString(peer), this.components.source.chainId, maxSize, signal))
  }

  /** Publish a signed checkpoint note; resolves to the number of peers it was sent to. */
  async publishCheckpoint (note: string): Promise<number> {
    return await this.checkpoints.publish(note)
  }

  /** Publish a block announcement; resolves to the number of peers it was sent to. */
  async announce (h: WireHeader): Promise<number> {
    return await this.gossip.publish(h)
  }

  /** Score a peer down; at the ban threshold it is disconnected and refused for `banMs`. */
  report (peer: string, offence: Offence, detail: string): void {
    const banned = this.scores.penalise(peer, offence)
    if (!banned) {
      this.logger.debug('peer scored down', { peer, offence, detail, score: this.scores.score(peer) })
      return
    }
    this.logger.warn('dropped misbehaving peer', { peer, offence, detail })
    this.libp2p.hangUp(peerIdFromString(peer)).catch(() => {})
  }

  /** Report protocol violations found by a client-side request. */
  private async checked<T> (peer: string, p: Promise<T>): Promise<T> {
    try {
      return await p
    } catch (err) {
      if (err instanceof NetworkError) {
        const offence = offenceOf(err.code, true)
        if (offence !== undefined) this.report(peer, offence, err.message)
      }
      throw err
    }
  }

  private readonly onConnect = (evt: CustomEvent<PeerId>): void => {
    const id = evt.detail.toString()
    this.connectedAt.set(id, Date.now())
    this.known.connected(id)
    const conn = this.libp2p.getConnections(evt.detail)[0]
    this.logger.info('peer connected', { peer: id, addr: conn?.remoteAddr.toString(), direction: conn?.direction })
    this.components.events.onPeerConnected(id)
  }

  private readonly onDisconnect = (evt: CustomEvent<PeerId>): void => {
    const id = evt.detail.toString()
    this.connectedAt.delete(id)
    this.rangePeers.delete(id)
    this.logger.info('peer disconnected', { peer: id })
    this.components.events.onPeerDisconnected(id)
  }

  private readonly onIdentify = (evt: CustomEvent<{ peerId: PeerId, listenAddrs: Multiaddr[], protocols: string[] }>): void => {
    const r = evt.detail
    if (!r.protocols.includes(protocolId(this.components.source.chainId, 'status'))) return
    const id = r.peerId.toString()
    if (r.protocols.includes(protocolId(this.components.source.chainId, 'blocks'))) this.rangePeers.add(id)
    else this.rangePeers.delete(id)
    this.known.remember(id, r.listenAddrs.map(a => a.toString().includes('/p2p/') ? a.toString() : `${a.toString()}/p2p/${id}`))
  }
}
