import { BlockError } from '../../block/index.js'
import type { Candidate, ParentContext } from './types.js'

/** The block names its parent, sits one above it, and belongs to this chain (v2 only). */
export function checkLink (c: Candidate, ctx: ParentContext): void {
  const h = c.file.header
  if (h.version !== 2) {
    throw new BlockError('UNSUPPORTED_VERSION', `block version ${h.version} cannot extend a v2 chain`, { hint: 'v1 (Daisy) blocks can be read and verified, not imported into a v2 chain' })
  }
  if (h.previousHash !== ctx.parent.hash) throw new BlockError('PARENT_UNKNOWN', `block's parent ${h.previousHash} is not ${ctx.parent.hash}`, { details: { height: h.height, parent: h.previousHash } })
  if (h.height !== ctx.parent.height + 1) {
    throw new BlockError('HEIGHT_MISMATCH', `block says height ${h.height}, its parent is at ${ctx.parent.height}`, { details: { height: h.height, parentHeight: ctx.parent.height } })
  }
  if (h.chainId !== ctx.chainId) {
    throw new BlockError('CHAIN_ID_MISMATCH', `block belongs to chain ${h.chainId}, not ${ctx.chainId}`, { hint: 'the block was made for another chain: it cannot join this one', details: { chainId: h.chainId } })
  }
}
