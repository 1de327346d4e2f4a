import type { Chain } from '../chain/index.js'
import { readKnownPeers, readNodeState } from '../node/state-file.js'
import type { CheckpointAudience } from '../proof/index.js'
import type { CliContext } from './context.js'

/**
 * Who asks this data directory for a proof, for PROOF_NO_CHECKPOINT's hint (proof/no-checkpoint.ts):
 * a signatory when the keystore holds a signing key (the one --key names, if given) active at the
 * tip; else a follower when a node (not a pull) runs on the directory; else a reader, told the
 * address of the peer the directory last met (peers.json) and how far the checkpoints it sent
 * reach, or of a bootstrap peer. A Daisy directory (`serve` of one) is none of these: no checkpoint
 * of it exists anywhere.
 */
export function checkpointAudience (ctx: CliContext, chain: Chain): CheckpointAudience {
  if (ctx.daisy !== undefined) return { kind: 'daisy', dir: ctx.daisy.dir }
  let keys: Array<{ id: string, isDefault: boolean }> = []
  try {
    const all = ctx.keystore().list().filter(k => k.purpose === 'sign')
    // Without a `default` file, the oldest key signs by default (Keystore.load).
    const dflt = all.find(k => k.isDefault)?.id ?? all[0]?.id
    keys = all.filter(k => ctx.opts.key === undefined || k.id.slice(2).startsWith(ctx.opts.key.replace(/^1:/, ''))).map(k => ({ id: k.id, isDefault: k.id === dflt }))
  } catch {} // a damaged keystore: its own commands say so
  const active = chain.keysAt(chain.tip())
  const key = keys.find(k => active.isActive(k.id))
  if (key !== undefined) {
    // A key signs no tree older than itself (docs/proofs.md, "Which signatories vouch for a checkpoint").
    // A genesis key is as old as any tree: before tip D no final tree exists for anyone.
    const addedAt = active.get(key.id)?.addedAt ?? 0
    const finalFrom = addedAt + chain.params.maxReorgDepth
    return { kind: 'signatory', key: key.id, isDefault: key.isDefault && ctx.opts.key === undefined, ...(addedAt > 0 && chain.tip().height < finalFrom ? { finalFrom } : {}) }
  }
  const root = chain.dir.root
  const node = readNodeState(root)
  if (node !== undefined && node.pull !== true) return { kind: 'follower' }
  const met = readKnownPeers(root).sort((a, b) => b.lastSeen - a.lastSeen).find(p => p.addrs.length > 0)
  if (met === undefined) return { kind: 'reader', pullFrom: chain.params.bootstrapPeers[0] }
  const sentUpTo = chain.index.checkpoints.sentUpTo(`peer ${met.id}`)
  // What its status proved of its key (since session 50; absent from an older peer: unknown). A key
  // no longer active here (revoked since, or added on a branch this directory left) leaves it
  // unknown, not "no signatory's node": the peer may hold another key now (review51).
  const signs = met.signer === null ? false : met.signer !== undefined && active.isActive(met.signer) ? true : undefined
  return { kind: 'reader', pullFrom: met.addrs[0], ...(sentUpTo === undefined ? {} : { sentUpTo }), ...(signs === undefined ? {} : { signs }) }
}
