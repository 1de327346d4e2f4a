import { BlockError } from '../../block/index.js'
import type { Candidate, ParentContext } from './types.js'

/** The creator is a signatory at the parent and not revoked there. */
export function checkSigner (c: Candidate, ctx: ParentContext): void {
  const h = c.file.header
  const s = ctx.keys.get(h.creator)
  if (s === undefined) {
    throw new BlockError('SIGNER_NOT_AUTHORISED', `block ${h.height} is signed by ${h.creator}, which is not a signatory of this chain`, {
      details: { height: h.height, signer: h.creator },
      hint: 'a key becomes a signatory only through a block whose _keys adds it (petal signkey)'
    })
  }
  if (s.revokedAt !== null) {
    throw new BlockError('SIGNER_REVOKED', `block ${h.height} is signed by ${h.creator}, revoked at height ${s.revokedAt}`, { details: { height: h.height, signer: h.creator, revokedAt: s.revokedAt } })
  }
}
