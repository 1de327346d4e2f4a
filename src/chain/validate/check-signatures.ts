import { BlockError, verifyPrevious, verifySeal } from '../../block/index.js'
import type { Candidate, ParentContext } from './types.js'

/** The prev-hash signature inside the block and the detached seal, both by the creator. */
export function checkSignatures (c: Candidate, ctx: ParentContext): void {
  const h = c.file.header
  const signer = ctx.keys.get(h.creator)
  if (signer === undefined) throw new BlockError('SIGNER_NOT_AUTHORISED', `unknown signer ${h.creator}`, { details: { height: h.height, signer: h.creator } })
  // A verdict computed in advance counts only if it was computed with this very key.
  const pre = c.verified?.key === signer.publicKey.hex ? c.verified : undefined
  if (!(pre?.prev ?? verifyPrevious(signer.publicKey, h))) {
    throw new BlockError('BAD_PREV_SIGNATURE', `PreviousBlockHashSignature of block ${h.height} does not verify`, { details: { height: h.height } })
  }
  if (!(pre?.seal ?? verifySeal(signer.publicKey, h, c.hash, c.seal))) {
    throw new BlockError('BAD_SEAL', `seal of block ${h.height} does not verify`, { details: { height: h.height, hash: c.hash } })
  }
}
