import { readFileSync } from 'node:fs'
import { isKeyId } from '../crypto/index.js'
import { checkDataFile } from './data-file.js'
import { isRecord, isStringArray, parseJson, replaceFile } from '../util/index.js'

/**
 * `peers.json`, the peers a node has met (docs/data-directory.md): its one reader and one writer,
 * in storage, which owns the data directory's files, for the running node's KnownPeers, `petal
 * peers` and `verify --repair --peer` alike. Until session 52 repair wrote the file with a writer of
 * its own (user52); the one reader was then in network/core, which loaded the network's wire
 * format (a TextDecoder) into every command that reads node-state.json (import-node-calls.test.ts).
 */
export interface RememberedPeer {
  id: string
  addrs: string[]
  lastSeen: number
  /** The signing key its last status proved (a key id), null when it holds none; absent: unknown. */
  signer?: string | null
}

/** Addresses kept a peer (peer-supplied: bounded). */
export const MAX_ADDRS_PER_PEER = 8

/**
 * The well-formed entries of the file (a damaged entry is skipped: the file is ours, but a damaged
 * one must not stop a node or `petal peers`). Throws what reading it throws (ENOENT when there is none).
 */
export function readPeersFile (file: string): RememberedPeer[] {
  checkDataFile(file, 'peers file')
  const j = parseJson(readFileSync(file, 'utf8'))
  const peers = isRecord(j) && Array.isArray(j.peers) ? j.peers : []
  return peers.flatMap((p: unknown): RememberedPeer[] => isRecord(p) && typeof p.id === 'string' && isStringArray(p.addrs) && typeof p.lastSeen === 'number' && Number.isFinite(p.lastSeen)
    ? [{ id: p.id, addrs: p.addrs, lastSeen: p.lastSeen, ...signerOf(p) }]
    : [])
}

/**
 * Write the `max` most recently seen of `peers`. A cache of what the node learns again
 * (replaceFile: no fsync, a power loss may empty it).
 */
export function writePeersFile (file: string, peers: readonly RememberedPeer[], max: number): void {
  const kept = [...peers].sort((a, b) => b.lastSeen - a.lastSeen).slice(0, max)
    .map(({ id, addrs, lastSeen, signer }) => ({ id, addrs, lastSeen, ...(signer === undefined ? {} : { signer }) }))
  replaceFile(file, JSON.stringify({ peers: kept }, null, 2) + '\n')
}

/**
 * Put `addrs` first among the remembered addresses of peer `id`, as a peer met `now`: `verify
 * --repair --peer ADDR` of a node restarted on another port remembers where it answered, so the
 * next repair or run finds it without --peer (user51). Best effort, as the file is: a node running
 * on the directory rewrites it from what it knows.
 */
export function rememberPeerAddrs (file: string, id: string, addrs: readonly string[], max: number, now = Date.now()): void {
  let peers: RememberedPeer[]
  try { peers = readPeersFile(file) } catch { peers = [] }
  const old = peers.find(p => p.id === id)
  const entry = { ...old, id, addrs: [...new Set([...addrs, ...(old?.addrs ?? [])])].slice(0, MAX_ADDRS_PER_PEER), lastSeen: now }
  writePeersFile(file, [entry, ...peers.filter(p => p.id !== id)], max)
}

/** peers.json's `signer` of a peer (since session 50): a key id, null, or absent (unknown). */
export function signerOf (p: Record<string, unknown>): { signer?: string | null } {
  return p.signer === null ? { signer: null } : isKeyId(p.signer) ? { signer: p.signer } : {}
}
