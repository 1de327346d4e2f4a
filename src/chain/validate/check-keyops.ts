import { BlockError, verifyKeyOp, type KeyOpRow } from '../../block/index.js'
import type { KeyOpRecord } from '../../storage/index.js'
import { quorumFor } from '../quorum.js'
import type { KeyState } from '../key-state.js'
import type { Candidate, ParentContext } from './types.js'

/**
 * Key operations: one op per target key; every endorsement by a distinct key that is an active
 * signatory at the parent (so a key added in this block cannot endorse in it) with a valid
 * signature; at least Q endorsements per key; no adding a known key, no re-adding or re-revoking
 * a revoked one, no revoking an unknown one; at least one signatory left. Returns the ops to apply.
 */
export function checkKeyOps (c: Candidate, ctx: ParentContext): KeyOpRecord[] {
  // Most blocks change no key: no grouping, sorting or quorum to work out (replay checks every block).
  if (c.file.keyOps.length === 0) return []
  const h = c.file.header
  const groups = groupByKey(c.file.keyOps)
  const q = quorumFor(ctx.quorumRule, h.height, ctx.keys.activeCount)
  const ops: KeyOpRecord[] = []
  for (const [keyId, rows] of groups) {
    const op = rows[0].op
    const at = { height: h.height, key: keyId }
    if (rows.some(r => r.op !== op)) throw new BlockError('KEYOP_MIXED', `both add and revoke for ${keyId}`, { details: at })
    const signers = new Set<string>()
    for (const r of rows) {
      if (signers.has(r.signer)) throw new BlockError('KEYOP_DUPLICATE_SIGNER', `${r.signer} endorses ${keyId} twice`, { details: { ...at, signer: r.signer } })
      signers.add(r.signer)
      const s = ctx.keys.get(r.signer)
      if (s === undefined) {
        throw new BlockError('KEYOP_SIGNER_NOT_AUTHORISED', `endorsement of ${keyId} by ${r.signer}, which is not a signatory at the parent`, {
          details: { ...at, signer: r.signer }, hint: 'keys added in a block can endorse only from the next block on'
        })
      }
      if (s.revokedAt !== null) throw new BlockError('KEYOP_SIGNER_REVOKED', `endorsement of ${keyId} by ${r.signer}, revoked at height ${s.revokedAt}`, { details: { ...at, signer: r.signer } })
      if (!verifyKeyOp(s.publicKey, ctx.chainId, r, 2)) throw new BlockError('KEYOP_BAD_SIGNATURE', `endorsement of ${keyId} by ${r.signer} does not verify`, { details: { ...at, signer: r.signer } })
    }
    if (signers.size < q) {
      throw new BlockError('KEYOP_QUORUM_NOT_MET', `${op === 'A' ? 'adding' : 'revoking'} ${keyId} needs ${q} endorsements from distinct signatories, has ${signers.size}`, { details: { ...at, quorum: q, have: signers.size } })
    }
    checkTarget(ctx.keys, op, keyId, at)
    ops.push({ keyId, op, pubkey: rows[0].publicKey.hex, signers: [...signers].sort() })
  }
  if (ops.length > 0 && ctx.keys.apply(ops, h.height).activeCount === 0) {
    throw new BlockError('KEYOP_NO_SIGNERS_LEFT', `block ${h.height} would revoke every signatory`, { details: { height: h.height }, hint: 'add a new signatory before revoking the last one' })
  }
  return ops
}

function checkTarget (keys: KeyState, op: 'A' | 'R', keyId: string, at: { height: number, key: string }): void {
  const t = keys.get(keyId)
  if (op === 'A') {
    if (t !== undefined && t.revokedAt !== null) throw new BlockError('KEYOP_KEY_REVOKED', `${keyId} was revoked at height ${t.revokedAt} and cannot be added again`, { details: at, hint: 'generate a new key' })
    if (t !== undefined) throw new BlockError('KEYOP_KEY_EXISTS', `${keyId} is already a signatory`, { details: at })
  } else {
    if (t === undefined) throw new BlockError('KEYOP_KEY_UNKNOWN', `${keyId} is not a signatory and cannot be revoked`, { details: at })
    if (t.revokedAt !== null) throw new BlockError('KEYOP_KEY_REVOKED', `${keyId} is already revoked (height ${t.revokedAt})`, { details: at })
  }
}

/** Rows grouped by target key, in key-id order (deterministic whatever the row order); no group is empty. */
export function groupByKey (rows: readonly KeyOpRow[]): Array<[string, [KeyOpRow, ...KeyOpRow[]]]> {
  const m = new Map<string, [KeyOpRow, ...KeyOpRow[]]>()
  for (const r of rows) {
    const g = m.get(r.keyId)
    if (g === undefined) m.set(r.keyId, [r])
    else g.push(r)
  }
  return [...m.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1))
}
