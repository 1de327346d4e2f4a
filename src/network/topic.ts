import type { GossipsubMessage, Message, TopicValidatorResult } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'
import type { PetalLibp2p } from './libp2p.js'

/**
 * Join a gossipsub topic: its validator, a listener for its delivered messages, the subscription.
 * Returns the function that leaves it again (safe to call when libp2p has already stopped).
 */
export function joinTopic (
  node: PetalLibp2p,
  topic: string,
  validate: (peer: PeerId, msg: Message) => TopicValidatorResult,
  deliver: (m: GossipsubMessage) => void
): () => void {
  const pubsub = node.services.pubsub
  const onMessage = (evt: CustomEvent<GossipsubMessage>): void => { if (evt.detail.msg.topic === topic) deliver(evt.detail) }
  pubsub.topicValidators.set(topic, validate)
  pubsub.addEventListener('gossipsub:message', onMessage)
  pubsub.subscribe(topic)
  return () => {
    pubsub.removeEventListener('gossipsub:message', onMessage)
    pubsub.topicValidators.delete(topic)
    try { pubsub.unsubscribe(topic) } catch {}
  }
}
