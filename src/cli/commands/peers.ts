import type { Command } from 'commander'
import { nodePid, readKnownPeers, readNodeState } from '../../node/state-file.js'
import type { KeyState } from '../../chain/index.js'
import { isPetalError, processStopState, resumeAdvice } from '../../util/index.js'
import type { CliContext } from '../context.js'
import { short, table } from '../output.js'
import type { Action } from '../program.js'

/**
 * The signatories at the tip, to tell a peer's key revoked since its status proved it (api54: the
 * SIGNER column showed it as a signatory's). The chain is opened for reading, as `status` does: no
 * network code. Undefined when it cannot be read (the column then says what the peer proved).
 */
function keysAtTip (ctx: CliContext): KeyState | undefined {
  try {
    const chain = ctx.openChain({ forReading: true })
    return chain.keysAt(chain.tip())
  } catch (err) {
    if (!isPetalError(err)) throw err
    return undefined
  }
}

export function register (program: Command, action: Action): void {
  program.command('peers').description('list the peers of the node running on this data directory (or the remembered ones when none runs)')
    .action(action(async ctx => {
      const s = readNodeState(ctx.dir)
      // The signing key each peer's status proved (peers.json, which a running node keeps): which
      // peers are a signatory's node, that take writes (user52; the HTTP API's GET /signers says so too).
      const known = readKnownPeers(ctx.dir)
      const keys = known.some(p => typeof p.signer === 'string') ? keysAtTip(ctx) : undefined
      // signer_revoked_at: the height that revoked the key the peer proved, when one has (at the tip).
      const signer = (id: string): { signer?: string | null, signer_revoked_at?: number } => {
        const k = known.find(p => p.id === id)
        if (k === undefined || k.signer === undefined) return {}
        const revokedAt = k.signer === null ? null : keys?.get(k.signer)?.revokedAt ?? null
        return { signer: k.signer, ...(revokedAt === null ? {} : { signer_revoked_at: revokedAt }) }
      }
      const signerWord = (id: string): string => {
        const k = signer(id)
        return k.signer === undefined ? '?' : k.signer === null ? 'none' : `${short(k.signer)}${k.signer_revoked_at === undefined ? '' : ` (revoked at ${k.signer_revoked_at})`}`
      }
      if (s === undefined) {
        ctx.out.result({ running: false, known: known.map(p => ({ id: p.id, addrs: p.addrs, last_seen: new Date(p.lastSeen).toISOString(), ...signer(p.id) })) }, () => known.length === 0
          ? 'no node is running here, and no peers are remembered yet'
          : 'no node is running here; remembered peers (re-dialled at start):\n' + table([
            ['PEER', 'SIGNER', 'LAST SEEN', 'ADDRESSES'],
            ...known.map(p => [p.id, signerWord(p.id), new Date(p.lastSeen).toISOString().replace('T', ' ').slice(0, 19), p.addrs.join(' ')])
          ]))
        return
      }
      // Stopped (Ctrl-Z, a debugger), it does nothing: the peers its file lists are from before.
      // Looked at only through a pid that names it here (one in another PID namespace may have none).
      const here = s.here
      const stopped = here === undefined ? undefined : processStopState(here)
      const note = stopped === undefined || here === undefined ? '' : `${s.pull === true ? 'the pull' : 'the node'} (${nodePid(s)}) is stopped and does nothing; the peers below are from before it stopped: ${resumeAdvice(here)}\n`
      ctx.out.result({ running: true, peer_id: s.peer_id, ...(stopped === undefined ? {} : { stopped }), ...(s.verifying === true ? { verifying: true } : {}), peers: s.peers.map(p => ({ ...p, ...signer(p.id) })), banned: s.banned }, () => note + (s.verifying === true
        ? `a pull (${nodePid(s)}) is verifying every block here: it has stopped syncing and has no peers`
        : s.peers.length === 0
        ? `node ${s.peer_id} has no peers${s.banned > 0 ? ` (${s.banned} banned)` : ''}`
        : table([
          ['PEER', 'SIGNER', 'DIRECTION', 'TIP', 'SCORE', 'ADDRESS'],
          ...s.peers.map(p => [p.id, signerWord(p.id), p.direction, p.tip_height === undefined ? '?' : String(p.tip_height), String(p.score), p.addr])
        ]) + (s.banned > 0 ? `\n(${s.banned} banned)` : '')))
    }))
}
