import { readFileSync, rmSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { checkDataFile, NodeLock, readPeersFile, type RememberedPeer } from '../storage/index.js'
import { bootId, findInNamespace, isNotFound, otherBoot, UNKNOWN_NAMESPACE, isRecord, isStringArray, lockHolders, namedPid, nameNamespace, readLockTable, type LockTable, parseJson, processAlive, processStopped, removeStaleTemps, resumeAdvice, sameNamespace, sleep, replaceFile, unknownNamespace } from '../util/index.js'
import { NodeError } from './errors.js'
// Past network's index: its libp2p-free part, as `petal status` and `petal peers` read this file without loading libp2p.
import type { SealPolicy } from '../ingest/index.js'

/** What a running node publishes about itself for `petal status` and `petal peers` (another process). */
export interface NodeState {
  /** The writer's pid in its own PID namespace (`pid_ns`): it names the process only there. */
  pid: number
  /**
   * The writer's PID namespace (pidNamespace: the inode of /proc/self/ns/pid, in decimal; "0",
   * UNKNOWN_NAMESPACE, where the writer could not read its own, since session 47; absent in an
   * older Petal's file). writeNodeState adds it.
   */
  pid_ns?: string
  /**
   * The writer's kernel boot id (bootId, since session 55). A file read on another host (a data
   * directory on NFS) or after a reboot has another: its pid and namespace name no process here
   * (every host's initial namespace has the same number), and the reader judges it by the locks
   * alone, as one of a namespace it cannot read (parseNodeState makes its pid_ns UNKNOWN_NAMESPACE).
   */
  boot_id?: string
  /** Set by parseNodeState when `boot_id` is another host's or boot's. */
  other_boot?: true
  /**
   * The writer holds node-state.lock for as long as this file is its (since session 44): a reader
   * that cannot see the holder of node.lock (another PID namespace) looks at that lock instead.
   */
  state_lock?: true
  peer_id: string
  role: 'signatory' | 'follower'
  /** The key id the node seals with, null when it was started without one (since session 54; absent in an older Petal's file). */
  signing_key?: string | null
  /** Written by a pull's sync (`petal pull`): it seals nothing, and holds node.lock until its verify ends. */
  pull?: true
  /** A pull's final verify runs (its node has stopped: no peers, no sync until the pull ends). */
  verifying?: true
  listen: string[]
  /** The HTTP API's URL, when it is served. */
  http?: string
  started_at: string
  updated_at: string
  sync: { state: 'idle' | 'syncing', height: number, target?: number }
  peers: Array<{ id: string, addr: string, direction: string, score: number, tip_height?: number, tip_hash?: string }>
  banned: number
  /** The seal loop's policy, while the node seals pending rows (a signatory; since session 48): `petal status` says when the next seal is due. */
  seal?: { every_ms: number, rows?: number, bytes?: number }
  /**
   * Why the node does not take its data directory's `witnesses` file as it is now, keeping the list
   * it read before (docs/proofs.md, "The witnesses file while a node runs"; since session 51).
   */
  witnesses_problem?: string
}

/** NodeState's `seal` of a policy (none when the node does not seal). */
export function sealState (p: SealPolicy | undefined): Pick<NodeState, 'seal'> {
  return p === undefined ? {} : { seal: { every_ms: p.everyMs, ...(p.rows === undefined ? {} : { rows: p.rows }), ...(p.bytes === undefined ? {} : { bytes: p.bytes }) } }
}

/** The policy of NodeState's `seal`. */
export function sealPolicyOf (s: Pick<NodeState, 'seal'>): SealPolicy | undefined {
  return s.seal === undefined ? undefined : { everyMs: s.seal.every_ms, rows: s.seal.rows, bytes: s.seal.bytes }
}

export function nodeStatePath (dir: string): string { return join(dir, 'node-state.json') }
export function peersFilePath (dir: string): string { return join(dir, 'peers.json') }

/**
 * Replaced by a rename, never fsynced (replaceFile): the file describes a live process, which a
 * crash ends, and readers believe it only while its writer holds node.lock. The running node
 * rewrites it every few seconds; its two fsyncs (the file's, the directory's) were journal commits
 * beside the blocks' own, and a failed one was a disk fault reported for a file nobody needs.
 */
export async function writeNodeState (dir: string, s: NodeState): Promise<void> {
  // Always a namespace, "0" where this process cannot read its own: a file without one is taken by
  // every reader as one of its own namespace's (an older Petal's), whatever namespace it is in.
  const ns = nameNamespace()
  const { pid, ...rest } = s
  const removed = removals.get(resolve(dir)) ?? 0
  const lock = await holdStateLock(dir) ? { state_lock: true as const } : {}
  // The take may have waited: a removal meanwhile (the writer's stop) is not undone by this write.
  if ((removals.get(resolve(dir)) ?? 0) !== removed) return
  const boot = bootId()
  replaceFile(nodeStatePath(dir), JSON.stringify({ pid, pid_ns: ns, ...(boot === '' ? {} : { boot_id: boot }), ...lock, ...rest }, null, 2) + '\n')
}

/**
 * node-state.lock, held by the writer of node-state.json from its first write until it removes
 * the file (removeNodeState), and by no other process but a reader's look for an instant. A reader
 * in a PID namespace that sees neither the writer nor node.lock's holder (sibling containers) knew
 * only that node.lock was held: by the writer, or, after the writer was killed, by any other
 * process of an unseen namespace (a starting node, another command's look, one of them stopped),
 * and took a killed node's file for a running node's as long as that one held node.lock.
 */
const STATE_LOCK = 'node-state.lock'
const stateLocks = new Map<string, NodeLock>()
// A take under way, per directory (writes that overlap share it), and each directory's count of
// removeNodeState calls: a take that ends after one lets the lock go again.
const taking = new Map<string, { gen: number, promise: Promise<boolean> }>()
const removals = new Map<string, number>()

/**
 * Whether this process holds node-state.lock of `dir` (taken now if not yet). A look at it is
 * waited out for up to LOOK_WAIT_MS at each write that finds it held, by polling between tries
 * that do not wait: SQLite's busy wait (busy_timeout) sleeps on the calling thread, and a node
 * whose write met a look that lasted (a `status` stopped in its instant) stalled its gossip, sync
 * and HTTP for a second at every write until it had the lock.
 */
async function holdStateLock (dir: string): Promise<boolean> {
  const key = resolve(dir)
  if (stateLocks.has(key)) return true
  // A take begun before the file's last removal ends in false: a write after it takes anew.
  const gen = removals.get(key) ?? 0
  let take = taking.get(key)
  if (take === undefined || take.gen !== gen) {
    const promise = takeStateLock(key).finally(() => { if (taking.get(key)?.promise === promise) taking.delete(key) })
    take = { gen, promise }
    taking.set(key, take)
  }
  return await take.promise
}

async function takeStateLock (key: string): Promise<boolean> {
  const removed = removals.get(key) ?? 0
  const until = Date.now() + NodeLock.LOOK_WAIT_MS
  for (let delay = 5; ; delay = Math.min(delay * 2, 100)) {
    let lock: NodeLock | undefined
    try {
      lock = NodeLock.tryAcquire(key, STATE_LOCK)
    } catch {
      return false // the file without the field: judged as before session 44
    }
    if (lock !== undefined) {
      if ((removals.get(key) ?? 0) !== removed) { lock.release(); return false }
      stateLocks.set(key, lock)
      return true
    }
    if (Date.now() >= until) return false
    await sleep(delay)
  }
}

/**
 * The state of a node that holds a data directory, as another process judges it (readNodeState).
 * `here` is its pid as this process (and its /proc) names it: `pid` itself in the same PID
 * namespace; in another, the pid the kernel lists as node.lock's holder here when that is the
 * writer (its namespace lies within this one's), else undefined: no pid here names it.
 */
export interface LiveNode extends NodeState { here?: number }

/** Whether the node runs in another PID namespace than this process (its `pid` is not one of ours). */
export function otherNamespace (s: Pick<NodeState, 'pid_ns'>): boolean { return !sameNamespace(s.pid_ns) }

/** `pid 4242`, or `pid 7 in another PID namespace[, 31337 here]`: its pid as it can be used here. */
export function nodePid (s: Pick<LiveNode, 'pid' | 'pid_ns' | 'here' | 'other_boot'>): string {
  return s.other_boot === true ? `pid ${s.pid} on another host (or before this host's last boot)` : namedPid(s.pid, s.pid_ns, s.here)
}

/**
 * Delete the temporary files that crashed atomic writes left in the data directory and in `others`
 * (its keystore and API directories; docs/data-directory.md). Called by a node that has just taken node.lock:
 * node-state.json and peers.json have no other writer and it has not written them yet, so all of
 * theirs go; the others (keys, tokens, the journal, chainparams.json…) only when their writer's
 * process is gone, as a command may be writing one beside the node.
 */
export function removeStaleTempFiles (root: string, others: readonly string[]): void {
  removeStaleTemps(root, new Set(['node-state.json', 'peers.json']))
  for (const dir of others) removeStaleTemps(dir)
}

/**
 * node-state.json of a pull outside its sync node's life: as soon as it holds node.lock (before its
 * node starts and writes its own), and for its final verify (the node has stopped; its last file
 * would say it syncs, with the peers it had). `petal status`/`peers` say what the pull does, and
 * seal, signimportblock and reseal are refused beside it (refuseBesidePull) in both.
 */
export async function writePullState (dir: string, o: { peerId: string, startedAt: Date, height: number, stage: 'sync' | 'verify' }): Promise<void> {
  const now = new Date().toISOString()
  await writeNodeState(dir, {
    pid: process.pid,
    peer_id: o.peerId,
    role: 'follower',
    pull: true,
    ...(o.stage === 'verify' ? { verifying: true as const } : {}),
    listen: [],
    started_at: o.startedAt.toISOString(),
    updated_at: now,
    sync: o.stage === 'verify' ? { state: 'idle', height: o.height } : { state: 'syncing', height: o.height },
    peers: [],
    banned: 0
  })
}

export function removeNodeState (dir: string): void {
  const key = resolve(dir)
  rmSync(nodeStatePath(dir), { force: true })
  removals.set(key, (removals.get(key) ?? 0) + 1)
  stateLocks.get(key)?.release()
  stateLocks.delete(key)
}

/**
 * The state of the node running on `dir`, or undefined if none is. Whether a node runs is decided
 * by its lock (see NodeLock) and the writer of its file holding it (holderState), so a file left by
 * a killed node is ignored, also while another command's look holds the lock or its pid has been reused.
 */
export function readNodeState (dir: string): LiveNode | undefined {
  return NodeLock.isHeld(dir) ? holderState(dir) : undefined
}

/**
 * node-state.json while node.lock is held, if its writer is the holder. The lock may be another
 * command's look at it (or a node in its start) beside a killed node's file: a dead pid is no
 * running node (status said "running" for it), nor a live one the kernel does not list as a
 * holder (/proc/locks, Linux; none listed: it let go since): the dead one's pid reused.
 * A writer in another PID namespace (a node in another container on the same volume) is judged
 * by the lock alone, its pid meaning nothing here: it is the holder when /proc/locks lists it
 * (found by its namespace and its pid there), or when it lists no holder and no process of that
 * namespace is visible from here (a sibling container's locks are not listed: what is known is
 * that node.lock is held and the file names that node). It is not when the holder listed here is
 * another process, nor when its namespace is visible and it holds nothing (dead). In both former
 * cases a writer that says it holds node-state.lock must hold it (session 44), and so must one of
 * this namespace that is node.lock's holder (session 45): the killed node's pid may be the next
 * holder's (pids are reused, and a container's are small). A writer that could not read its own
 * namespace ("0", since session 47) cannot be recognised among the holders, nor its pid tested
 * anywhere: it is judged by the locks alone, node.lock held and node-state.lock held (by anyone).
 */
function holderState (dir: string, looks = 3): LiveNode | undefined {
  const text = readStateText(dir)
  const s = parseStateText(text)
  if (s === undefined) return undefined
  // One read of /proc/locks for both locks (node-state.lock's below): one instant for both.
  const locks = readLockTable()
  const holders = lockHolders(join(dir, 'node.lock'), locks)
  let here: number | undefined
  if (!otherNamespace(s)) {
    if (!processAlive(s.pid)) return undefined
    if (holders !== undefined && holders.length > 0 && !holders.includes(s.pid)) return undefined
    here = s.pid
  } else if (holders !== undefined && !unknownNamespace(s.pid_ns)) {
    const found = findInNamespace(s.pid_ns ?? '', s.pid, holders.length > 0 ? { candidates: holders } : {})
    if (found.here === undefined && (holders.length > 0 || found.visible)) return undefined
    here = found.here
  }
  // The writer is the holder by its pid (here), or neither it nor the holder can be seen from
  // here. Either may be another process: a pid is reused, a namespace's number too once it is
  // gone, and the first process of each container is pid 1 there. A writer that holds
  // node-state.lock (state_lock) is alive; a killed one's is free, whoever holds node.lock now.
  // The file is read again after a look: a node that started meanwhile has replaced it.
  if (s.state_lock === true) {
    if (!holdsStateLock(dir, here, locks)) return undefined
    if (readStateText(dir) !== text && looks > 1) return holderState(dir, looks - 1)
  }
  return here === undefined ? s : { ...s, here }
}

/**
 * Whether node-state.lock is held: by process `here` where /proc/locks lists holders of it (the
 * locks of a process seen from here are listed), else by anyone (a look at it, for an instant;
 * also where none is listed, as where /proc/locks names the file otherwise: an overlay).
 */
function holdsStateLock (dir: string, here: number | undefined, locks: LockTable): boolean {
  const holders = here === undefined ? undefined : lockHolders(join(dir, STATE_LOCK), locks)
  return holders === undefined || holders.length === 0 || here === undefined ? NodeLock.isHeld(dir, STATE_LOCK) : holders.includes(here)
}

/** node-state.json's text as it is, whoever wrote it (undefined when absent). */
function readStateText (dir: string): string | undefined {
  try {
    checkDataFile(nodeStatePath(dir), 'node state file')
    return readFileSync(nodeStatePath(dir), 'utf8')
  } catch (err) {
    if (isNotFound(err)) return undefined
    throw err
  }
}

/** The text of node-state.json as one (undefined when absent or not one). */
function parseStateText (text: string | undefined): NodeState | undefined {
  if (text === undefined) return undefined
  try {
    return parseNodeState(parseJson(text))
  } catch (err) {
    if (err instanceof SyntaxError) return undefined
    throw err
  }
}

/**
 * The role of the node running on `dir`: undefined when none runs (node.lock is free), 'pull' when
 * a pull holds node.lock (it seals nothing, whatever its key), 'unknown'
 * when node.lock stays held for `waitMs` with no node-state.json of a live process. A node takes
 * its lock, deletes the file a killed node left, then starts its network and writes its own
 * before its start returns, so right after a node was started the file may not be there yet: that
 * is not a follower. (Another command's look at the lock, as isHeld does, also holds it for an
 * instant, and no file says anything then.)
 */
export async function runningNodeRole (dir: string, o: { waitMs: number, intervalMs?: number, signal?: AbortSignal }): Promise<NodeState['role'] | 'pull' | 'unknown' | undefined> {
  const until = Date.now() + o.waitMs
  for (;;) {
    if (!NodeLock.isHeld(dir)) return undefined
    const s = holderState(dir)
    if (s !== undefined) return s.pull === true ? 'pull' : s.role
    if (Date.now() >= until) return 'unknown'
    await sleep(o.intervalMs ?? 50, o.signal)
  }
}

/**
 * ALREADY_RUNNING when a pull holds `dir` now (node-state.json of a live pull): a block written
 * then would follow a tip the pull is about to pass, and its own sync would orphan it. `command`
 * names what to run again once the pull has ended.
 */
export function refuseBesidePull (dir: string, command: string): void {
  const s = readNodeState(dir)
  if (s?.pull !== true) return
  // A pull stopped (Ctrl-Z) never ends by waiting; one of another namespace is looked at only where it has a pid here.
  const resume = s.here !== undefined && processStopped(s.here) ? `it is stopped: ${resumeAdvice(s.here)}; ` : ''
  throw new NodeError('ALREADY_RUNNING', `a pull (${nodePid(s)}${resume === '' ? '' : ', stopped'}) holds ${dir}: a block sealed now would follow a tip the pull is about to pass`, { hint: `${resume}wait for the pull to end (after its verify), then run \`${command}\` again` })
}

/** A node-state.json document, or undefined when it is not one (a damaged file is ignored). */
function parseNodeState (s: unknown): NodeState | undefined {
  if (!isRecord(s) || typeof s.pid !== 'number' || typeof s.peer_id !== 'string' || (s.role !== 'signatory' && s.role !== 'follower') ||
    !isStringArray(s.listen) || typeof s.started_at !== 'string' || typeof s.updated_at !== 'string' || typeof s.banned !== 'number' ||
    !isRecord(s.sync) || !Array.isArray(s.peers)) return undefined
  const { state, height, target } = s.sync
  if ((state !== 'idle' && state !== 'syncing') || typeof height !== 'number' || (target !== undefined && typeof target !== 'number')) return undefined
  const peers = s.peers.flatMap((p: unknown): NodeState['peers'] => isRecord(p) && typeof p.id === 'string' && typeof p.addr === 'string' &&
    typeof p.direction === 'string' && typeof p.score === 'number'
    ? [{ id: p.id, addr: p.addr, direction: p.direction, score: p.score, tip_height: typeof p.tip_height === 'number' ? p.tip_height : undefined, tip_hash: typeof p.tip_hash === 'string' ? p.tip_hash : undefined }]
    : [])
  const http = typeof s.http === 'string' ? s.http : undefined
  // Written on another host or boot: its namespace's number may be this host's, its pid anyone's here.
  const elsewhere = typeof s.boot_id === 'string' && otherBoot(s.boot_id)
  const ns = elsewhere ? { pid_ns: UNKNOWN_NAMESPACE, boot_id: s.boot_id as string, other_boot: true as const } : typeof s.pid_ns === 'string' && /^[0-9]+$/.test(s.pid_ns) ? { pid_ns: s.pid_ns, ...(typeof s.boot_id === 'string' ? { boot_id: s.boot_id } : {}) } : {}
  const seal = isRecord(s.seal) && typeof s.seal.every_ms === 'number' ? sealState({ everyMs: s.seal.every_ms, rows: typeof s.seal.rows === 'number' ? s.seal.rows : undefined, bytes: typeof s.seal.bytes === 'number' ? s.seal.bytes : undefined }) : {}
  return { pid: s.pid, ...ns, ...(s.state_lock === true ? { state_lock: true as const } : {}), peer_id: s.peer_id, role: s.role, ...(s.signing_key === null || typeof s.signing_key === 'string' ? { signing_key: s.signing_key } : {}), ...(s.pull === true ? { pull: true as const } : {}), ...(s.verifying === true ? { verifying: true as const } : {}), listen: s.listen, http, started_at: s.started_at, updated_at: s.updated_at, sync: { state, height, target }, peers, banned: s.banned, ...seal, ...(typeof s.witnesses_problem === 'string' ? { witnesses_problem: s.witnesses_problem } : {}) }
}

/** The peers a node remembers (`peers.json`), for `petal peers` when no node runs (none when it cannot be read). */
export function readKnownPeers (dir: string): RememberedPeer[] {
  try {
    return readPeersFile(peersFilePath(dir))
  } catch {
    return []
  }
}
