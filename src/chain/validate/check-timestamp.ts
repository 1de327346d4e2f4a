import { BlockError } from '../../block/index.js'
import type { Candidate, ParentContext } from './types.js'

/** Timestamp not before the parent's, and not too far ahead of our clock (when live). */
export function checkTimestamp (c: Candidate, ctx: ParentContext): void {
  const h = c.file.header
  if (h.time < ctx.parent.time) {
    throw new BlockError('TIMESTAMP_BEFORE_PARENT', `block time ${h.timestamp} is before its parent's`, { details: { height: h.height } })
  }
  if (ctx.now !== undefined && h.time > ctx.now + ctx.maxFutureMs) {
    throw new BlockError('TIMESTAMP_IN_FUTURE', `block time ${h.timestamp} is more than ${ctx.maxFutureMs / 1000} s ahead of this node's clock`, {
      hint: 'check the clocks of this node and of the block\'s signer', details: { height: h.height }
    })
  }
}
