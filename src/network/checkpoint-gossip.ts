import { TopicValidatorResult, type GossipsubMessage, type Message } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'
import { errorMessage, type Logger } from '../util/index.js'
import { checkpointTopic, LIMITS } from './constants.js'
import type { Verdict } from './gossip.js'
import type { PetalLibp2p } from './libp2p.js'
import type { Offence } from './scoring.js'
import { joinTopic } from './topic.js'

export interface CheckpointHandlers {
  /**
   * Judge a signed checkpoint note (signature by an active signatory, root of the local tree); fast.
   * Accepted, it is forwarded whole (gossipsub forwards a message as it came) and delivered.
   */
  validate: (note: string, from: string) => Verdict
  /** An accepted checkpoint, with the peer that forwarded it. */
  onCheckpoint: (note: string, from: string) => void
}

/**
 * Signed checkpoints over gossipsub (docs/proofs.md): one topic per chain, one C2SP signed note
 * (UTF-8 text) per message, at most LIMITS.checkpoint bytes. A signatory publishes the checkpoints
 * it signs; every node keeps those it can check, so a node that signs nothing can still prove rows.
 */
export class CheckpointGossip {
  private readonly topic: string
  private leave: (() => void) | undefined

  constructor (
    private readonly node: PetalLibp2p,
    chainId: string,
    private readonly handlers: CheckpointHandlers,
    private readonly report: (peer: string, offence: Offence, detail: string) => void,
    private readonly logger: Logger
  ) {
    this.topic = checkpointTopic(chainId)
  }

  start (): void {
    this.leave = joinTopic(this.node, this.topic, (peer, msg) => this.validate(peer, msg), m => { this.deliver(m) })
  }

  stop (): void {
    this.leave?.()
    this.leave = undefined
  }

  async publish (note: string): Promise<number> {
    const r = await this.node.services.pubsub.publish(this.topic, new TextEncoder().encode(note))
    return r.recipients.length
  }

  private decode (data: Uint8Array): string | undefined {
    if (data.length > LIMITS.checkpoint) return undefined
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(data)
    } catch {
      return undefined
    }
  }

  private validate (peer: PeerId, msg: Message): TopicValidatorResult {
    const from = peer.toString()
    const note = this.decode(msg.data)
    if (note === undefined) {
      this.report(from, msg.data.length > LIMITS.checkpoint ? 'oversized' : 'malformed', 'checkpoint')
      return TopicValidatorResult.Reject
    }
    const v = this.handlers.validate(note, from)
    if (v === 'reject') {
      this.report(from, 'bad-seal', 'checkpoint')
      return TopicValidatorResult.Reject
    }
    return v === 'accept' ? TopicValidatorResult.Accept : TopicValidatorResult.Ignore
  }

  private deliver (m: GossipsubMessage): void {
    const note = this.decode(m.msg.data)
    if (note === undefined) return
    try {
      this.handlers.onCheckpoint(note, m.propagationSource.toString())
    } catch (err) {
      this.logger.debug('dropping checkpoint', { error: errorMessage(err) })
    }
  }
}
