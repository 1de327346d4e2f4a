import type { KeyOpRecord } from '../../storage/index.js'
import { checkKeyOps } from './check-keyops.js'
import { checkLink } from './check-link.js'
import { checkSignatures } from './check-signatures.js'
import { checkSigner } from './check-signer.js'
import { checkTimestamp } from './check-timestamp.js'
import type { Candidate, ParentContext } from './types.js'

export type { Candidate, CandidateFile, ParentContext } from './types.js'
export { checkExpectedHash, loadCandidate, LOAD_PASSES, type LoadOptions } from './load-candidate.js'
export { preverify } from './preverify.js'
export type { Preverified, SealVerdict } from './types.js'
export { checkGenesis } from './check-genesis.js'

/**
 * The contextual steps, cheapest first, each throwing a coded BlockError: link (parent, height,
 * chain id), timestamp, signer authorised and unrevoked at the parent, prev-hash signature and
 * seal, key operations. Pure: reads only the candidate and the parent context.
 */
export function validateOnParent (c: Candidate, ctx: ParentContext): KeyOpRecord[] {
  checkLink(c, ctx)
  checkTimestamp(c, ctx)
  checkSigner(c, ctx)
  checkSignatures(c, ctx)
  return checkKeyOps(c, ctx)
}
