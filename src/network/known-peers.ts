import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { errorMessage, isNotFound, linkSignals, runLoop, type Clock, type Logger } from '../util/index.js'
import type { PetalLibp2p } from './libp2p.js'
import { addrPeerId } from './addresses.js'
import { TIMEOUTS } from './constants.js'
import { MAX_ADDRS_PER_PEER, readPeersFile, writePeersFile, type RememberedPeer } from '../storage/index.js'

// In-memory bounds (the file keeps the `maxRemembered` most recent).
const MAX_KNOWN_PEERS = 1024

export interface RedialOptions {
  /** First retry after a failed dial; doubles per failure up to maxMs. */
  baseMs: number
  maxMs: number
  /** Peers remembered in the file (most recently seen first). */
  maxRemembered: number
  /** Dials in flight at once. */
  parallel: number
}

export interface KnownPeer extends RememberedPeer {
  /** From the bootstrap list: never forgotten. */
  bootstrap: boolean
}

interface State extends KnownPeer { failures: number, nextDialAt: number, dialling: boolean }

/**
 * The peers this node dials by itself: the bootstrap list plus every peer of the chain it has
 * met, remembered in `peers.json` so that a restart reconnects without the bootstrap peers. A
 * peer that is not connected is re-dialled with exponential backoff.
 */
export class KnownPeers {
  private readonly peers = new Map<string, State>()
  private readonly controller = new AbortController()
  private loop?: Promise<void>
  private dirty = false

  constructor (
    private readonly node: PetalLibp2p,
    private readonly file: string | undefined,
    private readonly options: RedialOptions,
    private readonly canDial: (peer: string) => boolean,
    private readonly clock: Clock,
    private readonly logger: Logger
  ) {}

  /** Load the file and add the bootstrap list (multiaddrs ending in /p2p/<id>). */
  load (bootstrap: Multiaddr[]): void {
    for (const p of this.readFile()) this.peers.set(p.id, { ...p, bootstrap: false, failures: 0, nextDialAt: 0, dialling: false })
    for (const ma of bootstrap) {
      const id = addrPeerId(ma)
      if (id === undefined) continue
      const e = this.peers.get(id)
      const addr = ma.toString()
      if (e === undefined) this.peers.set(id, { id, addrs: [addr], lastSeen: 0, bootstrap: true, failures: 0, nextDialAt: 0, dialling: false })
      else { e.bootstrap = true; if (!e.addrs.includes(addr)) e.addrs.unshift(addr) }
    }
  }

  list (): KnownPeer[] {
    return [...this.peers.values()].map(({ id, addrs, lastSeen, bootstrap, signer }) => ({ id, addrs, lastSeen, bootstrap, ...(signer === undefined ? {} : { signer }) }))
  }

  /** What a peer's last status proved of its signing key (Network.status); undefined: nothing. */
  signer (id: string, signer: string | null | undefined): void {
    const e = this.peers.get(id)
    if (e === undefined || e.signer === signer) return
    if (signer === undefined) delete e.signer
    else e.signer = signer
    this.dirty = true
  }

  /** A peer of this chain identified itself with these listen addresses. */
  remember (id: string, addrs: string[]): void {
    // Peer-supplied: keep a bounded number of addresses per peer, and of peers.
    const usable = addrs.filter(a => !a.includes('/p2p-circuit') && !a.includes('/ip4/0.0.0.0') && !a.includes('/ip6/::/')).slice(0, MAX_ADDRS_PER_PEER)
    const e = this.peers.get(id)
    if (e === undefined) {
      if (usable.length === 0) return
      this.evictIfFull()
      this.peers.set(id, { id, addrs: usable, lastSeen: this.clock.now(), bootstrap: false, failures: 0, nextDialAt: 0, dialling: false })
    } else {
      e.lastSeen = this.clock.now()
      e.failures = 0
      if (usable.length > 0) e.addrs = [...new Set([...usable, ...(e.bootstrap ? e.addrs : [])])].slice(0, MAX_ADDRS_PER_PEER)
    }
    this.dirty = true
  }

  /** Forget the least recently seen non-bootstrap peer when the table is full. */
  private evictIfFull (): void {
    if (this.peers.size < MAX_KNOWN_PEERS) return
    let oldest: KnownPeer | undefined
    for (const p of this.peers.values()) if (!p.bootstrap && (oldest === undefined || p.lastSeen < oldest.lastSeen)) oldest = p
    if (oldest !== undefined) this.peers.delete(oldest.id)
  }

  connected (id: string): void {
    const e = this.peers.get(id)
    if (e !== undefined) { e.failures = 0; e.lastSeen = this.clock.now(); this.dirty = true }
  }

  start (tickMs = 500): void {
    this.loop = runLoop('redialling known peers', { signal: this.controller.signal, logger: this.logger, everyMs: tickMs }, async signal => {
      this.dialDue(signal)
      if (this.dirty) this.save()
    })
  }

  async stop (): Promise<void> {
    this.controller.abort()
    await this.loop
    this.save()
  }

  private dialDue (signal: AbortSignal): void {
    const connected = new Set(this.node.getPeers().map(p => p.toString()))
    const now = this.clock.now()
    let inFlight = [...this.peers.values()].filter(p => p.dialling).length
    for (const p of this.peers.values()) {
      if (inFlight >= this.options.parallel) return
      if (p.dialling || connected.has(p.id) || p.nextDialAt > now || !this.canDial(p.id) || p.id === this.node.peerId.toString()) continue
      p.dialling = true
      inFlight++
      this.dial(p, signal).finally(() => { p.dialling = false })
    }
  }

  private async dial (p: State, signal: AbortSignal): Promise<void> {
    try {
      const id = peerIdFromString(p.id)
      await this.node.peerStore.merge(id, { multiaddrs: p.addrs.map(a => multiaddr(a)) })
      const d = linkSignals([signal], TIMEOUTS.dial)
      try {
        await this.node.dial(id, { signal: d.signal })
      } finally {
        d.dispose()
      }
      p.failures = 0
    } catch (err) {
      if (signal.aborted) return
      p.failures++
      p.nextDialAt = this.clock.now() + Math.min(this.options.baseMs * 2 ** (p.failures - 1), this.options.maxMs)
      this.logger.debug('cannot reach known peer', { peer: p.id, failures: p.failures, error: errorMessage(err) })
    }
  }

  private readFile (): KnownPeer[] {
    if (this.file === undefined) return []
    try {
      return readPeersFile(this.file).map(p => ({ ...p, bootstrap: false }))
        .filter(p => { try { peerIdFromString(p.id); p.addrs.forEach(a => multiaddr(a)); return true } catch { return false } })
    } catch (err) {
      if (!isNotFound(err)) this.logger.warn('ignoring unreadable peers file', { file: this.file })
      return []
    }
  }

  private save (): void {
    this.dirty = false
    if (this.file === undefined) return
    // Every peer met, bootstrap ones included: a peer given once (`pull ADDR`, `--bootstrap`) is
    // dialled again after a restart without the flag.
    try {
      writePeersFile(this.file, [...this.peers.values()].filter(p => p.lastSeen > 0), this.options.maxRemembered)
    } catch (err) {
      this.logger.warn('cannot save the peers file', { file: this.file, error: errorMessage(err) })
    }
  }
}
