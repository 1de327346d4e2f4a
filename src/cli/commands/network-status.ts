import { readNodeState, type NodeState } from '../../node/state-file.js'
import { hintWithDir, processStopState, resumeAdvice } from '../../util/index.js'
import type { CliContext } from '../context.js'

/** The `status` extension: whether a node runs on this directory, its peers and sync state. */
export function networkStatus (ctx: CliContext): { extra: Record<string, unknown>, lines: string[] } {
  const s = readNodeState(ctx.dir)
  if (s === undefined) return { extra: { node: { running: false } }, lines: [hintWithDir('node        not running (start it with `petal run`)', ctx.opts.dir)] }
  // A node or pull stopped with Ctrl-Z (or held by a debugger) still holds the directory but does
  // nothing: its file's peers and sync state are from before it stopped.
  const stopped = processStopState(s.pid)
  if (stopped === undefined) return { extra: { node: { running: true, ...s } }, lines: nodeLines(s) }
  return {
    extra: { node: { running: true, ...s, stopped } },
    lines: [...nodeLines(s), `stopped     ${s.pull === true ? 'the pull' : 'the node'} is stopped and does nothing (peers and sync above are from before): ${resumeAdvice(s.pid)}`]
  }
}

export function nodeLines (s: Pick<NodeState, 'pid' | 'peer_id' | 'role' | 'pull' | 'verifying' | 'listen' | 'sync' | 'peers' | 'http'>): string[] {
  // The tip height comes from the index (printed above); the state file is a few seconds old.
  const sync = s.verifying === true
    ? 'verifying every block (the pull has stopped syncing; it ends after this)'
    : s.sync.state === 'syncing'
    ? `syncing towards height ${s.sync.target ?? '?'}`
    : s.peers.length === 0 ? 'waiting for peers' : 'in sync with its peers'
  return [
    `node        ${s.pull === true ? `a pull runs here (pid ${s.pid})` : `running (pid ${s.pid}) as ${s.role}`}, peer id ${s.peer_id}`,
    `peers       ${s.peers.length} connected${s.peers.length > 0 ? ': ' + s.peers.slice(0, 4).map(p => '…' + p.id.slice(-8)).join(', ') + (s.peers.length > 4 ? ', …' : '') : ''}`,
    `sync        ${sync}`,
    ...s.listen.map((a, i) => `${i === 0 ? 'listening   ' : '            '}${a}`),
    ...(s.http === undefined ? [] : [`http        ${s.http}`])
  ]
}
