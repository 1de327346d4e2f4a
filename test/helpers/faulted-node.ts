import { join } from 'node:path'
import { faultEnv, type Fault, type FaultSpec } from './fault-shim.js'
import { httpUrlOf, petal, spawnNode, type RunningNode } from './node-process.js'
import { tmpDir } from './tmp.js'

export interface FaultedNode {
  dir: string
  node: RunningNode
  fault: Fault
  /** The node's HTTP base URL, ending in `/`. */
  url: string
  /** A write token. */
  token: string
}

/**
 * A signatory node (`petal run`, HTTP on 127.0.0.1, sealing only when told) under the fault shim
 * with `spec`, over `o.dir` or a fresh chain's directory, with a write token made before it starts.
 */
export async function faultedNode (spec: Omit<FaultSpec, 'dir'>, o: { dir?: string } = {}): Promise<FaultedNode> {
  let dir = o.dir
  if (dir === undefined) {
    dir = join(tmpDir(), 'data')
    const init = await petal(['--dir', dir, 'init'])
    if (init.code !== 0) throw new Error(`petal init: ${init.stderr}`)
  }
  const token = (await petal(['--dir', dir, 'tokens', 'create'])).stdout.trim()
  const fault = faultEnv({ ...spec, dir })
  const node = await spawnNode(['--dir', dir, 'run', '--listen', '/ip4/127.0.0.1/tcp/0', '--no-dht', '--http', '127.0.0.1:0', '--seal-every', '3600'], fault.env)
  try {
    // The URL line may follow the p2p address spawnNode waits for.
    return { dir, node, fault, url: await httpUrlOf(node), token }
  } catch (err) {
    await node.kill9()
    throw err
  }
}

export interface GroupFaultNode extends FaultedNode {
  /** Every append's HTTP status, in the order the bursts ended. */
  statuses: number[]
  /** 16 concurrent one-row JSON appends to table `kept`, of values from, from + 1, …, from + 15. */
  burst: (from: number) => Promise<void>
}

/**
 * A node of a fresh chain whose group commit's deferred fsync of pending.db-wal fails once the
 * fault is armed (armFault, once the store takes appends as concurrent). Only Node's own fsyncs
 * count (the group's deferred one, PendingStore.syncWal), not SQLite's: concurrent appends commit
 * as a group without an fsync, then fsync the -wal on the thread pool (io-faults-commit,
 * io-faults-rewrite).
 */
export async function groupFaultNode (): Promise<GroupFaultNode> {
  const n = await faultedNode({ ops: ['fsync'], nth: 1, match: '/pending.db-wal', caller: 'node', armed: false })
  const statuses: number[] = []
  const post = async (a: number): Promise<number> => (await fetch(n.url + 'api/v1/records/kept', { method: 'POST', headers: { authorization: `Bearer ${n.token}`, 'content-type': 'application/json' }, body: JSON.stringify([{ a }]) })).status
  const burst = async (from: number): Promise<void> => { statuses.push(...await Promise.all(Array.from({ length: 16 }, async (_, i) => await post(from + i)))) }
  return { ...n, statuses, burst }
}
