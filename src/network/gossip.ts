import { TopicValidatorResult, type GossipsubMessage } from '@libp2p/gossipsub'
import type { Message } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'
import type { Logger } from '../util/index.js'
import { announceTopic, LIMITS } from './constants.js'
import { NetworkError } from './errors.js'
import type { PetalLibp2p } from './libp2p.js'
import type { Offence } from './scoring.js'
import { joinTopic } from './topic.js'
import { decodeJson, encodeJson, parseHeader, type WireHeader } from './wire.js'
import { errorMessage } from '../util/index.js'

/** What the chain side says about an announcement: forward it, drop it, or blame the sender. */
export type Verdict = 'accept' | 'ignore' | 'reject'

export interface AnnouncementSource {
  /** The peer that forwarded it to us. */
  peer: string
  /** The peer that first published it (signed gossip), if known. */
  origin?: string
}

export interface GossipHandlers {
  /** Judge a decoded announcement (seal against the key set); must be fast. */
  validate: (h: WireHeader) => Verdict
  /** An accepted announcement (after it was validated). */
  onAnnouncement: (h: WireHeader, from: AnnouncementSource) => void
}

/**
 * Block announcements over gossipsub: one topic per chain, one JSON header (with seal) per
 * message, at most 8 KiB. Never block files (gossipsub silently drops messages over 4 MiB).
 */
export class Gossip {
  private readonly topic: string
  private leave: (() => void) | undefined

  constructor (
    private readonly node: PetalLibp2p,
    chainId: string,
    private readonly handlers: GossipHandlers,
    private readonly report: (peer: string, offence: Offence, detail: string) => void,
    private readonly logger: Logger
  ) {
    this.topic = announceTopic(chainId)
  }

  start (): void {
    this.leave = joinTopic(this.node, this.topic, (peer, msg) => this.validate(peer, msg), m => { this.deliver(m) })
  }

  stop (): void {
    this.leave?.()
    this.leave = undefined
  }

  /** Peers that subscribe to this chain's announcements. */
  subscribers (): string[] {
    return this.node.services.pubsub.getSubscribers(this.topic).map(p => p.toString())
  }

  async publish (h: WireHeader): Promise<number> {
    const r = await this.node.services.pubsub.publish(this.topic, encodeJson(h))
    return r.recipients.length
  }

  private validate (peer: PeerId, msg: Message): TopicValidatorResult {
    const from = peer.toString()
    let h: WireHeader
    try {
      h = parseHeader(decodeJson(msg.data, LIMITS.announcement, 'announcement'), 'announcement')
    } catch (err) {
      const oversized = err instanceof NetworkError && err.code === 'OVERSIZED'
      this.report(from, oversized ? 'oversized' : 'malformed', 'announcement')
      return TopicValidatorResult.Reject
    }
    const v = this.handlers.validate(h)
    if (v === 'reject') {
      this.report(from, 'bad-seal', 'announcement')
      return TopicValidatorResult.Reject
    }
    return v === 'accept' ? TopicValidatorResult.Accept : TopicValidatorResult.Ignore
  }

  private deliver (m: GossipsubMessage): void {
    try {
      const h = parseHeader(decodeJson(m.msg.data, LIMITS.announcement, 'announcement'), 'announcement')
      this.handlers.onAnnouncement(h, { peer: m.propagationSource.toString(), origin: m.msg.type === 'signed' ? m.msg.from.toString() : undefined })
    } catch (err) {
      this.logger.debug('dropping announcement', { error: errorMessage(err) })
    }
  }
}
