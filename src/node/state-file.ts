import { readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { isNotFound, writeFileAtomic } from '../util/index.js'

/** What a running node publishes about itself for `petal status` and `petal peers` (another process). */
export interface NodeState {
  pid: number
  peer_id: string
  role: 'signatory' | 'follower'
  listen: string[]
  started_at: string
  updated_at: string
  sync: { state: 'idle' | 'syncing', height: number, target?: number }
  peers: Array<{ id: string, addr: string, direction: string, score: number, tip_height?: number, tip_hash?: string }>
  banned: number
}

export function nodeStatePath (dir: string): string { return join(dir, 'node-state.json') }
export function peersFilePath (dir: string): string { return join(dir, 'peers.json') }

export function writeNodeState (dir: string, s: NodeState): void {
  writeFileAtomic(nodeStatePath(dir), JSON.stringify(s, null, 2) + '\n')
}

export function removeNodeState (dir: string): void {
  rmSync(nodeStatePath(dir), { force: true })
}

/** The state of the node running on `dir`, or undefined if none is (a stale file is ignored). */
export function readNodeState (dir: string): NodeState | undefined {
  let s: NodeState
  try {
    s = JSON.parse(readFileSync(nodeStatePath(dir), 'utf8')) as NodeState
  } catch (err) {
    if (isNotFound(err) || err instanceof SyntaxError) return undefined
    throw err
  }
  if (typeof s.pid !== 'number' || !isAlive(s.pid)) return undefined
  return s
}

function isAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** The peers a node remembers (`peers.json`), for `petal peers` when no node runs. */
export function readKnownPeers (dir: string): Array<{ id: string, addrs: string[], lastSeen: number }> {
  try {
    const j = JSON.parse(readFileSync(peersFilePath(dir), 'utf8')) as { peers?: Array<{ id: string, addrs: string[], lastSeen: number }> }
    return Array.isArray(j.peers) ? j.peers : []
  } catch {
    return []
  }
}
