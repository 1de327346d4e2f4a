import { readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { NodeLock } from '../storage/index.js'
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

/**
 * The state of the node running on `dir`, or undefined if none is. Whether a node runs is decided
 * by its lock (see NodeLock), so a file left by a killed node is ignored.
 */
export function readNodeState (dir: string): NodeState | undefined {
  if (!NodeLock.isHeld(dir)) return undefined
  let s: NodeState
  try {
    s = JSON.parse(readFileSync(nodeStatePath(dir), 'utf8')) as NodeState
  } catch (err) {
    if (isNotFound(err) || err instanceof SyntaxError) return undefined
    throw err
  }
  return typeof s.pid === 'number' ? s : undefined
}

/** The peers a node remembers (`peers.json`), for `petal peers` when no node runs. */
export function readKnownPeers (dir: string): Array<{ id: string, addrs: string[], lastSeen: number }> {
  try {
    const j = JSON.parse(readFileSync(peersFilePath(dir), 'utf8')) as { peers?: unknown }
    if (!Array.isArray(j.peers)) return []
    // Only well-formed entries: the file is ours, but a damaged one must not crash `petal peers`.
    return (j.peers as Array<Record<string, unknown>>).filter(p =>
      typeof p === 'object' && p !== null && typeof p.id === 'string' && Array.isArray(p.addrs) && p.addrs.every(a => typeof a === 'string') &&
      typeof p.lastSeen === 'number' && Number.isFinite(p.lastSeen)) as unknown as Array<{ id: string, addrs: string[], lastSeen: number }>
  } catch {
    return []
  }
}
