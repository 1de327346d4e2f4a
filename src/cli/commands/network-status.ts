import { basename } from 'node:path'
import type { KeyState } from '../../chain/index.js'
import { nodePid, otherNamespace, readNodeState, type LiveNode } from '../../node/state-file.js'
import { hintOf, hintWithDir, isPetalError, isRecord, lockHolders, pidDetails, processStopState, resumeAdvice, unknownNamespace } from '../../util/index.js'
import type { CliContext } from '../context.js'
import { short } from '../output.js'

/** The `status` extension: whether a node runs on this directory, its peers and sync state. */
export function networkStatus (ctx: CliContext, keys: KeyState): { extra: Record<string, unknown>, lines: string[], state?: LiveNode, stopped?: true, unknown?: true } {
  let s: LiveNode | undefined
  try {
    s = readNodeState(ctx.dir)
  } catch (err) {
    const unknown = stateUnknown(err)
    if (unknown === undefined) throw err
    return unknown
  }
  if (s === undefined) return { extra: { node: { running: false } }, lines: [hintWithDir('node        not running (start it with `petal run`)', ctx.opts.dir)] }
  // A node or pull stopped with Ctrl-Z (or held by a debugger) still holds the directory but does
  // nothing: its file's peers and sync state are from before it stopped. Looked at only through a
  // pid that names it here (one in another PID namespace may have none).
  const stopped = s.here === undefined ? undefined : processStopState(s.here)
  const key = signingKey(s, keys)
  const node = { running: true, ...nodeJson(s), ...key?.json }
  const lines = [...nodeLines(s), ...(key === undefined ? [] : [key.line])]
  if (stopped === undefined || s.here === undefined) return { extra: { node }, lines, state: s }
  return {
    state: s,
    stopped: true,
    extra: { node: { ...node, stopped } },
    lines: [...lines, `stopped     ${s.pull === true ? 'the pull' : 'the node'} is stopped and does nothing (peers and sync above are from before): ${resumeAdvice(s.here)}`]
  }
}

/**
 * The node's state when this user may not read node.lock (a `sudo petal run` under umask 077 leaves
 * it root's, 0600): shown as unknown, with why and the lock's fix, and the chain above it still
 * shown. status stopped at the lock's PERMISSION_DENIED (eafdf05e named it; session 55's left).
 * The kernel's lock table, where it lists a holder of node.lock, names it; an empty list does not
 * say that none holds it (another namespace's, a system without /proc/locks), so nothing more is said then.
 */
function stateUnknown (err: unknown): { extra: Record<string, unknown>, lines: string[], unknown: true } | undefined {
  if (!isPetalError(err) || err.code !== 'PERMISSION_DENIED') return undefined
  const path = isRecord(err.details) && typeof err.details.path === 'string' ? err.details.path : undefined
  if (path === undefined || basename(path) !== 'node.lock') return undefined
  const holders = lockHolders(path) ?? []
  const held = holders.length === 0 ? '' : ` (the kernel lists pid ${holders.join(', ')} holding it)`
  const hint = hintOf(err)
  return {
    extra: { node: { running: null, unknown: { code: err.code, message: err.message, ...(hint === undefined ? {} : { hint }), lock_holders: holders } } },
    lines: [`node        unknown: this user may not read ${path}, so whether a node runs here cannot be told${held}${hint === undefined ? '' : `; ${hint}`}`],
    unknown: true
  }
}

/**
 * The key the node seals with and its standing at the tip, as GET /api/v1/status's `node.signing_key`
 * (api54): `my keys` lists the keystore's keys, not which one the node took. Nothing for a pull (it
 * seals nothing) or an older Petal's node (its file does not say).
 */
function signingKey (s: LiveNode, keys: KeyState): { json: { signing_key: Record<string, unknown> | null }, line: string } | undefined {
  const id = s.signing_key
  if (s.pull === true || id === undefined) return undefined
  if (id === null) return { json: { signing_key: null }, line: 'signing key none: the node was started without a key, a follower that seals nothing' }
  const k = keys.get(id)
  const json = { id, active: keys.isActive(id), added_at: k?.addedAt ?? null, revoked_at: k?.revokedAt ?? null }
  const standing = json.active
    ? 'an active signatory at the tip: it seals'
    : `not a signatory at the tip (${k === undefined ? 'no block has added it' : `revoked at height ${k.revokedAt ?? '?'}`}): it seals nothing`
  return { json: { signing_key: json }, line: `signing key ${short(id)}, ${standing}` }
}

/** The file's fields for --json, its pid as it can be used here (pidDetails). */
function nodeJson (s: LiveNode): Record<string, unknown> {
  // state_lock says how readers judge the file, nothing about the node.
  const { state_lock: _lock, ...file } = s
  return pidDetails(file)
}

export function nodeLines (s: Pick<LiveNode, 'pid' | 'pid_ns' | 'here' | 'peer_id' | 'role' | 'pull' | 'verifying' | 'listen' | 'sync' | 'peers' | 'http' | 'witnesses_problem'>): string[] {
  // The tip height comes from the index (printed above); the state file is a few seconds old.
  const sync = s.verifying === true
    ? 'verifying every block (the pull has stopped syncing; it ends after this)'
    : s.sync.state === 'syncing'
    ? `syncing towards height ${s.sync.target ?? '?'}`
    : s.peers.length === 0 ? 'waiting for peers' : 'in sync with its peers'
  return [
    `node        ${nodeSays(s)}, peer id ${s.peer_id}`,
    `peers       ${s.peers.length} connected${s.peers.length > 0 ? ': ' + s.peers.slice(0, 4).map(p => '…' + p.id.slice(-8)).join(', ') + (s.peers.length > 4 ? ', …' : '') : ''}`,
    `sync        ${sync}`,
    ...s.listen.map((a, i) => `${i === 0 ? 'listening   ' : '            '}${a}`),
    ...(s.http === undefined ? [] : [`http        ${s.http}`]),
    // docs/proofs.md, "The witnesses file while a node runs".
    ...(s.witnesses_problem === undefined ? [] : [`witnesses   the witnesses file is not taken, the node keeps the list it read before: ${s.witnesses_problem}`])
  ]
}

/** Who holds the directory: `running (pid N) as ROLE`, `a pull runs here (pid N)`, or from another PID namespace. */
function nodeSays (s: Pick<LiveNode, 'pid' | 'pid_ns' | 'here' | 'role' | 'pull' | 'other_boot'>): string {
  if (otherNamespace(s)) {
    const pid = `pid ${s.pid} there${s.here === undefined ? '' : `, ${s.here} here`}`
    // A writer that could not read its own namespace ("0") may be of this one: nobody can tell.
    // One of another boot (its boot id: another host sharing the disk) is of no namespace here.
    const from = s.other_boot === true ? 'from another host (or before this host\'s last boot)' : unknownNamespace(s.pid_ns) ? 'from a PID namespace it could not read' : 'from another PID namespace'
    return s.pull === true ? `a pull holds this directory ${from} (${pid})` : `a node holds this directory ${from} (${pid}) as ${s.role}`
  }
  return s.pull === true ? `a pull runs here (${nodePid(s)})` : `running (${nodePid(s)}) as ${s.role}`
}
