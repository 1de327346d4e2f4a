import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import type { KadDHT } from '@libp2p/kad-dht'
import { errorMessage, fromHex, isRecord, linkSignals, runLoop, sleep, type Logger } from '../util/index.js'
import { TIMEOUTS } from './constants.js'
import type { PetalLibp2p } from './libp2p.js'

export interface DiscoveryOptions {
  /** First search this soon after start; the interval then doubles up to maxMs. */
  initialMs: number
  maxMs: number
  /** Re-announce this node as a provider of the chain this often. */
  provideEveryMs: number
  /** Keep searching at the short interval until this many peers are connected. */
  targetPeers: number
}

const RAW = 0x55
const SHA2_256 = 0x12

/** The DHT key of a chain: a CIDv1 (raw) whose multihash is the genesis hash itself. */
export function chainCid (chainId: string): CID {
  const digest = fromHex(chainId)
  if (digest === undefined) throw new TypeError(`chain id ${chainId} is not hex`)
  return CID.createV1(RAW, Digest.create(SHA2_256, digest))
}

/** Entries in the DHT's routing table (the KadDHT class has one; its public type does not say so). */
function routingTableSize (dht: KadDHT): number {
  if (!('routingTable' in dht) || !isRecord(dht.routingTable)) return 0
  const size = dht.routingTable.size
  return typeof size === 'number' ? size : 0
}

/**
 * Find the other nodes of a chain through the DHT: provide the chain's CID, look for its
 * providers, dial the ones not yet connected. Runs until stopped; every step is best effort.
 */
export class Discovery {
  private readonly controller = new AbortController()
  private loop?: Promise<void>
  private providedAt = -Infinity

  constructor (
    private readonly node: PetalLibp2p,
    chainId: string,
    private readonly options: DiscoveryOptions,
    private readonly canDial: (peer: string) => boolean,
    private readonly logger: Logger,
    private readonly cid = chainCid(chainId)
  ) {}

  start (): void {
    let delay = this.options.initialMs
    this.loop = runLoop('looking for peers in the DHT', { signal: this.controller.signal, logger: this.logger }, async signal => {
      await sleep(delay, signal)
      if (routingTableSize(this.node.services.dht) > 0) {
        await this.provide(signal)
        await this.find(signal)
      }
      delay = this.node.getPeers().length >= this.options.targetPeers ? this.options.maxMs : Math.min(delay * 2, this.options.maxMs)
    })
  }

  async stop (): Promise<void> {
    this.controller.abort()
    await this.loop
  }

  private async provide (signal: AbortSignal): Promise<void> {
    if (Date.now() - this.providedAt < this.options.provideEveryMs) return
    try {
      const d = linkSignals([signal], 30_000)
      try {
        await this.node.contentRouting.provide(this.cid, { signal: d.signal })
      } finally {
        d.dispose()
      }
      this.providedAt = Date.now()
      this.logger.debug('announced this node in the DHT')
    } catch (err) {
      if (signal.aborted) throw err
      this.logger.debug('DHT provide failed', { error: errorMessage(err) })
    }
  }

  private async find (signal: AbortSignal): Promise<void> {
    const self = this.node.peerId.toString()
    const connected = new Set(this.node.getPeers().map(p => p.toString()))
    const d = linkSignals([signal], 20_000)
    try {
      for await (const p of this.node.contentRouting.findProviders(this.cid, { signal: d.signal })) {
        const id = p.id.toString()
        if (id === self || connected.has(id) || !this.canDial(id)) continue
        connected.add(id)
        if (p.multiaddrs.length > 0) await this.node.peerStore.merge(p.id, { multiaddrs: p.multiaddrs })
        const dial = linkSignals([signal], TIMEOUTS.dial)
        this.node.dial(p.id, { signal: dial.signal }).then(
          () => { this.logger.debug('dialled a peer found in the DHT', { peer: id }) },
          (err: unknown) => { this.logger.debug('cannot dial a peer found in the DHT', { peer: id, error: errorMessage(err) }) })
          .finally(() => { dial.dispose() })
      }
    } catch (err) {
      if (signal.aborted) throw err
      this.logger.debug('DHT search failed', { error: errorMessage(err) })
    } finally {
      d.dispose()
    }
  }
}
