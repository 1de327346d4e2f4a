/**
 * libp2p 3 leaves two timers behind when it stops, and either keeps a process that has nothing
 * else to do alive for up to a second after the stop (docs/performance/reliability.md, "Session 42: the stop
 * of an idle node"): gossipsub's next heartbeat (stop() replaces its status without clearing the
 * timeout held in it; the heartbeat then runs once on a stopped router and schedules no other),
 * and the address manager's debounced update of our own peer record (one second), started by the
 * close of the TCP listener during the stop. Neither does anything a stopped node needs: the
 * heartbeat finds no peers, and the record is in the in-memory peer store that goes with the node.
 * Each is reached only if it has the shape this module expects; after an upgrade of libp2p that no
 * longer fits, the stop is as before, and test/integration/stop-timers.test.ts fails.
 */
import type { PetalLibp2p } from './libp2p.js'

/** Gossipsub's status while it runs: the heartbeat's timeout is kept in it. */
function heartbeatHolder (pubsub: unknown): { heartbeatTimeout?: unknown } | undefined {
  if (typeof pubsub !== 'object' || pubsub === null) return undefined
  const status: unknown = Reflect.get(pubsub, 'status')
  return typeof status === 'object' && status !== null && 'heartbeatTimeout' in status ? status : undefined
}

/** The address manager's debounced update (libp2p's `debounce`, which has `stop()` to cancel it). */
function addressUpdate (node: object): { stop: () => void } | undefined {
  const components: unknown = Reflect.get(node, 'components')
  if (typeof components !== 'object' || components === null) return undefined
  let manager: unknown
  try { manager = Reflect.get(components, 'addressManager') } catch { return undefined }
  if (typeof manager !== 'object' || manager === null) return undefined
  const update: unknown = Reflect.get(manager, '_updatePeerStoreAddresses')
  const stop: unknown = typeof update === 'function' ? Reflect.get(update, 'stop') : undefined
  return typeof stop === 'function' ? { stop: () => { Reflect.apply(stop, update, []) } } : undefined
}

/**
 * Which of the two timers' holders a running node has in the shape this module expects: both,
 * with the libp2p this was written for. test/integration/stop-timers.test.ts checks it, so that an
 * upgrade of libp2p that changes a shape is named there, not only seen as timers left behind (or,
 * if the upgrade also stopped leaving that timer, not seen at all while this code reaches nothing).
 */
export function stopTimersReached (node: PetalLibp2p): { heartbeat: boolean, addressUpdate: boolean } {
  return { heartbeat: heartbeatHolder(node.services.pubsub) !== undefined, addressUpdate: addressUpdate(node) !== undefined }
}

/**
 * Make `node.stop()` also clear the timers libp2p leaves (above), after its own stop has run
 * (a heartbeat under way when the stop began may have set the timeout again meanwhile).
 */
export function clearTimersAtStop (node: PetalLibp2p): void {
  const stop = node.stop.bind(node)
  node.stop = async () => {
    const heartbeat = heartbeatHolder(node.services.pubsub)
    try {
      await stop()
    } finally {
      const timeout = heartbeat?.heartbeatTimeout
      if (timeout !== undefined) clearTimeout(timeout as NodeJS.Timeout)
      addressUpdate(node)?.stop()
    }
  }
}
