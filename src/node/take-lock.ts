import { NodeLock } from '../storage/index.js'
import { processAlive } from '../util/index.js'
import { NodeError } from './errors.js'
import { readNodeState } from './state-file.js'

/**
 * node.lock of `root`, taken for a node's life or a pull's (its sync and its verify), waiting out
 * another command's look at it (NodeLock.LOOK_WAIT_MS); ALREADY_RUNNING when another process keeps it.
 */
export function takeNodeLock (root: string): NodeLock {
  const lock = NodeLock.tryAcquire(root, 'node.lock', NodeLock.LOOK_WAIT_MS)
  if (lock !== undefined) return lock
  // A killed node's file names a dead pid (the holder may be a pull, or a command's look).
  const s = readNodeState(root)
  const live = s !== undefined && processAlive(s.pid) ? s : undefined
  const who = live !== undefined ? `${live.pull === true ? 'a pull' : 'a node'} (pid ${live.pid}) is already running on` : 'another process (a node or a pull) holds node.lock of'
  // Beside a pull nothing may seal (seal, signimportblock, reseal wait for its end).
  const hint = live?.pull === true ? 'wait for the pull to end, or stop it (Ctrl-C; the same `petal pull` resumes it); status and query can run beside it' : 'stop it first; other commands (status, signimportblock, …) can run beside it'
  throw new NodeError('ALREADY_RUNNING', `${who} ${root}`, { hint })
}
